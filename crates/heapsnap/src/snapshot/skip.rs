//! Skips one JSON value of any shape without building it, optionally keeping its bytes, and
//! checks it against JSON's grammar on the way (numbers, literals, string escapes, no raw
//! control characters), so that what is read as JSON is JSON.
//!
//! Used for the sections heapdiff does not need (`trace_tree`, `samples`, `locations`, unknown
//! keys) and to capture the small `snapshot` header for serde_json. Nesting is tracked with a
//! bit stack so that `{` must close with `}` and `[` with `]`, at one bit per level.

use super::classify::BLOCK;
use super::digits::integer_run;
use super::error::{show_byte, ParseError};
use super::strings::StringBody;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Where a value must start: the whole value, after `:`, or after `,` in an array.
    Value,
    /// After `[`: a value or `]`.
    ValueOrClose,
    /// After `{`: a key or `}`.
    KeyOrClose,
    /// After `,` in an object.
    Key,
    /// After a key.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    AfterValue,
    InString {
        key: bool,
        body: StringBody,
    },
    Number(Num),
    /// Inside `true`, `false` or `null`: the bytes still to match.
    Literal(&'static [u8]),
    Done,
}

/// Positions in JSON's number grammar, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

impl Num {
    /// Whether the number may end here.
    fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::Exp)
    }

    fn expected(self) -> &'static str {
        match self {
            Num::Zero => "no digit after a leading `0` (JSON numbers have no leading zeros)",
            Num::Minus | Num::Dot | Num::E | Num::ESign => "a digit",
            Num::Int | Num::Frac | Num::Exp => "the rest of a number",
        }
    }
}

/// A strict JSON validator that keeps nothing but a bit per open container.
#[derive(Debug)]
pub(crate) struct ValueSkipper {
    state: State,
    /// One bit per open container: 1 = object, 0 = array.
    stack: Vec<u64>,
    depth: usize,
    capture: Option<Vec<u8>>,
    capture_limit: usize,
    what: String,
}

impl ValueSkipper {
    /// `what` names the section for error messages, e.g. "`trace_tree`".
    pub(crate) fn new(what: String) -> Self {
        ValueSkipper {
            state: State::Value,
            stack: Vec::new(),
            depth: 0,
            capture: None,
            capture_limit: 0,
            what,
        }
    }

