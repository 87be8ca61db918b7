//! pprof files of sampled heap profiles: the JS layer flattens a profile into frames and
//! stacks, `heapprof` encodes and decodes. Conversion only.

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A frame as `heapprof::Frame`: 1-based line and column, 0 when unknown.
#[napi(object)]
pub struct PprofFrame {
    pub name: String,
    pub url: String,
    pub line: f64,
    pub column: f64,
}

/// A stack, allocating frame first (indices into `frames`), and what is live there.
#[napi(object)]
pub struct PprofSample {
    pub stack: Vec<u32>,
    pub objects: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct PprofProfile {
    pub frames: Vec<PprofFrame>,
    pub samples: Vec<PprofSample>,
    /// Sampling interval in bytes, 0 when unknown.
    pub interval: f64,
    /// When it was taken, ms since the epoch, 0 when unknown.
    pub time_ms: f64,
}

fn to_crate(p: PprofProfile) -> Result<heapprof::HeapProfile> {
    let n = p.frames.len();
    let mut samples = Vec::with_capacity(p.samples.len());
    for s in p.samples {
        if let Some(&bad) = s.stack.iter().find(|&&i| i as usize >= n) {
            return Err(Error::new(
                Status::InvalidArg,
                format!("frame index {bad} out of range ({n} frames)"),
            ));
        }
        samples.push(heapprof::StackSample {
            stack: s.stack.into_iter().map(|i| i as usize).collect(),
            objects: s.objects.round() as i64,
            bytes: s.bytes.round() as i64,
        });
    }
    Ok(heapprof::HeapProfile {
        frames: p
            .frames
            .into_iter()
            .map(|f| heapprof::Frame {
                name: f.name,
                url: f.url,
                line: f.line as i64,
                column: f.column as i64,
            })
            .collect(),
        samples,
        interval: p.interval as i64,
        time_nanos: (p.time_ms * 1e6) as i64,
    })
}

/// Gzipped pprof protobuf with `inuse_objects`/`inuse_space` sample types.
#[napi(catch_unwind)]
pub fn encode_heap_pprof(profile: PprofProfile) -> Result<Buffer> {
    Ok(heapprof::encode_gz(&to_crate(profile)?).into())
}

/// Reads a pprof heap profile (gzipped or not); the error says why bytes are not one.
#[napi(catch_unwind)]
pub fn decode_heap_pprof(data: Buffer) -> Result<PprofProfile> {
    let p = heapprof::decode(&data).map_err(|e| Error::from_reason(e.to_string()))?;
    Ok(p.into())
}

impl From<heapprof::HeapProfile> for PprofProfile {
    fn from(p: heapprof::HeapProfile) -> Self {
        PprofProfile {
            frames: p
                .frames
                .into_iter()
                .map(|f| PprofFrame {
                    name: f.name,
                    url: f.url,
                    line: f.line as f64,
                    column: f.column as f64,
                })
                .collect(),
            samples: p
                .samples
                .into_iter()
                .map(|s| PprofSample {
                    stack: s.stack.into_iter().map(|i| i as u32).collect(),
                    objects: s.objects as f64,
                    bytes: s.bytes as f64,
                })
                .collect(),
            interval: p.interval as f64,
            time_ms: p.time_nanos as f64 / 1e6,
        }
    }
}

/// Bytes as the other commands print them (`'1.5 mb'`), for `heapdiff profile`.
#[napi]
pub fn format_size(bytes: f64) -> String {
    memstats::format_size(bytes as i64)
}
