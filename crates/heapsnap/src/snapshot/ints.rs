//! Resumable scanner for the flat integer arrays (`nodes`, `edges`).
//!
//! These arrays are nearly the whole file, so this is the hot loop: it walks the chunk slice
//! byte by byte, keeps the partial number in a register, and only saves its state when a chunk
//! ends. Numbers are handed to a sink one at a time, never collected into a temporary `Vec`.

use super::error::{show_byte, ParseError};

/// Receives each number of the array in order. A returned `Err` carries a message; the scanner
/// adds the byte offset.
pub(crate) trait IntSink {
    fn push(&mut self, value: u64) -> Result<(), String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeOpen,
    /// Just after `[`: a number or `]`.
    FirstValue,
    /// Just after `,`: a number.
    Value,
    InNumber,
    AfterValue,
    Done,
}

/// A `u64` holds every 19-digit number, so longer digit runs are rejected instead of
/// checking each multiplication for overflow.
const MAX_DIGITS: u32 = 19;

/// Bytes that must remain in the chunk for the fast path: a maximal number plus separators.
const FAST_WINDOW: usize = 32;

#[derive(Debug)]
pub(crate) struct IntArrayScanner {
    state: State,
    cur: u64,
    digits: u32,
    /// Section name for messages, e.g. "nodes".
    what: &'static str,
}

