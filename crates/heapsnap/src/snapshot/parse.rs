//! Push parser for V8 `.heapsnapshot` JSON.
//!
//! Snapshots reach gigabytes and come from V8 in ~64 KiB pieces through an output stream, so the
//! parser never holds the document: it is a state machine over the top-level object that hands
//! each section to a resumable scanner (`ints` for `nodes`/`edges`, `strings` for the string
//! table, `skip` for everything else), and builds compact tables as it goes.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::builder::Builder;
use super::error::{show_byte, ParseError};
use super::ints::IntArrayScanner;
use super::meta::Meta;
use super::options::ParseOptions;
use super::skip::ValueSkipper;
use super::source;
use super::strings::{unescape_into, StringArrayScanner};
use super::table::Snapshot;
use super::trace::TreeScanner;

/// The header is a few KiB; anything near this size is not a V8 header.
const HEADER_LIMIT: usize = 16 << 20;

/// Top-level keys are short words; a longer "key" means we are not reading a snapshot.
const KEY_LIMIT: usize = 4096;

/// Piece size for `parse_reader`: large enough that per-call overhead vanishes, small enough
/// to stay in cache and report progress often.
const READ_PIECE: usize = 2 << 20;

enum Section {
    Header(ValueSkipper),
    Nodes(IntArrayScanner),
    /// The `edges` array: every edge checked, stored when `keep_edges`.
    Edges(IntArrayScanner),
    Strings(StringArrayScanner),
    /// `trace_function_infos` (see `trace.rs`).
    TraceFunctions(IntArrayScanner),
    TraceTree(TreeScanner),
    Other(ValueSkipper, String),
}

impl Section {
    fn describe(&self) -> String {
        match self {
            Section::Header(_) => "inside the `snapshot` object".into(),
            Section::Nodes(_) => "inside the `nodes` array".into(),
            Section::Edges(_) => "inside the `edges` array".into(),
            Section::Strings(_) => "inside the `strings` array".into(),
            Section::TraceFunctions(_) => "inside the `trace_function_infos` array".into(),
            Section::TraceTree(_) => "inside the `trace_tree` array".into(),
            Section::Other(_, key) => format!("inside the `{key}` value"),
        }
    }
}