    /// Like `new`, but also keeps the value's bytes, failing past `limit` bytes so that a
    /// corrupt header cannot make us buffer the whole document.
    pub(crate) fn capturing(what: String, limit: usize) -> Self {
        let mut s = Self::new(what);
        s.capture = Some(Vec::new());
        s.capture_limit = limit;
        s
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub(crate) fn take_captured(&mut self) -> Vec<u8> {
        self.capture.take().unwrap_or_default()
    }

    fn open(&mut self, object: bool) {
        let (word, bit) = (self.depth / 64, self.depth % 64);
        if word == self.stack.len() {
            self.stack.push(0);
        }
        if object {
            self.stack[word] |= 1 << bit;
        } else {
            self.stack[word] &= !(1 << bit);
        }
        self.depth += 1;
    }

    fn top_is_object(&self) -> bool {
        let d = self.depth - 1;
        self.stack[d / 64] & (1 << (d % 64)) != 0
    }

    /// The state after a complete value (or key, for `key`).
    fn after_value(&self) -> State {
        if self.depth == 0 {
            State::Done
        } else {
            State::AfterValue
        }
    }

    /// Consumes bytes of `buf` (at absolute offset `base`); returns how many belong to the value.
    /// A bare number ends at the first byte that cannot belong to it, which is left unconsumed.
    pub(crate) fn feed(&mut self, buf: &[u8], base: u64) -> Result<usize, ParseError> {
        let n = buf.len();
        let mut i = 0usize;
        while i < n && self.state != State::Done {
            let b = buf[i];
            match self.state {
                State::InString { key, mut body } => {
                    match body
                        .feed(&buf[i..])
                        .map_err(|(k, expected)| self.unexpected(buf, i + k, base, expected))?
                    {
                        None => {
                            self.state = State::InString { key, body };
                            i = n;
                        }
                        Some(k) => {
                            i += k + 1;
                            self.state = if key {
                                State::Colon
                            } else {
                                self.after_value()
                            };
                        }
                    }
                    continue;
                }
                State::Number(num) => {
                    // The common case in skipped sections: runs of digits (`locations`).
                    if matches!(num, Num::Int | Num::Frac | Num::Exp) {
                        let run = buf[i..].iter().position(|b| !b.is_ascii_digit());
                        match run {
                            None => {
                                i = n;
                                continue;
                            }
                            Some(k) if k > 0 => {
                                i += k;
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    let next = match (num, b) {
                        (Num::Minus, b'0') => Some(Num::Zero),
                        (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                        (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                        (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                        (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
                        (Num::E, b'+' | b'-') => Some(Num::ESign),
                        (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                        _ => None,
                    };
                    match next {
                        Some(next) => {
                            self.state = State::Number(next);
                            i += 1;
                        }
                        // A number ends at the first byte that cannot continue it, if the
                        // grammar allows it to end there; that byte is the next token's.
                        None if num.complete()
                            && !b.is_ascii_digit()
                            && !b.is_ascii_alphabetic() =>
                        {
                            self.state = self.after_value()
                        }
                        None => return Err(self.unexpected(buf, i, base, num.expected())),
                    }
                    continue;
                }
                State::Literal(rest) => {
                    if b != rest[0] {
                        return Err(self.unexpected(buf, i, base, "`true`, `false` or `null`"));
                    }
                    i += 1;
                    self.state = if rest.len() == 1 {
                        self.after_value()
                    } else {
                        State::Literal(&rest[1..])
                    };
                    continue;
                }
                State::Done => unreachable!(),
                _ => {}
            }
            // Skipped sections are mostly flat integer lists (`locations` is tens of MB): a
            // 64-byte window of `12,3\n,45,` is valid JSON as a whole, checked from masks.
            if self.state == State::Value
                && self.depth > 0
                && n - i >= BLOCK
                && !self.top_is_object()
            {
                let window: &[u8; BLOCK] = buf[i..i + BLOCK].try_into().expect("window fits");
                if let Some(used) = integer_run(window) {
                    i += used;
                    continue;
                }
            }
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                i += 1;
                continue;
            }
            let state = self.state;
            self.state = match (state, b) {
                (State::Value | State::ValueOrClose, _) if b == b'{' || b == b'[' => {
                    self.open(b == b'{');
                    if b == b'{' {
                        State::KeyOrClose
                    } else {
                        State::ValueOrClose
                    }
                }
                (State::Value | State::ValueOrClose, b'"') => State::InString {
                    key: false,
                    body: StringBody::default(),
                },
                (State::Value | State::ValueOrClose, b'-') => State::Number(Num::Minus),
                (State::Value | State::ValueOrClose, b'0') => State::Number(Num::Zero),
                (State::Value | State::ValueOrClose, b'1'..=b'9') => State::Number(Num::Int),
                (State::Value | State::ValueOrClose, b't') => State::Literal(b"rue"),
                (State::Value | State::ValueOrClose, b'f') => State::Literal(b"alse"),
                (State::Value | State::ValueOrClose, b'n') => State::Literal(b"ull"),
                (State::KeyOrClose | State::Key, b'"') => State::InString {
                    key: true,
                    body: StringBody::default(),
                },
                (State::Colon, b':') => State::Value,
                (State::AfterValue, b',') => {
                    if self.top_is_object() {
                        State::Key
                    } else {
                        State::Value
                    }
                }
                (State::ValueOrClose, b']') | (State::KeyOrClose, b'}') => {
                    self.depth -= 1;
                    self.after_value()
                }
                (State::AfterValue, b']' | b'}') if self.top_is_object() == (b == b'}') => {
                    self.depth -= 1;
                    self.after_value()
                }
                _ => {
                    let expected = match state {
                        State::Value => "a JSON value",
                        State::ValueOrClose => "a JSON value or `]`",
                        State::KeyOrClose => "a key or `}`",
                        State::Key => "a key",
                        State::Colon => "`:`",
                        _ if self.top_is_object() => "`,` or `}`",
                        _ => "`,` or `]`",
                    };
                    return Err(self.unexpected(buf, i, base, expected));
                }
            };
            i += 1;
        }
        if let Some(cap) = &mut self.capture {
            if cap.len() + i > self.capture_limit {
                return Err(ParseError::corrupt_at(
                    base + i as u64,
                    format!("{} is larger than {} bytes", self.what, self.capture_limit),
                ));
            }
            cap.extend_from_slice(&buf[..i]);
        }
        Ok(i)
    }

    fn unexpected(&self, buf: &[u8], i: usize, base: u64, expected: &str) -> ParseError {
        ParseError::corrupt_at(
            base + i as u64,
            format!(
                "unexpected byte {} at byte {} in {} (expected {expected})",
                show_byte(buf[i]),
                base + i as u64,
                self.what
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(doc: &[u8], piece: usize) -> Result<(usize, Vec<u8>), ParseError> {
        let mut s = ValueSkipper::capturing("`x`".into(), 1 << 20);
        let mut pos = 0;
        while pos < doc.len() && !s.is_done() {
            let end = (pos + piece).min(doc.len());
            pos += s.feed(&doc[pos..end], pos as u64)?;
        }
        assert!(s.is_done());
        Ok((pos, s.take_captured()))
    }

    #[test]
    fn skips_nested_values_in_any_pieces() {
        let doc = br#" {"a":[1,2,{"b":"x\"]}\\"}],"c":null, "d":-1.5e3}, rest"#;
        let value_end = doc.len() - b", rest".len();
        for piece in 1..doc.len() {
            let (used, cap) = skip(doc, piece).unwrap();
            assert_eq!(used, value_end, "piece {piece}");
            assert_eq!(cap, &doc[..value_end]);
        }
    }

    #[test]
    fn scalar_stops_before_delimiter() {
        assert_eq!(skip(b"12345,", 2).unwrap().0, 5);
        assert_eq!(skip(b"\"s\"}", 1).unwrap().0, 3);
    }

    #[test]
    fn mismatched_brackets_fail() {
        assert!(skip(b"[1}", 1).is_err());
        assert!(skip(b"{]", 1).is_err());
        assert!(skip(b"]", 1).is_err());
    }

    #[test]
    fn deep_nesting_needs_no_recursion() {
        let mut doc = vec![b'['; 100_000];
        doc.extend(vec![b']'; 100_000]);
        assert_eq!(skip(&doc, 4096).unwrap().0, doc.len());
    }

    #[test]
    fn only_json_passes() {
        let bad: &[(&[u8], &str)] = &[
            (b"[0032]", "leading zeros"),
            (b"[1,2x]", "the rest of a number"),
            (b"[1,tru]", "`true`, `false` or `null`"),
            (b"[nul,1]", "`true`, `false` or `null`"),
            (b"[\"a\x01b\"]", "raw control character"),
            (b"[\"a\nb\"]", "raw control character"),
            (b"[\"\\q\"]", "JSON escape"),
            (b"[\"\\u12g4\"]", "hex digit"),
            (b"[1 2]", "`,` or `]`"),
            (b"[1,]", "a JSON value"),
            (b"[,1]", "a JSON value or `]`"),
            (b"{\"a\" 1}", "`:`"),
            (b"{\"a\":1,}", "a key"),
            (b"{1:2}", "a key or `}`"),
            (b"[-]", "a digit"),
            (b"[1.]", "a digit"),
            (b"[1e+]", "a digit"),
            (b"[+1]", "a JSON value"),
            (b"[.5]", "a JSON value"),
        ];
        for &(doc, why) in bad {
            for piece in [1, 2, doc.len()] {
                let e = skip(doc, piece).unwrap_err().to_string();
                assert!(e.contains(why), "{}: {e}", String::from_utf8_lossy(doc));
            }
        }
        let good: &[&[u8]] = &[
            b"[0,-0,10,-1.25e+3,1E5,0.5,true,false,null]",
            b"{\"k\\u00e9\\n\":[{}, [], \"\\ud800\"]}",
            b"[\"\xff\xfe invalid UTF-8 passes\"]",
        ];
        for doc in good {
            for piece in [1, 3, doc.len()] {
                assert_eq!(skip(doc, piece).unwrap().0, doc.len());
            }
        }
    }

    #[test]
    fn long_integer_lists_are_checked_a_window_at_a_time() {
        let list: Vec<String> = (0..300u64)
            .map(|k| (k * 7919 % 100_000).to_string())
            .collect();
        let clean = format!("[{}]", list.join(",\n"));
        for piece in [1, 63, 64, 65, 1000, clean.len()] {
            assert_eq!(skip(clean.as_bytes(), piece).unwrap().0, clean.len());
        }
        for (defect, why) in [
            ("0032", "leading zeros"),
            ("1 2", "`,` or `]`"),
            ("2x", "the rest of a number"),
            ("", "a JSON value"),
            ("1,,2", "a JSON value"),
        ] {
            let mut items = list.clone();
            items[150] = defect.into();
            let doc = format!("[{}]", items.join(",\n"));
            for piece in [7, 64, doc.len()] {
                let e = skip(doc.as_bytes(), piece).unwrap_err().to_string();
                assert!(e.contains(why), "{defect}: {e}");
            }
        }
    }

    #[test]
    fn capture_limit_applies() {
        let mut s = ValueSkipper::capturing("the `snapshot` object".into(), 4);
        let e = s.feed(b"[1,2,3]", 0).unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
    }
}
