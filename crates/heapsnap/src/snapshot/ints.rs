//! Resumable scanner for the flat integer arrays (`nodes`, `edges`).
//!
//! These arrays are nearly the whole file, so this is the hot loop: it walks the chunk slice
//! byte by byte, keeps the partial number in a register, and only saves its state when a chunk
//! ends. Numbers are handed to a sink one at a time, never collected into a temporary `Vec`.

use super::classify::BLOCK;
use super::digits::{has_vector_path, run_numbers, RUN_CAPACITY};
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
    /// After a `0` that starts a number: JSON allows no digit after it.
    Zero,
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
    /// `feed_batched` may use the AVX-512 converter.
    vector: bool,
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
            vector: has_vector_path(),
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
                State::Zero => {
                    if i == n {
                        break 'scan;
                    }
                    if buf[i].is_ascii_digit() {
                        return Err(unexpected(
                            i,
                            "`,` or `]` after `0`: JSON numbers have no leading zeros",
                        ));
                    }
                    if let Err(msg) = sink.push(0) {
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
                        if (k == MAX_DIGITS as usize && w[k].is_ascii_digit()) || (d == 0 && k > 1)
                        {
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
                    if d == 0 {
                        i += 1;
                        state = State::Zero;
                    } else if d < 10 {
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

    /// Like `feed`, for the `nodes` and `edges` arrays: most numbers reach the sink a few
    /// thousand at a time (`push_batch`), converted a window at a time without a branch per
    /// digit. Accepts and rejects exactly what `feed` does, with the same messages: a window that
    /// is not in V8's own layout (`12,3\n,45`) goes through `feed` one number at a time, and so
    /// does a run of windows the sink refuses, which keeps messages and offsets exact.
    pub(crate) fn feed_batched<S: BatchSink>(
        &mut self,
        buf: &[u8],
        base: u64,
        sink: &mut S,
    ) -> Result<usize, ParseError> {
        let n = buf.len();
        let mut i = 0usize;
        let mut values = [0u64; RUN_CAPACITY];
        while i < n && self.state != State::Done {
            // A run starts at a number (just after a comma).
            if self.state == State::Value {
                let (used, count) = run_numbers(&buf[i..], &mut values, self.vector);
                if count > 0 {
                    i += if sink.push_batch(&values[..count]) {
                        used
                    } else {
                        self.feed(&buf[i..i + used], base + i as u64, sink)?
                    };
                    continue;
                }
            }
            // One number at a time up to a comma, after which a window can start again.
            let stop = (i + BLOCK).min(n);
            let end = match memchr::memchr(b',', &buf[stop - 1..n.min(stop + BLOCK)]) {
                Some(k) => stop + k,
                None => n.min(stop + BLOCK),
            };
            i += self.feed(&buf[i..end], base + i as u64, sink)?;
        }
        Ok(i)
    }
}

/// A sink that can also take many numbers at once, for `feed_batched`.
pub(crate) trait BatchSink: IntSink {
    /// Takes `values`, the next whole numbers of the array in order, unless one of them breaks a
    /// rule of the sink: then it returns false with nothing taken, and the caller pushes them one
    /// at a time to get the exact message.
    fn push_batch(&mut self, values: &[u64]) -> bool;
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

    impl BatchSink for Collect {
        fn push_batch(&mut self, values: &[u64]) -> bool {
            if values.contains(&666) {
                return false;
            }
            self.0.extend_from_slice(values);
            true
        }
    }

    /// Both entry points over the same pieces: the values (or error) and the bytes used. The
    /// batched one is also run with the portable converter where the vector one is the default,
    /// and must agree with itself.
    fn both_ways(doc: &[u8], pieces: &[usize]) -> [Result<(Vec<u64>, usize), String>; 2] {
        let run = |batched: bool, vector: bool| {
            let mut s = IntArrayScanner::new("edges");
            s.vector &= vector;
            let mut sink = Collect(Vec::new());
            let mut pos = 0;
            let mut p = 0;
            while pos < doc.len() && !s.is_done() {
                let end = (pos + pieces[p % pieces.len()]).min(doc.len());
                p += 1;
                let used = if batched {
                    s.feed_batched(&doc[pos..end], pos as u64, &mut sink)
                } else {
                    s.feed(&doc[pos..end], pos as u64, &mut sink)
                }
                .map_err(|e| e.to_string())?;
                pos += used;
            }
            if !s.is_done() {
                return Err("unterminated".to_string());
            }
            Ok((sink.0, pos))
        };
        let batched = run(true, true);
        assert_eq!(
            run(true, false),
            batched,
            "portable and vector converters differ"
        );
        [run(false, false), batched]
    }

    #[test]
    fn batched_agrees_with_one_at_a_time_on_valid_and_damaged_arrays() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut damaged_errors = 0;
        for round in 0..600 {
            let numbers = 20 + rng.below(400) as usize;
            let mut doc = v8_like_array(&mut rng, numbers);
            let damage = round % 2 == 1;
            if damage {
                // Replace, insert or delete a byte somewhere: usually an error, sometimes still
                // a valid array with other numbers (or a 666, which the sink refuses).
                let at = 1 + rng.below(doc.len() as u64 - 6) as usize;
                let junks = b"x,] \n0-.96";
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
            let [plain, batched] = both_ways(&doc, &pieces);
            assert_eq!(
                plain,
                batched,
                "round {round}: {}",
                String::from_utf8_lossy(&doc)
            );
            if damage && plain.is_err() {
                damaged_errors += 1;
            }
            // Whole-document feeding, the common case for file reads.
            let [plain, batched] = both_ways(&doc, &[doc.len()]);
            assert_eq!(plain, batched, "round {round} whole");
        }
        assert!(
            damaged_errors > 80,
            "damage rarely detected: {damaged_errors}"
        );
    }

    /// Arrays of several runs of windows (a run stops at `RUN_NUMBERS` numbers), with and
    /// without a value the sink refuses in a late run: that run alone goes one number at a
    /// time, and the error names the same byte as the plain scanner's.
    #[test]
    fn a_refused_run_is_retaken_exactly() {
        let mut rng = Rng(5);
        for at in [
            None,
            Some(0usize),
            Some(2047),
            Some(2048),
            Some(5000),
            Some(9999),
        ] {
            let mut want = Vec::new();
            let mut doc = b"[".to_vec();
            for k in 0..10_000usize {
                let v = if Some(k) == at {
                    666
                } else {
                    rng.below(100_000) | 1
                };
                if k > 0 {
                    doc.extend_from_slice(if k % 3 == 0 { b"\n," } else { b"," });
                }
                doc.extend_from_slice(v.to_string().as_bytes());
                want.push(v);
            }
            doc.push(b']');
            for pieces in [&[doc.len()][..], &[70_000, 3], &[4096]] {
                let [plain, batched] = both_ways(&doc, pieces);
                assert_eq!(plain, batched, "666 at {at:?}, pieces {pieces:?}");
                match at {
                    None => assert_eq!(plain.unwrap().0, want),
                    Some(_) => assert!(plain.unwrap_err().contains("evil")),
                }
            }
        }
    }

    #[test]
    fn batched_converts_every_length_exactly() {
        // Every length from 1 to 19 digits, past 2^32 and 2^53, in V8's layout and after a
        // window's worth of small numbers so that windows take them.
        let mut rng = Rng(11);
        let mut want = vec![1u64; 40];
        for len in 1..=19u32 {
            let lo = if len == 1 { 0 } else { 10u64.pow(len - 1) };
            let span = if len == 1 { 10 } else { 9 * 10u64.pow(len - 1) };
            for _ in 0..20 {
                want.push(lo + rng.below(span));
            }
        }
        want.extend([
            u64::from(u32::MAX),
            1 << 32,
            (1 << 53) + 1,
            9_999_999_999_999_999,
        ]);
        want.extend([0, 10, 100_000_000, 1_000_000_000_000_000]);
        let mut doc = b"[".to_vec();
        for (k, v) in want.iter().enumerate() {
            if k > 0 {
                doc.extend_from_slice(if k % 3 == 0 { b"\n," } else { b"," });
            }
            doc.extend_from_slice(v.to_string().as_bytes());
        }
        doc.push(b']');
        for piece in [doc.len(), 4096, 100, 77] {
            let [plain, batched] = both_ways(&doc, &[piece]);
            assert_eq!(plain.as_ref().unwrap().0, want);
            assert_eq!(batched, plain, "pieces of {piece}");
        }
    }

    #[test]
    fn leading_zeros_are_not_json() {
        for doc in [&b"[0032]"[..], b"[1,00]", b"[1,2,012,3]"] {
            let e = scan_in_pieces(doc, 2).unwrap_err().to_string();
            assert!(e.contains("no leading zeros"), "{e}");
        }
        let long = format!("[{}07,1]", "1,".repeat(100));
        for piece in [3, 64, 1000] {
            let [plain, batched] = both_ways(long.as_bytes(), &[piece]);
            assert_eq!(plain, batched);
            assert!(plain.unwrap_err().contains("no leading zeros"));
        }
        assert_eq!(scan_in_pieces(b"[0,0\n,10]", 1).unwrap().0, vec![0, 0, 10]);
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
