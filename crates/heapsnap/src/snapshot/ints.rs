//! Resumable scanner for the flat integer arrays (`nodes`, `edges`).
//!
//! These arrays are nearly the whole file, so this is the hot loop: it walks the chunk slice
//! byte by byte, keeps the partial number in a register, and only saves its state when a chunk
//! ends. Numbers are handed to a sink one at a time, never collected into a temporary `Vec`.

use super::classify::{classify, BLOCK};
use super::error::{show_byte, ParseError};

/// Receives each number of the array in order. A returned `Err` carries a message; the scanner
/// adds the byte offset.
pub(crate) trait IntSink {
    fn push(&mut self, value: u64) -> Result<(), String>;
}

/// Counts the numbers of an array whose values nobody needs.
struct Tally(u64);

impl IntSink for Tally {
    #[inline(always)]
    fn push(&mut self, _value: u64) -> Result<(), String> {
        self.0 += 1;
        Ok(())
    }
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
    /// `feed_counting` only: the state is `AfterValue` because a block ended with the last
    /// digit of a number (already counted), not with whitespace.
    after_digit: bool,
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
            after_digit: false,
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

    /// Like `feed`, but only checks the syntax and adds the count of numbers to `count`: for
    /// the `edges` array when no edges are kept, where converting every number was most of the
    /// parse. Accepts and rejects exactly what `feed` does, with the same messages, except that
    /// the values go unchecked by any sink (a number's size is still limited to 19 digits).
    ///
    /// Whole 64-byte blocks in V8's own layout (`12,3\n,45`) are checked from bit masks; any
    /// block that is not (the closing `]`, unusual whitespace, errors) goes through `feed`,
    /// which keeps messages and offsets exact. Both count a number where it ends, so a number
    /// split between the two paths is counted once.
    pub(crate) fn feed_counting(
        &mut self,
        buf: &[u8],
        base: u64,
        count: &mut u64,
    ) -> Result<usize, ParseError> {
        let n = buf.len();
        let mut tally = Tally(0);
        let mut i = 0usize;
        while i < n && self.state != State::Done {
            // The block's next byte must be visible too, to know how the last byte continues.
            if n - i > BLOCK {
                let block: &[u8; BLOCK] = buf[i..i + BLOCK].try_into().expect("block fits");
                if let Some(numbers) = self.count_block(block, buf[i + BLOCK]) {
                    tally.0 += numbers;
                    i += BLOCK;
                    continue;
                }
            }
            self.after_digit = false;
            let end = (i + BLOCK).min(n);
            i += self.feed(&buf[i..end], base + i as u64, &mut tally)?;
        }
        *count += tally.0;
        Ok(i)
    }