#[inline(always)]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl IntArrayScanner {
    pub(crate) fn new(what: &'static str) -> Self {
        IntArrayScanner {
            state: State::BeforeOpen,
            cur: 0,
            digits: 0,
            what,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes bytes of `buf` (which starts at absolute offset `base`) and returns how many
    /// were used: all of them, or fewer when the closing `]` was reached.
    pub(crate) fn feed<S: IntSink>(
        &mut self,
        buf: &[u8],
        base: u64,
        sink: &mut S,
    ) -> Result<usize, ParseError> {
        let n = buf.len();
        let mut i = 0usize;
        let mut state = self.state;
        let mut cur = self.cur;
        let mut digits = self.digits;
        let what = self.what;

        let unexpected = |i: usize, expected: &str| {
            ParseError::corrupt_at(
                base + i as u64,
                format!(
                    "unexpected byte {} at byte {} in the `{what}` array (expected {expected})",
                    show_byte(buf[i]),
                    base + i as u64
                ),
            )
        };

        'scan: loop {
            match state {
                State::InNumber => {
                    while i < n {
                        let d = buf[i].wrapping_sub(b'0');
                        if d >= 10 {
                            break;
                        }
                        cur = cur.wrapping_mul(10).wrapping_add(u64::from(d));
                        digits += 1;
                        if digits > MAX_DIGITS {
                            return Err(ParseError::corrupt_at(
                                base + i as u64,
                                format!(
                                    "number too large at byte {} in the `{what}` array",
                                    base + i as u64
                                ),
                            ));
                        }
                        i += 1;
                    }
                    if i == n {
                        break 'scan;
                    }
                    if let Err(msg) = sink.push(cur) {
                        // The number's last digit may sit in the previous chunk, so count back
                        // from the absolute offset rather than from `i`.
                        let last_digit = base + i as u64 - 1;
                        return Err(ParseError::corrupt_at(
                            last_digit,
                            format!("{msg} (number ending at byte {last_digit})"),
                        ));
                    }
                    state = State::AfterValue;
                }
                State::AfterValue => {
                    while i < n && is_ws(buf[i]) {
                        i += 1;
                    }
                    if i == n {
                        break 'scan;
                    }
                    match buf[i] {
                        b',' => {
                            i += 1;
                            state = State::Value;
                        }
                        b']' => {
                            i += 1;
                            state = State::Done;
                            break 'scan;
                        }
                        _ => return Err(unexpected(i, "`,` or `]`")),
                    }
                }
                State::Value | State::FirstValue => {
                    // Fast path for the common shape `123,45\n,6`: while a whole number and
                    // its separator surely fit in the chunk, skip the per-byte state dispatch.
                    // Anything unusual (whitespace runs, `]`, errors, long numbers) falls back
                    // to the general states below, which also produce the error messages.
                    while n - i >= FAST_WINDOW {
                        let w: &[u8; FAST_WINDOW] =
                            buf[i..i + FAST_WINDOW].try_into().expect("window fits");
                        let d = w[0].wrapping_sub(b'0');
                        if d >= 10 {
                            break;
                        }
                        let mut v = u64::from(d);
                        let mut k = 1;
                        while k < MAX_DIGITS as usize {
                            let d = w[k].wrapping_sub(b'0');
                            if d >= 10 {
                                break;
                            }
                            v = v * 10 + u64::from(d);
                            k += 1;
                        }
                        if k == MAX_DIGITS as usize && w[k].is_ascii_digit() {
                            break;
                        }
                        if let Err(msg) = sink.push(v) {
                            let last_digit = base + (i + k) as u64 - 1;
                            return Err(ParseError::corrupt_at(
                                last_digit,
                                format!("{msg} (number ending at byte {last_digit})"),
                            ));
                        }
                        if w[k] == b',' {
                            i += k + 1;
                        } else if w[k] == b'\n' && w[k + 1] == b',' {
                            i += k + 2;
                        } else {
                            i += k;
                            state = State::AfterValue;
                            continue 'scan;
                        }
                        state = State::Value;
                    }
                    while i < n && is_ws(buf[i]) {
                        i += 1;
                    }
                    if i == n {
                        break 'scan;
                    }
                    let b = buf[i];
                    let d = b.wrapping_sub(b'0');
                    if d < 10 {
                        cur = u64::from(d);
                        digits = 1;
                        i += 1;
                        state = State::InNumber;
                    } else if b == b']' && state == State::FirstValue {
                        i += 1;
                        state = State::Done;
                        break 'scan;
                    } else {
                        return Err(unexpected(i, "a non-negative integer"));
                    }
                }
                State::BeforeOpen => {
                    while i < n && is_ws(buf[i]) {
                        i += 1;
                    }
                    if i == n {
                        break 'scan;
                    }
                    if buf[i] != b'[' {
                        return Err(ParseError::corrupt_at(
                            base + i as u64,
                            format!(
                                "the value of `{what}` is not an array: found {} at byte {}",
                                show_byte(buf[i]),
                                base + i as u64
                            ),
                        ));
                    }
                    i += 1;
                    state = State::FirstValue;
                }
                State::Done => break 'scan,
            }
        }

        self.state = state;
        self.cur = cur;
        self.digits = digits;
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<u64>);
    impl IntSink for Collect {
        fn push(&mut self, v: u64) -> Result<(), String> {
            if v == 666 {
                return Err("evil".into());
            }
            self.0.push(v);
            Ok(())
        }
    }

    fn scan_in_pieces(doc: &[u8], piece: usize) -> Result<(Vec<u64>, usize), ParseError> {
        let mut s = IntArrayScanner::new("nodes");
        let mut sink = Collect(Vec::new());
        let mut pos = 0;
        while pos < doc.len() && !s.is_done() {
            let end = (pos + piece).min(doc.len());
            pos += s.feed(&doc[pos..end], pos as u64, &mut sink)?;
        }
        assert!(s.is_done(), "array not closed");
        Ok((sink.0, pos))
    }

    #[test]
    fn numbers_split_anywhere() {
        let doc = b" [0,12345678901234567,\n7 , 42\n,1]tail";
        for piece in 1..doc.len() {
            let (v, used) = scan_in_pieces(doc, piece).unwrap();
            assert_eq!(v, vec![0, 12345678901234567, 7, 42, 1]);
            assert_eq!(&doc[used..], b"tail");
        }
    }

    #[test]
    fn empty_array() {
        assert_eq!(scan_in_pieces(b"[ ]", 1).unwrap().0, Vec::<u64>::new());
    }

    #[test]
    fn rejects_bad_input_with_offset() {
        let e = scan_in_pieces(b"[1,2,x]", 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt heap snapshot: unexpected byte 'x' at byte 5 in the `nodes` array \
             (expected a non-negative integer)"
        );
        assert!(scan_in_pieces(b"[1,]", 2).is_err());
        assert!(scan_in_pieces(b"[-1]", 2).is_err());
        assert!(scan_in_pieces(b"[1.5]", 2).is_err());
        assert!(scan_in_pieces(b"[1 2]", 2).is_err());
        assert!(scan_in_pieces(b"{}", 2).is_err());
        let e = scan_in_pieces(b"[1,99999999999999999999]", 5).unwrap_err();
        assert!(e.to_string().contains("number too large"), "{e}");
        let e = scan_in_pieces(b"[1,666,2]", 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "corrupt heap snapshot: evil (number ending at byte 5)"
        );
    }
}
