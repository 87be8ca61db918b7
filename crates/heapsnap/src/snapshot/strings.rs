//! Streams the `strings` array, keeping only the entries a sink asks for.
//!
//! The string table can hold gigabytes of JS string contents. Entries nobody needs are skipped
//! with `memchr` without being copied; wanted entries are gathered raw (escapes and all) and
//! decoded once complete, so chunk boundaries inside escapes or UTF-8 sequences do not matter.

use super::error::{show_byte, ParseError};

/// Checks the body of a JSON string as it streams past, in pieces split anywhere: no raw control
/// character (JSON requires them escaped) and only JSON's escapes. Invalid UTF-8 and lone
/// surrogates (`\ud800`) pass: V8 writes both for JS strings holding them, and the decoder makes
/// them U+FFFD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StringBody {
    /// 0: plain text; 1: after `\`; 2..=5: hex digits of a `\u` escape still to come, plus one.
    pending: u8,
}

/// What a string held where `StringBody` refused it.
pub(crate) const CONTROL_IN_STRING: &str =
    "a string character (a raw control character must be escaped in JSON)";
pub(crate) const BAD_ESCAPE: &str =
    "a JSON escape (one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)";

impl StringBody {
    /// Scans `buf` from the string's current position: `Ok(Some(k))` when `buf[k]` is the closing
    /// quote, `Ok(None)` when the string goes on past `buf`, `Err((k, expected))` at a bad byte.
    #[inline]
    pub(crate) fn feed(&mut self, buf: &[u8]) -> Result<Option<usize>, (usize, &'static str)> {
        let mut i = 0;
        while i < buf.len() {
            match self.pending {
                0 => {
                    let k = memchr::memchr2(b'"', b'\\', &buf[i..]);
                    let span = &buf[i..k.map_or(buf.len(), |k| i + k)];
                    // Branch-free over the span (a min reduction vectorises), then find the byte.
                    if span.iter().fold(0xff, |m: u8, &b| m.min(b)) < 0x20 {
                        let at = span.iter().position(|&b| b < 0x20).expect("found by min");
                        return Err((i + at, CONTROL_IN_STRING));
                    }
                    let Some(k) = k else {
                        return Ok(None);
                    };
                    i += k;
                    if buf[i] == b'"' {
                        return Ok(Some(i));
                    }
                    self.pending = 1;
                }
                1 => {
                    self.pending = match buf[i] {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 0,
                        b'u' => 5,
                        _ => return Err((i, BAD_ESCAPE)),
                    };
                }
                n => {
                    if !buf[i].is_ascii_hexdigit() {
                        return Err((i, "a hex digit of a \\u escape"));
                    }
                    self.pending = if n == 2 { 0 } else { n - 1 };
                }
            }
            i += 1;
        }
        Ok(None)
    }
}

/// The longest string kept as a name, in bytes as written (escapes included). V8 writes at most
/// `--heap-snapshot-string-limit` characters of a string's contents (1024 by default), so a name
/// this long only comes from a damaged or foreign file; skipped strings have no limit.
pub(crate) const MAX_KEPT_STRING: usize = 64 << 20;

pub(crate) trait StringSink {
    /// Whether the string at `index` should be decoded and handed to `keep`.
    fn wants(&mut self, index: u64) -> bool;
    fn keep(&mut self, index: u64, value: &str) -> Result<(), String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeOpen,
    FirstValue,
    Value,
    InString { keep: bool, body: StringBody },
    AfterValue,
    Done,
}

#[derive(Debug)]
pub(crate) struct StringArrayScanner {
    state: State,
    index: u64,
    raw: Vec<u8>,
    has_escape: bool,
    decoded: String,
}