enum State {
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,`: a key.
    Key,
    InKey {
        raw: Vec<u8>,
        escape: bool,
    },
    Colon(String),
    Value(Section),
    CommaOrClose,
    End,
    Failed,
}

/// Streaming heap snapshot parser: `feed` it pieces of the file in order, then `finish`.
pub struct SnapshotParser {
    opts: ParseOptions,
    state: State,
    consumed: u64,
    builder: Option<Builder>,
    keys_seen: usize,
    seen_nodes: bool,
    seen_edges: bool,
    seen_strings: bool,
    seen_trace_functions: bool,
    seen_trace_tree: bool,
    /// The last completed key, so a truncation message can say where the input stopped.
    last_key: Option<String>,
    /// The whole document's size when known, to refuse impossible header counts early.
    input_size: Option<u64>,
}

/// The fewest bytes `count` records of `width` numbers take in an array: one digit per number
/// and a comma between numbers.
fn min_array_bytes(count: u64, width: usize) -> u64 {
    count
        .saturating_mul(width as u64)
        .saturating_mul(2)
        .saturating_sub(1)
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl SnapshotParser {
    /// A parser waiting for the document's first bytes; `opts` says what it keeps.
    pub fn new(opts: ParseOptions) -> Self {
        SnapshotParser {
            opts,
            state: State::Start,
            consumed: 0,
            builder: None,
            keys_seen: 0,
            seen_nodes: false,
            seen_edges: false,
            seen_strings: false,
            seen_trace_functions: false,
            seen_trace_tree: false,
            last_key: None,
            input_size: None,
        }
    }

    /// Tells the parser how many bytes the whole document has (a file's size), so that a
    /// header announcing more nodes or edges than that can hold is refused before anything is
    /// allocated for them. Without it the header's counts only size the first allocations,
    /// capped, and are checked against the arrays at the end.
    pub fn set_input_size(&mut self, bytes: u64) {
        self.input_size = Some(bytes);
    }

    /// Total bytes accepted by `feed` so far.
    pub fn bytes_consumed(&self) -> u64 {
        self.consumed
    }

    /// Parses the next piece of the document. Pieces may split the input anywhere. After an
    /// error the parser stays failed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ParseError> {
        if let State::Failed = self.state {
            return Err(ParseError::corrupt(
                "input fed after an earlier parse error",
            ));
        }
        match self.feed_inner(chunk) {
            Ok(()) => {
                self.consumed += chunk.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn feed_inner(&mut self, chunk: &[u8]) -> Result<(), ParseError> {
        let base = self.consumed;
        let mut i = 0usize;
        while i < chunk.len() {
            let at = base + i as u64;
            match &mut self.state {
                State::Value(section) => {
                    let rest = &chunk[i..];
                    let (used, done) = match section {
                        Section::Header(s) | Section::Other(s, _) => {
                            let used = s.feed(rest, at)?;
                            (used, s.is_done())
                        }
                        Section::Nodes(s) => {
                            let b = self.builder.as_mut().expect("header parsed before nodes");
                            let used = s.feed_batched(rest, at, &mut b.node_sink())?;
                            (used, s.is_done())
                        }
                        Section::Edges(s) => {
                            let b = self.builder.as_mut().expect("header parsed before edges");
                            let used = s.feed_batched(rest, at, &mut b.edge_sink())?;
                            (used, s.is_done())
                        }
                        Section::Strings(s) => {
                            let b = self.builder.as_mut().expect("header parsed before strings");
                            let used = s.feed(rest, at, &mut b.string_sink())?;
                            (used, s.is_done())
                        }
                        Section::TraceFunctions(s) => {
                            let b = self.builder.as_mut().expect("header parsed before traces");
                            let used = s.feed(rest, at, &mut b.function_sink())?;
                            (used, s.is_done())
                        }
                        Section::TraceTree(s) => {
                            let used = s.feed(rest, at)?;
                            (used, s.is_done())
                        }
                    };
                    i += used;
                    if done {
                        self.end_section(base + i as u64)?;
                    }
                    continue;
                }
                State::InKey { raw, escape } => {
                    let b = chunk[i];
                    i += 1;
                    if *escape {
                        *escape = false;
                        raw.push(b);
                    } else if b == b'\\' {
                        *escape = true;
                        raw.push(b);
                    } else if b == b'"' {
                        let raw = std::mem::take(raw);
                        let key = self.decode_key(&raw, at)?;
                        self.state = State::Colon(key);
                    } else if b < 0x20 {
                        return Err(self.foreign_or_corrupt(
                            at,
                            format!(
                                "unexpected byte {} at byte {at} in a top-level key (a raw \
                                 control character must be escaped in JSON)",
                                show_byte(b)
                            ),
                        ));
                    } else {
                        raw.push(b);
                    }
                    if let State::InKey { raw, .. } = &self.state {
                        if raw.len() > KEY_LIMIT {
                            return Err(self.foreign_or_corrupt(
                                at,
                                format!("a top-level key longer than {KEY_LIMIT} bytes"),
                            ));
                        }
                    }
                    continue;
                }
                _ => {}
            }

            let b = chunk[i];
            i += 1;
            if is_ws(b) {
                continue;
            }
            match &self.state {
                State::Start => {
                    if b != b'{' {
                        return Err(ParseError::NotASnapshot {
                            offset: at,
                            detail: format!(
                                "expected a JSON object, found byte {} at byte {at}",
                                show_byte(b)
                            ),
                        });
                    }
                    self.state = State::FirstKey;
                }
                State::FirstKey | State::Key => {
                    let first = matches!(self.state, State::FirstKey);
                    if b == b'"' {
                        self.state = State::InKey {
                            raw: Vec::new(),
                            escape: false,
                        };
                    } else if b == b'}' && first {
                        return Err(ParseError::NotASnapshot {
                            offset: at,
                            detail: "the top-level object is empty".into(),
                        });
                    } else {
                        return Err(self.foreign_or_corrupt(
                            at,
                            format!("unexpected byte {} at byte {at} where a top-level key should start", show_byte(b)),
                        ));
                    }
                }
                State::Colon(_) => {
                    if b != b':' {
                        return Err(self.foreign_or_corrupt(
                            at,
                            format!("expected `:` after a top-level key, found {} at byte {at}", show_byte(b)),
                        ));
                    }
                    let State::Colon(key) = std::mem::replace(&mut self.state, State::End) else {
                        unreachable!()
                    };
                    self.state = State::Value(self.begin_section(key, at)?);
                    // The byte after `:` belongs to the value; scanners skip leading whitespace.
                }
                State::CommaOrClose => match b {
                    b',' => self.state = State::Key,
                    b'}' => self.state = State::End,
                    _ => {
                        return Err(ParseError::corrupt_at(
                            at,
                            format!(
                                "unexpected byte {} at byte {at} after the `{}` value (expected `,` or `}}`)",
                                show_byte(b),
                                self.last_key.as_deref().unwrap_or("?")
                            ),
                        ))
                    }
                },
                State::End => {
                    return Err(ParseError::corrupt_at(
                        at,
                        format!(
                            "unexpected byte {} at byte {at} after the end of the snapshot",
                            show_byte(b)
                        ),
                    ))
                }
                State::Value(_) | State::InKey { .. } | State::Failed => unreachable!(),
            }
        }
        Ok(())
    }

    /// Before the header is read, any oddity means "wrong kind of file"; after it, corruption.
    fn foreign_or_corrupt(&self, at: u64, detail: String) -> ParseError {
        if self.builder.is_none() {
            ParseError::NotASnapshot { offset: at, detail }
        } else {
            ParseError::corrupt_at(at, detail)
        }
    }

    fn decode_key(&self, raw: &[u8], at: u64) -> Result<String, ParseError> {
        let mut key = String::new();
        unescape_into(raw, &mut key)
            .map_err(|e| self.foreign_or_corrupt(at, format!("bad top-level key: {e}")))?;
        Ok(key)
    }

    fn begin_section(&mut self, key: String, at: u64) -> Result<Section, ParseError> {
        self.keys_seen += 1;
        if self.keys_seen == 1 {
            if key != "snapshot" {
                return Err(ParseError::NotASnapshot {
                    offset: at,
                    detail: format!("expected top-level key `snapshot`, found `{key}`"),
                });
            }
            return Ok(Section::Header(ValueSkipper::capturing(
                "the `snapshot` object".into(),
                HEADER_LIMIT,
            )));
        }
        let duplicate = |k: &str| {
            ParseError::corrupt_at(at, format!("duplicate top-level key `{k}` at byte {at}"))
        };
        let section = match key.as_str() {
            "snapshot" => return Err(duplicate("snapshot")),
            "nodes" if self.seen_nodes => return Err(duplicate("nodes")),
            "edges" if self.seen_edges => return Err(duplicate("edges")),
            "strings" if self.seen_strings => return Err(duplicate("strings")),
            "trace_function_infos" if self.seen_trace_functions => {
                return Err(duplicate("trace_function_infos"))
            }
            "trace_tree" if self.seen_trace_tree => return Err(duplicate("trace_tree")),
            "trace_function_infos" => {
                self.seen_trace_functions = true;
                let b = self.builder.as_ref().expect("header parsed first");
                // Function names are string indices: they can only be resolved if the strings
                // are still to come, or were all kept.
                if self.seen_strings && !b.kept_all_strings() {
                    return Err(ParseError::Unsupported {
                        detail: "`trace_function_infos` after `strings` (V8 writes it before)"
                            .into(),
                    });
                }
                Section::TraceFunctions(IntArrayScanner::new("trace_function_infos"))
            }
            "trace_tree" => {
                self.seen_trace_tree = true;
                let b = self.builder.as_ref().expect("header parsed first");
                Section::TraceTree(b.tree_scanner())
            }
            "nodes" => {
                self.seen_nodes = true;
                Section::Nodes(IntArrayScanner::new("nodes"))
            }
            "edges" => {
                self.seen_edges = true;
                self.builder
                    .as_mut()
                    .expect("header parsed first")
                    .begin_edges();
                Section::Edges(IntArrayScanner::new("edges"))
            }
            "strings" => {
                self.seen_strings = true;
                self.builder
                    .as_mut()
                    .expect("header parsed first")
                    .begin_strings();
                Section::Strings(StringArrayScanner::new())
            }
            _ => Section::Other(ValueSkipper::new(format!("the `{key}` value")), key.clone()),
        };
        self.last_key = Some(key);
        Ok(section)
    }

    fn end_section(&mut self, at: u64) -> Result<(), ParseError> {
        let State::Value(section) = std::mem::replace(&mut self.state, State::CommaOrClose) else {
            unreachable!()
        };
        match section {
            Section::Header(mut s) => {
                let meta = Meta::from_json(&s.take_captured(), at)?;
                self.check_counts(&meta, at)?;
                self.builder = Some(Builder::new(meta, self.opts));
                self.last_key = Some("snapshot".into());
            }
            Section::Nodes(_) => self.builder.as_mut().expect("header").end_nodes(at)?,
            Section::Edges(_) => self.builder.as_mut().expect("header").end_edges(at)?,
            Section::Strings(s) => self
                .builder
                .as_mut()
                .expect("header")
                .end_strings(s.count()),
            Section::TraceFunctions(_) => self
                .builder
                .as_mut()
                .expect("header")
                .end_trace_functions(at)?,
            Section::TraceTree(s) => self.builder.as_mut().expect("header").end_trace_tree(s),
            Section::Other(..) => {}
        }
        Ok(())
    }

    /// Refuses header counts past the table limits, or more than the rest of the input holds.
    fn check_counts(&self, meta: &Meta, at: u64) -> Result<(), ParseError> {
        let nodes = meta.node_count.unwrap_or(0);
        let edges = meta.edge_count.unwrap_or(0);
        if nodes > u64::from(u32::MAX) {
            return Err(ParseError::Unsupported {
                detail: format!(
                    "snapshot.node_count is {nodes}; at most {} nodes are supported",
                    u32::MAX
                ),
            });
        }
        if self.opts.stores_edges() && edges > u64::from(u32::MAX) {
            return Err(ParseError::Unsupported {
                detail: format!(
                    "snapshot.edge_count is {edges}; keeping edges supports at most {}",
                    u32::MAX
                ),
            });
        }
        let Some(size) = self.input_size else {
            return Ok(());
        };
        let left = size.saturating_sub(at);
        let need = min_array_bytes(nodes, meta.node_width)
            .saturating_add(min_array_bytes(edges, meta.edge_width));
        if need > left {
            return Err(ParseError::corrupt_at(
                at,
                format!(
                    "the header announces {nodes} nodes and {edges} edges, which take at least \
                     {need} bytes, but only {left} bytes follow it"
                ),
            ));
        }
        Ok(())
    }

    /// Completes the parse: fails if the document is incomplete or inconsistent.
    pub fn finish(self) -> Result<Snapshot, ParseError> {
        let at = self.consumed;
        let after = |k: &Option<String>| match k {
            Some(k) => format!("after the `{k}` value"),
            None => "inside the top-level object".into(),
        };
        let inside = match &self.state {
            State::End => None,
            State::Failed => {
                return Err(ParseError::corrupt(
                    "finish called after an earlier parse error",
                ))
            }
            State::Start => {
                return Err(ParseError::NotASnapshot {
                    offset: at,
                    detail: "the input is empty".into(),
                })
            }
            State::Value(section) => Some(section.describe()),
            State::InKey { .. } | State::Colon(_) => Some("inside a top-level key".to_string()),
            State::FirstKey | State::Key | State::CommaOrClose => Some(after(&self.last_key)),
        };
        if let Some(inside) = inside {
            return Err(ParseError::Truncated { offset: at, inside });
        }
        for (seen, what) in [
            (self.seen_nodes, "nodes"),
            (self.seen_edges, "edges"),
            (self.seen_strings, "strings"),
        ] {
            if !seen {
                return Err(ParseError::corrupt(format!(
                    "the snapshot has no `{what}` array"
                )));
            }
        }
        self.builder.expect("header parsed").finish()
    }
}

/// Parses a whole snapshot from a reader, calling `progress` with the bytes read so far.
pub fn parse_reader<R: Read>(
    r: R,
    opts: ParseOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Snapshot, ParseError> {
    parse_sized(r, None, opts, progress)
}

/// `parse_reader` for a reader of `size` bytes when known (see `set_input_size`).
fn parse_sized<R: Read>(
    mut r: R,
    size: Option<u64>,
    opts: ParseOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Snapshot, ParseError> {
    let mut parser = SnapshotParser::new(opts);
    if let Some(size) = size {
        parser.set_input_size(size);
    }
    let mut buf = vec![0u8; READ_PIECE];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        parser.feed(&buf[..n])?;
        progress(parser.bytes_consumed());
    }
    parser.finish()
}

/// Parses a snapshot file, plain or gzip-compressed, calling `progress(bytes_read, file_size)`
/// as it goes (bytes of the file itself, so compressed ones for gzip).
pub fn parse_file(
    path: &Path,
    opts: ParseOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Snapshot, ParseError> {
    let open = || -> Result<(File, u64, bool), std::io::Error> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        let gzip = source::is_gzip(&mut f)?;
        Ok((f, len, gzip))
    };
    let (file, total, gzip) = open().map_err(|e| ParseError::from(e).with_path(path))?;
    if !gzip {
        return parse_sized(file, Some(total), opts, &mut |n| progress(n, total))
            .map_err(|e| e.with_path(path));
    }
    let taken = AtomicU64::new(0);
    // Deflate expands at most 1032:1, which bounds the inflated document.
    let inflated_max = total.saturating_mul(1032);
    source::with_inflated(file, &taken, |inflated| {
        parse_sized(&mut *inflated, Some(inflated_max), opts, &mut |_| {
            progress(taken.load(Ordering::Relaxed), total)
        })
        .map_err(|e| source::gzip_failure(e, inflated, &taken))
    })
    .map_err(|e| e.with_path(path))
}
