//! Skips one JSON value of any shape without building it, optionally keeping its bytes.
//!
//! Used for the sections heapdiff does not need (`trace_tree`, `samples`, `locations`, unknown
//! keys) and to capture the small `snapshot` header for serde_json. Nesting is tracked with a
//! bit stack so that `{` must close with `}` and `[` with `]`, at one bit per level.

use super::error::{show_byte, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the value: whitespace allowed.
    Start,
    /// Inside containers, between tokens.
    Between,
    InString,
    InStringEscape,
    /// A bare scalar (number, `true`, `false`, `null`).
    InScalar,
    Done,
}

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

fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

impl ValueSkipper {
    /// `what` names the section for error messages, e.g. "`trace_tree`".
    pub(crate) fn new(what: String) -> Self {
        ValueSkipper {
            state: State::Start,
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

    /// Consumes bytes of `buf` (at absolute offset `base`); returns how many belong to the value.
    /// A bare scalar ends at the first byte that cannot belong to it, which is left unconsumed.
    pub(crate) fn feed(&mut self, buf: &[u8], base: u64) -> Result<usize, ParseError> {
        let mut i = 0usize;
        let n = buf.len();
        let start = i;
        while i < n && self.state != State::Done {
            match self.state {
                State::InString => {
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        None => i = n,
                        Some(k) => {
                            i += k;
                            self.state = if buf[i] == b'"' {
                                self.after_value()
                            } else {
                                State::InStringEscape
                            };
                            i += 1;
                        }
                    }
                    continue;
                }
                State::InStringEscape => {
                    self.state = State::InString;
                    i += 1;
                    continue;
                }
                State::InScalar | State::Between if self.depth > 0 => {
                    // Skipped sections are mostly flat number lists (`locations`,
                    // `trace_tree`); run through digits and separators without the per-byte
                    // dispatch. Inside a container a split number is harmlessly seen as two.
                    let run = buf[i..]
                        .iter()
                        .position(|&b| !matches!(b, b'0'..=b'9' | b',' | b' ' | b'\n'))
                        .unwrap_or(n - i);
                    if run > 0 {
                        i += run;
                        self.state = State::Between;
                        continue;
                    }
                    if self.state == State::InScalar {
                        self.state = State::Between;
                        continue;
                    }
                }
                State::InScalar => {
                    if is_scalar_byte(buf[i]) {
                        i += 1;
                    } else {
                        self.state = self.after_value();
                    }
                    continue;
                }
                State::Start | State::Between => {}
                State::Done => unreachable!(),
            }
            let b = buf[i];
            match b {
                b' ' | b'\n' | b'\r' | b'\t' | b',' | b':' if self.state == State::Between => {}
                b' ' | b'\n' | b'\r' | b'\t' => {}
                b'{' | b'[' => {
                    self.open(b == b'{');
                    self.state = State::Between;
                }
                b'}' | b']' if self.state == State::Between && self.depth > 0 => {
                    if self.top_is_object() != (b == b'}') {
                        return Err(self.unexpected(buf, i, base));
                    }
                    self.depth -= 1;
                    self.state = self.after_value();
                }
                b'"' => self.state = State::InString,
                _ if is_scalar_byte(b) => self.state = State::InScalar,
                _ => return Err(self.unexpected(buf, i, base)),
            }
            i += 1;
        }
        if let Some(cap) = &mut self.capture {
            if cap.len() + (i - start) > self.capture_limit {
                return Err(ParseError::corrupt_at(
                    base + i as u64,
                    format!("{} is larger than {} bytes", self.what, self.capture_limit),
                ));
            }
            cap.extend_from_slice(&buf[start..i]);
        }
        Ok(i)
    }

    fn after_value(&self) -> State {
        if self.depth == 0 {
            State::Done
        } else {
            State::Between
        }
    }

    fn unexpected(&self, buf: &[u8], i: usize, base: u64) -> ParseError {
        ParseError::corrupt_at(
            base + i as u64,
            format!(
                "unexpected byte {} at byte {} in {}",
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
    fn capture_limit_applies() {
        let mut s = ValueSkipper::capturing("the `snapshot` object".into(), 4);
        let e = s.feed(b"[1,2,3]", 0).unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
    }
}