impl StringArrayScanner {
    pub(crate) fn new() -> Self {
        StringArrayScanner {
            state: State::BeforeOpen,
            index: 0,
            raw: Vec::new(),
            has_escape: false,
            decoded: String::new(),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Number of strings completed so far (the table's length once done).
    pub(crate) fn count(&self) -> u64 {
        self.index
    }

    pub(crate) fn feed<S: StringSink>(
        &mut self,
        buf: &[u8],
        base: u64,
        sink: &mut S,
    ) -> Result<usize, ParseError> {
        let n = buf.len();
        let mut i = 0usize;
        let unexpected = |i: usize, expected: &str| {
            ParseError::corrupt_at(
                base + i as u64,
                format!(
                    "unexpected byte {} at byte {} in the `strings` array (expected {expected})",
                    show_byte(buf[i]),
                    base + i as u64
                ),
            )
        };
        while i < n {
            match self.state {
                State::InString { keep, mut body } => {
                    let found = body
                        .feed(&buf[i..])
                        .map_err(|(k, expected)| unexpected(i + k, expected))?;
                    let end = found.map_or(n, |k| i + k);
                    if keep {
                        if self.raw.len() + (end - i) > MAX_KEPT_STRING {
                            return Err(ParseError::corrupt_at(
                                base + end as u64,
                                format!(
                                    "string #{} is longer than {} MiB, the longest name heapdiff keeps",
                                    self.index,
                                    MAX_KEPT_STRING >> 20
                                ),
                            ));
                        }
                        self.raw.extend_from_slice(&buf[i..end]);
                    }
                    if found.is_none() {
                        self.state = State::InString { keep, body };
                        i = n;
                        continue;
                    }
                    i = end;
                    if keep {
                        self.has_escape = memchr::memchr(b'\\', &self.raw).is_some();
                        self.finish_string(sink, base + i as u64)?;
                    }
                    self.index += 1;
                    self.state = State::AfterValue;
                    i += 1;
                }
                State::AfterValue => {
                    match buf[i] {
                        b' ' | b'\n' | b'\r' | b'\t' => {}
                        b',' => self.state = State::Value,
                        b']' => {
                            self.state = State::Done;
                            return Ok(i + 1);
                        }
                        _ => return Err(unexpected(i, "`,` or `]`")),
                    }
                    i += 1;
                }
                State::Value | State::FirstValue => {
                    match buf[i] {
                        b' ' | b'\n' | b'\r' | b'\t' => {}
                        b'"' => {
                            let keep = sink.wants(self.index);
                            self.raw.clear();
                            self.has_escape = false;
                            self.state = State::InString {
                                keep,
                                body: StringBody::default(),
                            };
                        }
                        b']' if self.state == State::FirstValue => {
                            self.state = State::Done;
                            return Ok(i + 1);
                        }
                        _ => return Err(unexpected(i, "a string")),
                    }
                    i += 1;
                }
                State::BeforeOpen => {
                    match buf[i] {
                        b' ' | b'\n' | b'\r' | b'\t' => {}
                        b'[' => self.state = State::FirstValue,
                        b => {
                            return Err(ParseError::corrupt_at(
                                base + i as u64,
                                format!(
                                    "the value of `strings` is not an array: found {} at byte {}",
                                    show_byte(b),
                                    base + i as u64
                                ),
                            ))
                        }
                    }
                    i += 1;
                }
                State::Done => return Ok(i),
            }
        }
        Ok(i)
    }

    fn finish_string<S: StringSink>(&mut self, sink: &mut S, at: u64) -> Result<(), ParseError> {
        let index = self.index;
        let bad = |msg: String| {
            ParseError::corrupt_at(
                at,
                format!("{msg} in string #{index} (ending at byte {at})"),
            )
        };
        let value: &str = if self.has_escape {
            self.decoded.clear();
            unescape_into(&self.raw, &mut self.decoded).map_err(bad)?;
            &self.decoded
        } else {
            match std::str::from_utf8(&self.raw) {
                Ok(s) => s,
                Err(_) => {
                    self.decoded.clear();
                    self.decoded.push_str(&String::from_utf8_lossy(&self.raw));
                    &self.decoded
                }
            }
        };
        sink.keep(index, value).map_err(bad)
    }
}

fn hex4(raw: &[u8], at: usize) -> Option<u32> {
    let digits = raw.get(at..at + 4)?;
    let mut v = 0u32;
    for &d in digits {
        v = v * 16 + char::from(d).to_digit(16)?;
    }
    Some(v)
}

/// Decodes the body of a JSON string (without the quotes) into `out`.
///
/// Unlike serde_json this accepts lone UTF-16 surrogates (`\ud800`), which V8 writes for JS
/// strings that contain them; they become U+FFFD so a name stays printable. Invalid raw UTF-8 is
/// replaced the same way: a damaged name should not make a whole snapshot unreadable.
pub(crate) fn unescape_into(raw: &[u8], out: &mut String) -> Result<(), String> {
    let mut i = 0;
    while i < raw.len() {
        let Some(k) = memchr::memchr(b'\\', &raw[i..]) else {
            out.push_str(&String::from_utf8_lossy(&raw[i..]));
            break;
        };
        out.push_str(&String::from_utf8_lossy(&raw[i..i + k]));
        i += k + 1;
        let Some(&e) = raw.get(i) else {
            return Err("unfinished escape".into());
        };
        i += 1;
        let c = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(raw, i).ok_or("malformed \\u escape")?;
                i += 4;
                if (0xD800..0xDC00).contains(&unit) {
                    let low = if raw.get(i..i + 2) == Some(b"\\u") {
                        hex4(raw, i + 2).filter(|l| (0xDC00..0xE000).contains(l))
                    } else {
                        None
                    };
                    match low {
                        Some(low) => {
                            i += 6;
                            char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                                .unwrap_or(char::REPLACEMENT_CHARACTER)
                        }
                        None => char::REPLACEMENT_CHARACTER,
                    }
                } else {
                    char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
                }
            }
            other => return Err(format!("invalid escape \\{}", char::from(other))),
        };
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Keep {
        every_other: bool,
        kept: Vec<(u64, String)>,
    }
    impl StringSink for Keep {
        fn wants(&mut self, index: u64) -> bool {
            !self.every_other || index.is_multiple_of(2)
        }
        fn keep(&mut self, index: u64, value: &str) -> Result<(), String> {
            self.kept.push((index, value.to_owned()));
            Ok(())
        }
    }

    fn run(doc: &[u8], piece: usize, every_other: bool) -> Result<Keep, ParseError> {
        let mut s = StringArrayScanner::new();
        let mut sink = Keep {
            every_other,
            ..Keep::default()
        };
        let mut pos = 0;
        while pos < doc.len() && !s.is_done() {
            let end = (pos + piece).min(doc.len());
            pos += s.feed(&doc[pos..end], pos as u64, &mut sink)?;
        }
        assert!(s.is_done());
        if !every_other {
            assert_eq!(s.count() as usize, sink.kept.len());
        }
        Ok(sink)
    }

    #[test]
    fn escapes_split_across_every_boundary() {
        let doc = br#"["plain", "q\"b\\s\/n\nt\t", "\u00e9\u4e2d", "\ud83d\ude00!", "lone \ud800 x", "", "r\u00E9sum\u00e9"]"#;
        let want = [
            "plain",
            "q\"b\\s/n\nt\t",
            "é中",
            "😀!",
            "lone \u{FFFD} x",
            "",
            "résumé",
        ];
        for piece in 1..doc.len() {
            let got = run(doc, piece, false).unwrap();
            let got: Vec<&str> = got.kept.iter().map(|(_, s)| s.as_str()).collect();
            assert_eq!(got, want, "piece {piece}");
        }
    }

    #[test]
    fn raw_utf8_split_across_chunks() {
        let doc = "[\"ünïcödé ✓\", \"x\"]".as_bytes();
        for piece in 1..doc.len() {
            let got = run(doc, piece, false).unwrap();
            assert_eq!(got.kept[0].1, "ünïcödé ✓");
        }
    }

    #[test]
    fn skipped_strings_still_count() {
        let got = run(br#"["a","b\"]","c","d"]"#, 3, true).unwrap();
        assert_eq!(got.kept, vec![(0, "a".into()), (2, "c".into())]);
    }

    #[test]
    fn bad_escapes_and_structure_fail() {
        assert!(run(br#"["\x"]"#, 2, false).is_err());
        assert!(run(br#"["\u12"]"#, 2, false).is_err());
        assert!(run(br#"["a" "b"]"#, 2, false).is_err());
        assert!(run(br#"[1]"#, 2, false).is_err());
        assert!(run(br#"{"#, 2, false).is_err());
    }
}
