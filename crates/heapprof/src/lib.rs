//! Sampled heap profiles as pprof (`profile.proto`, gzipped): the format `go tool pprof`,
//! Pyroscope, Grafana and Datadog read. A profile here is a frame table and stacks with an
//! estimated object count and byte size each, the two sample types `inuse_objects` and
//! `inuse_space`; this crate encodes that with `prost` and decodes it back (from any pprof
//! heap profile that carries those two sample types, plain or gzipped).
//!
//! A caller starts from [`encode_gz`] and [`decode`] (a [`HeapProfile`] each way), and for the
//! sampler that runs in the process from [`live::parse_json`] (one read of V8's profile),
//! [`live::SiteRecorder`] (which sites grew between reads) and [`live::profile_rows`] (a read as
//! a [`HeapProfile`]). The native module only converts these to and from JS values, so all of it
//! is tested here without Node.

#![warn(missing_docs)]

pub mod live;
mod proto;

use std::collections::HashMap;
use std::io::{Read, Write};

use prost::Message;

/// One stack frame: a function and the position V8 reports for it (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The function's name (`0x…` for a decoded location that has no symbols).
    pub name: String,
    /// The script's URL or path; empty for V8's own entries.
    pub url: String,
    /// The line of the position.
    pub line: i64,
    /// The column of the position.
    pub column: i64,
}

/// A stack (indices into the frame table, the allocating frame first) and what is live there.
#[derive(Debug, Clone, PartialEq)]
pub struct StackSample {
    /// Indices into [`HeapProfile::frames`], the allocating frame first.
    pub stack: Vec<usize>,
    /// Estimated live objects (`inuse_objects`).
    pub objects: i64,
    /// Estimated live bytes (`inuse_space`).
    pub bytes: i64,
}

/// A live heap profile, in the terms pprof keeps of one: what [`encode_gz`] writes and
/// [`decode`] gives back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeapProfile {
    /// The frame table, each frame once, so stacks share their frames.
    pub frames: Vec<Frame>,
    /// One entry per stack.
    pub samples: Vec<StackSample>,
    /// The sampling interval in bytes (pprof's `period`), 0 when unknown.
    pub interval: i64,
    /// When the profile was taken, ns since the epoch (0 when unknown).
    pub time_nanos: i64,
}

/// Why bytes are not a heap profile this crate can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Damaged or cut-off gzip data.
    Gzip(String),
    /// Not a protobuf `Profile` message.
    Protobuf(String),
    /// A profile, but not of live heap: it lacks `inuse_space` (or `space`) and
    /// `inuse_objects` (or `objects`) sample types.
    NotHeap(String),
    /// Indices that point nowhere.
    Inconsistent(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Gzip(e) => write!(f, "damaged gzip data: {e}"),
            DecodeError::Protobuf(e) => write!(f, "not a pprof profile (protobuf): {e}"),
            DecodeError::NotHeap(e) => write!(f, "not a heap profile: {e}"),
            DecodeError::Inconsistent(e) => write!(f, "inconsistent pprof profile: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Interns strings into pprof's string table (index 0 is the empty string, as the format asks).
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.id("");
        s
    }
    fn id(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_owned());
        self.index.insert(s.to_owned(), i);
        i
    }
}

/// The pprof message for a profile: one function per (name, url, line), one location per
/// frame, one sample per stack; samples with nothing live are left out.
pub(crate) fn to_proto(p: &HeapProfile) -> proto::Profile {
    let mut strings = Strings::new();
    let value_type = |strings: &mut Strings, t: &str, u: &str| proto::ValueType {
        r#type: strings.id(t),
        unit: strings.id(u),
    };
    let sample_type = vec![
        value_type(&mut strings, "inuse_objects", "count"),
        value_type(&mut strings, "inuse_space", "bytes"),
    ];
    let period_type = Some(value_type(&mut strings, "space", "bytes"));
    let mut functions: Vec<proto::Function> = Vec::new();
    let mut function_ids: HashMap<(&str, &str, i64), u64> = HashMap::new();
    let mut locations = Vec::with_capacity(p.frames.len());
    for (i, f) in p.frames.iter().enumerate() {
        let key = (f.name.as_str(), f.url.as_str(), f.line);
        let function_id = *function_ids.entry(key).or_insert_with(|| {
            let id = functions.len() as u64 + 1;
            functions.push(proto::Function {
                id,
                name: strings.id(&f.name),
                system_name: strings.id(&f.name),
                filename: strings.id(&f.url),
                start_line: f.line,
            });
            id
        });
        locations.push(proto::Location {
            id: i as u64 + 1,
            mapping_id: 0,
            address: 0,
            line: vec![proto::Line {
                function_id,
                line: f.line,
                column: f.column,
            }],
            is_folded: false,
        });
    }
    let sample = p
        .samples
        .iter()
        .filter(|s| s.objects != 0 || s.bytes != 0)
        .map(|s| proto::Sample {
            location_id: s.stack.iter().map(|&i| i as u64 + 1).collect(),
            value: vec![s.objects, s.bytes],
            label: Vec::new(),
        })
        .collect();
    proto::Profile {
        sample_type,
        sample,
        location: locations,
        function: functions,
        string_table: strings.table,
        time_nanos: p.time_nanos,
        period_type,
        period: p.interval,
        default_sample_type: 2,
        ..Default::default()
    }
}