    /// Counts the numbers ending in a block made only of digits, commas and whitespace laid out
    /// as `digits (ws? , digits)*`, and moves the state past it; `None` (state untouched) for
    /// any other block. `next` is the byte after the block.
    #[inline]
    fn count_block(&mut self, block: &[u8; BLOCK], next: u8) -> Option<u64> {
        // What the byte before the block was: a digit of an unfinished number, whitespace or
        // a finished number, or a comma / the opening bracket.
        let (prev_digit, prev_space) = match self.state {
            State::InNumber => (1u64, 0u64),
            State::AfterValue if self.after_digit => (0, 0),
            State::AfterValue => (0, 1),
            State::Value | State::FirstValue => (0, 0),
            State::BeforeOpen | State::Done => return None,
        };
        let m = classify(block);
        let (d, c, w) = (m.digit, m.comma, m.space);
        if d | c | w != u64::MAX {
            return None;
        }
        let before_d = (d << 1) | prev_digit | u64::from(self.after_digit);
        let before_w = (w << 1) | prev_space;
        let next_d = (d >> 1) | (u64::from(next.is_ascii_digit()) << 63);
        let next_c = (c >> 1) | (u64::from(next == b',') << 63);
        // Whitespace only between a number and its comma, commas only between numbers, and
        // no number right after whitespace: anything else is for `feed` to accept or reject.
        let odd = (w & !before_d)
            | (w & !next_c)
            | (c & !(before_d | before_w))
            | (c & !next_d)
            | (d & before_w);
        if odd != 0 {
            return None;
        }
        // No run of more than MAX_DIGITS digits, counting the unfinished number carried in.
        let lead = (!d).trailing_zeros();
        if prev_digit == 1 && self.digits + lead > MAX_DIGITS {
            return None;
        }
        let r2 = d & (d >> 1);
        let r4 = r2 & (r2 >> 2);
        let r16 = {
            let r8 = r4 & (r4 >> 4);
            r8 & (r8 >> 8)
        };
        if r16 & (r4 >> 16) != 0 {
            return None;
        }
        // Runs ending inside the block, plus a carried number that ended just before it
        // (`feed` stopped at its last digit, before seeing what follows).
        let numbers = u64::from((d & !next_d).count_ones()) + (prev_digit & !d & 1);
        self.after_digit = false;
        self.state = if d >> 63 == 0 {
            if c >> 63 == 1 {
                State::Value
            } else {
                State::AfterValue
            }
        } else if next_d >> 63 == 1 {
            self.cur = 0;
            self.digits = (!d).leading_zeros();
            State::InNumber
        } else {
            // The number ends with the block and was counted here.
            self.after_digit = true;
            State::AfterValue
        };
        Some(numbers)
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

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
        }
    }

    /// An `edges`-like array in V8's layout, with occasional long numbers and odd whitespace.
    fn v8_like_array(rng: &mut Rng, numbers: usize) -> Vec<u8> {
        let mut doc = b"[".to_vec();
        for k in 0..numbers {
            if k > 0 {
                doc.extend_from_slice(match rng.below(40) {
                    0 => b" ,".as_slice(),
                    1 => b", ",
                    2 => b"\n\n,",
                    3 => b"\r\n,\t",
                    _ if k % 3 == 0 => b"\n,",
                    _ => b",",
                });
            }
            let digits = match rng.below(200) {
                0 => 15 + rng.below(5),
                _ => 1 + rng.below(9),
            };
            for d in 0..digits {
                let lo = if d == 0 && digits > 1 { 1 } else { 0 };
                doc.push(b'0' + (lo + rng.below(10 - lo)) as u8);
            }
        }
        doc.extend_from_slice(b"]tail");
        doc
    }

    /// Both entry points over the same pieces: the count (or error) and the bytes used.
    fn both_ways(doc: &[u8], pieces: &[usize]) -> [Result<(u64, usize), String>; 2] {
        let run = |counting: bool| {
            let mut s = IntArrayScanner::new("edges");
            let mut tally = Tally(0);
            let mut count = 0u64;
            let mut pos = 0;
            let mut p = 0;
            while pos < doc.len() && !s.is_done() {
                let end = (pos + pieces[p % pieces.len()]).min(doc.len());
                p += 1;
                let used = if counting {
                    s.feed_counting(&doc[pos..end], pos as u64, &mut count)
                } else {
                    s.feed(&doc[pos..end], pos as u64, &mut tally)
                }
                .map_err(|e| e.to_string())?;
                pos += used;
            }
            if !s.is_done() {
                return Err("unterminated".to_string());
            }
            Ok((if counting { count } else { tally.0 }, pos))
        };
        [run(false), run(true)]
    }

    #[test]
    fn counting_agrees_with_converting_on_valid_and_damaged_arrays() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut damaged_errors = 0;
        for round in 0..400 {
            let numbers = 20 + rng.below(400) as usize;
            let mut doc = v8_like_array(&mut rng, numbers);
            let damage = round % 2 == 1;
            if damage {
                // Replace, insert or delete a byte somewhere: usually an error, sometimes still
                // a valid array with other numbers.
                let at = 1 + rng.below(doc.len() as u64 - 6) as usize;
                let junks = b"x,] \n0-.9";
                let junk = junks[rng.below(junks.len() as u64) as usize];
                match rng.below(3) {
                    0 => doc[at] = junk,
                    1 => doc.insert(at, junk),
                    _ => {
                        doc.remove(at);
                    }
                }
            }
            let pieces: Vec<usize> = (0..5).map(|_| 1 + rng.below(300) as usize).collect();
            let [plain, counted] = both_ways(&doc, &pieces);
            assert_eq!(
                plain,
                counted,
                "round {round}: {}",
                String::from_utf8_lossy(&doc)
            );
            if damage && plain.is_err() {
                damaged_errors += 1;
            }
            // Whole-document feeding, the common case for file reads.
            let [plain, counted] = both_ways(&doc, &[doc.len()]);
            assert_eq!(plain, counted, "round {round} whole");
        }
        assert!(
            damaged_errors > 50,
            "damage rarely detected: {damaged_errors}"
        );
    }

    #[test]
    fn counting_finds_the_right_count_in_v8_layout() {
        let mut rng = Rng(7);
        let doc = v8_like_array(&mut rng, 10_000);
        let [_, counted] = both_ways(&doc, &[65536]);
        assert_eq!(counted.unwrap(), (10_000, doc.len() - 4));
        let long = format!("[{}1]", "12345678901234567,".repeat(50));
        let e = both_ways(
            format!("[{}]", "123456789012345678901,".repeat(9) + "1").as_bytes(),
            &[4096],
        );
        assert_eq!(e[0], e[1]);
        assert!(
            e[1].as_ref().unwrap_err().contains("number too large"),
            "{e:?}"
        );
        assert_eq!(both_ways(long.as_bytes(), &[4096])[1], Ok((51, long.len())));
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