/// The gzipped protobuf, as pprof files are stored (`.pb.gz`).
pub fn encode_gz(p: &HeapProfile) -> Vec<u8> {
    let raw = to_proto(p).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    gz.write_all(&raw).expect("gzip into memory");
    gz.finish().expect("gzip into memory")
}

/// Reads a pprof heap profile, gzipped (told by its first bytes) or not.
pub fn decode(bytes: &[u8]) -> Result<HeapProfile, DecodeError> {
    let raw;
    let data = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| DecodeError::Gzip(e.to_string()))?;
        raw = out;
        &raw[..]
    } else {
        bytes
    };
    let msg = proto::Profile::decode(data).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    from_proto(&msg)
}

fn from_proto(msg: &proto::Profile) -> Result<HeapProfile, DecodeError> {
    let string = |i: i64| -> Result<&str, DecodeError> {
        usize::try_from(i)
            .ok()
            .and_then(|i| msg.string_table.get(i))
            .map(String::as_str)
            .ok_or_else(|| DecodeError::Inconsistent(format!("string index {i} out of range")))
    };
    let mut types = Vec::with_capacity(msg.sample_type.len());
    for t in &msg.sample_type {
        types.push(string(t.r#type)?);
    }
    let find = |names: &[&str]| types.iter().position(|t| names.contains(t));
    let space = find(&["inuse_space", "space"]);
    let objects = find(&["inuse_objects", "objects"]);
    let (Some(space), Some(objects)) = (space, objects) else {
        return Err(DecodeError::NotHeap(format!(
            "sample types are [{}], not inuse_space and inuse_objects",
            types.join(", ")
        )));
    };
    let functions: HashMap<u64, &proto::Function> =
        msg.function.iter().map(|f| (f.id, f)).collect();
    // Each location expands to its lines, innermost (inlined) first, as pprof orders them.
    let mut frames: Vec<Frame> = Vec::new();
    let mut frame_ids: HashMap<Frame, usize> = HashMap::new();
    let mut location_frames: HashMap<u64, Vec<usize>> = HashMap::new();
    for loc in &msg.location {
        let mut ids = Vec::with_capacity(loc.line.len());
        for line in &loc.line {
            let f = functions.get(&line.function_id).ok_or_else(|| {
                DecodeError::Inconsistent(format!(
                    "location {} names function {}, which is not in the profile",
                    loc.id, line.function_id
                ))
            })?;
            let frame = Frame {
                name: string(f.name)?.to_owned(),
                url: string(f.filename)?.to_owned(),
                line: line.line,
                column: line.column,
            };
            let next = frames.len();
            let id = *frame_ids.entry(frame.clone()).or_insert(next);
            if id == next {
                frames.push(frame);
            }
            ids.push(id);
        }
        if ids.is_empty() {
            // An address without symbols: one frame named by its address.
            let frame = Frame {
                name: format!("0x{:x}", loc.address),
                url: String::new(),
                line: 0,
                column: 0,
            };
            let next = frames.len();
            let id = *frame_ids.entry(frame.clone()).or_insert(next);
            if id == next {
                frames.push(frame);
            }
            ids.push(id);
        }
        location_frames.insert(loc.id, ids);
    }
    let mut samples = Vec::with_capacity(msg.sample.len());
    for s in &msg.sample {
        if s.value.len() != types.len() {
            return Err(DecodeError::Inconsistent(format!(
                "a sample has {} values for {} sample types",
                s.value.len(),
                types.len()
            )));
        }
        let mut stack = Vec::with_capacity(s.location_id.len());
        for id in &s.location_id {
            let ids = location_frames.get(id).ok_or_else(|| {
                DecodeError::Inconsistent(format!(
                    "a sample names location {id}, which is not in the profile"
                ))
            })?;
            stack.extend_from_slice(ids);
        }
        samples.push(StackSample {
            stack,
            objects: s.value[objects],
            bytes: s.value[space],
        });
    }
    Ok(HeapProfile {
        frames,
        samples,
        interval: msg.period,
        time_nanos: msg.time_nanos,
    })
}

#[cfg(test)]
mod tests;
