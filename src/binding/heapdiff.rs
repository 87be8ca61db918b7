//! JS-facing snapshot and diff functions: conversion only; parsing and diffing live in
//! `heapsnap`, V8 access in `crate::v8::snapshot`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread;

use heapsnap::diff::{diff, Diff, DiffOptions, Grouping};
use heapsnap::snapshot::parse::{parse_file, ParseOptions, SnapshotParser};
use heapsnap::snapshot::table::Snapshot;
use memstats::format::format_size;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use crate::v8::snapshot::{take_and_stream, SnapshotError};

/// Chunks in flight between V8's serializer and the parser thread; bounds the copy buffer to a
/// few MiB however large the heap is.
const CHUNKS_IN_FLIGHT: usize = 32;

/// A parsed heap snapshot held in compact Rust tables (not on the JS heap).
#[napi]
pub struct HeapSnapshotHandle {
    inner: Option<Arc<Snapshot>>,
    taken_ms: f64,
}

impl HeapSnapshotHandle {
    fn get(&self) -> Result<&Arc<Snapshot>> {
        self.inner
            .as_ref()
            .ok_or_else(|| Error::from_reason("this heap snapshot was already disposed"))
    }
}

#[napi]
impl HeapSnapshotHandle {
    #[napi(catch_unwind, getter)]
    pub fn node_count(&self) -> Result<f64> {
        Ok(self.get()?.node_count() as f64)
    }

    #[napi(catch_unwind, getter)]
    pub fn edge_count(&self) -> Result<f64> {
        Ok(self.get()?.edge_count() as f64)
    }

    #[napi(catch_unwind, getter)]
    pub fn total_size(&self) -> Result<f64> {
        Ok(self.get()?.total_self_size() as f64)
    }

    /// Frees the tables now instead of whenever the JS wrapper is collected (they can be large).
    #[napi(catch_unwind)]
    pub fn dispose(&mut self) {
        self.inner = None;
    }

    /// When the snapshot was taken (or the file parsed), ms since the epoch.
    #[napi(catch_unwind, getter)]
    pub fn taken_ms(&self) -> f64 {
        self.taken_ms
    }
}

/// Takes a snapshot of this thread's heap, parsing V8's JSON stream on a second thread as it is
/// written. GCs that V8 runs for the snapshot are hidden from `stats`.
fn take_snapshot(env: &Env) -> Result<Snapshot> {
    let state = env_state(env)?;
    let api = crate::v8::api()
        .map_err(|e| Error::from_reason(format!("cannot take a heap snapshot: {e}")))?;
    let snap_api = api
        .snapshot
        .as_ref()
        .map_err(|e| Error::from_reason(format!("cannot take a heap snapshot: {e}")))?;
    if state.isolate.is_null() {
        return Err(Error::from_reason(
            "cannot take a heap snapshot: no V8 isolate on this thread",
        ));
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let parser = thread::Builder::new()
        .name("heapdiff-parse".into())
        .spawn(move || {
            let mut p = SnapshotParser::new(ParseOptions::default());
            for chunk in rx {
                p.feed(&chunk)?;
            }
            p.finish()
        })
        .map_err(|e| Error::from_reason(format!("cannot start the parser thread: {e}")))?;
    state.snapshot_depth.fetch_add(1, Ordering::AcqRel);
    let mut sink = |bytes: &[u8]| tx.send(bytes.to_vec()).is_ok();
    // SAFETY: on the isolate's JS thread, outside GC callbacks, with a live isolate.
    let streamed = unsafe { take_and_stream(snap_api, state.isolate, &mut sink) };
    state.snapshot_depth.fetch_sub(1, Ordering::AcqRel);
    drop(tx);
    let parsed = parser
        .join()
        .map_err(|_| Error::from_reason("the snapshot parser thread panicked"))?;
    match (streamed, parsed) {
        (Ok(()), Ok(snapshot)) => Ok(snapshot),
        // The parser's error explains an abort it caused.
        (_, Err(e)) => Err(Error::from_reason(e.to_string())),
        (Err(SnapshotError::NotTaken), _) => {
            Err(Error::from_reason("V8 did not produce a heap snapshot"))
        }
        (Err(e), _) => Err(Error::from_reason(format!(
            "heap snapshot streaming failed: {e:?}"
        ))),
    }
}

#[napi(catch_unwind)]
pub fn take_heap_snapshot(env: Env) -> Result<HeapSnapshotHandle> {
    let snapshot = take_snapshot(&env)?;
    Ok(HeapSnapshotHandle {
        inner: Some(Arc::new(snapshot)),
        taken_ms: crate::gc::state::now_ms(),
    })
}

/// Parses a `.heapsnapshot` file on the JS thread. The fallback `HeapDiff` uses it where V8's
/// snapshot entry points cannot be reached: `v8.writeHeapSnapshot()` then this, synchronously.
#[napi(catch_unwind)]
pub fn parse_snapshot_file(path: String) -> Result<HeapSnapshotHandle> {
    let snapshot = parse_file(Path::new(&path), ParseOptions::default(), &mut |_, _| {})
        .map_err(|e| Error::from_reason(format!("{path}: {e}")))?;
    Ok(HeapSnapshotHandle {
        inner: Some(Arc::new(snapshot)),
        taken_ms: crate::gc::state::now_ms(),
    })
}

#[napi(object)]
pub struct TotalsJs {
    pub nodes: f64,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
}

#[napi(object)]
pub struct ClassChangeJs {
    pub what: String,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    /// The classic `'+'` column.
    pub allocated: f64,
    /// The classic `'-'` column.
    pub freed: f64,
    #[napi(js_name = "allocated_bytes")]
    pub allocated_bytes: f64,
    #[napi(js_name = "freed_bytes")]
    pub freed_bytes: f64,
}

#[napi(object)]
pub struct DiffJs {
    pub before: TotalsJs,
    pub after: TotalsJs,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    #[napi(js_name = "freed_nodes")]
    pub freed_nodes: f64,
    #[napi(js_name = "allocated_nodes")]
    pub allocated_nodes: f64,
    pub details: Vec<ClassChangeJs>,
}

fn totals_js(nodes: u64, size_bytes: u64) -> TotalsJs {
    TotalsJs {
        nodes: nodes as f64,
        size_bytes: size_bytes as f64,
        size: format_size(size_bytes as i64),
    }
}

fn diff_js(d: Diff) -> DiffJs {
    DiffJs {
        before: totals_js(d.before.nodes, d.before.size_bytes),
        after: totals_js(d.after.nodes, d.after.size_bytes),
        size_bytes: d.size_bytes as f64,
        size: format_size(d.size_bytes),
        freed_nodes: d.freed_nodes as f64,
        allocated_nodes: d.allocated_nodes as f64,
        details: d
            .details
            .into_iter()
            .map(|c| ClassChangeJs {
                size: format_size(c.size_bytes),
                what: c.what,
                size_bytes: c.size_bytes as f64,
                allocated: c.allocated as f64,
                freed: c.freed as f64,
                allocated_bytes: c.allocated_bytes as f64,
                freed_bytes: c.freed_bytes as f64,
            })
            .collect(),
    }
}

fn grouping(name: Option<&str>) -> Result<Grouping> {
    match name.unwrap_or("classic") {
        "classic" => Ok(Grouping::Classic),
        "devtools" => Ok(Grouping::DevTools),
        other => Err(Error::new(
            Status::InvalidArg,
            format!("grouping must be 'classic' or 'devtools', got {other:?}"),
        )),
    }
}

#[napi(object)]
pub struct DiffOptionsJs {
    /// `'classic'` (memwatch's `what`, default) or `'devtools'` (DevTools' class names).
    pub grouping: Option<String>,
}

fn diff_options(opts: Option<DiffOptionsJs>) -> Result<DiffOptions> {
    Ok(DiffOptions {
        grouping: grouping(opts.as_ref().and_then(|o| o.grouping.as_deref()))?,
        exclude_ids: Vec::new(),
    })
}

/// The JS class of our own snapshot handles: a `HeapDiff` creates them between its two
/// snapshots, and like the original we leave the diff's own objects out of its result.
const OWN_CLASS: &str = "HeapSnapshotHandle";

fn in_process_options(after: &Snapshot, opts: Option<DiffOptionsJs>) -> Result<DiffOptions> {
    let mut o = diff_options(opts)?;
    o.exclude_ids = (0..after.node_count())
        .filter(|&i| after.node_type_name(i) == "object" && after.node_name(i) == OWN_CLASS)
        .map(|i| after.node_id(i))
        .collect();
    Ok(o)
}

/// Diffs two snapshots on the JS thread (the classic synchronous `end()`).
#[napi(catch_unwind)]
pub fn diff_snapshots(
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptionsJs>,
) -> Result<DiffJs> {
    let (before, after) = (before.get()?, after.get()?);
    let opts = in_process_options(after, opts)?;
    Ok(diff_js(diff(before, after, &opts)))
}

pub struct DiffTask {
    before: Arc<Snapshot>,
    after: Arc<Snapshot>,
    opts: DiffOptions,
}

impl Task for DiffTask {
    type Output = Diff;
    type JsValue = DiffJs;

    fn compute(&mut self) -> Result<Diff> {
        contained(|| Ok(diff(&self.before, &self.after, &self.opts)))
    }

    fn resolve(&mut self, _env: Env, output: Diff) -> Result<DiffJs> {
        Ok(diff_js(output))
    }
}

/// Runs work on a thread-pool thread; a panic there would abort the host process, so it
/// becomes a JS error instead.
fn contained<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::from_reason(
            "internal error: heapdiff panicked (please report)",
        ))
    })
}

/// The same diff on the libuv thread pool, for services that must not block.
#[napi(catch_unwind, ts_return_type = "Promise<DiffJs>")]
pub fn diff_snapshots_async(
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptionsJs>,
) -> Result<AsyncTask<DiffTask>> {
    let after = after.get()?.clone();
    Ok(AsyncTask::new(DiffTask {
        before: before.get()?.clone(),
        opts: in_process_options(&after, opts)?,
        after,
    }))
}

/// Progress of a file diff, readable from JS while the work runs on other threads.
#[derive(Default)]
struct Progress {
    read: AtomicU64,
    total: AtomicU64,
}

#[napi(object)]
pub struct ProgressJs {
    pub bytes_read: f64,
    pub total_bytes: f64,
}

pub struct FileDiffTask {
    before: PathBuf,
    after: PathBuf,
    opts: DiffOptions,
    progress: [Arc<Progress>; 2],
}

fn parse_with_progress(
    path: PathBuf,
    progress: Arc<Progress>,
) -> std::result::Result<Snapshot, String> {
    parse_file(&path, ParseOptions::default(), &mut |read, total| {
        progress.read.store(read, Ordering::Relaxed);
        progress.total.store(total, Ordering::Relaxed);
    })
    .map_err(|e| format!("{}: {e}", path.display()))
}

impl Task for FileDiffTask {
    type Output = Diff;
    type JsValue = DiffJs;

    fn compute(&mut self) -> Result<Diff> {
        contained(|| self.parse_and_diff())
    }

    fn resolve(&mut self, _env: Env, output: Diff) -> Result<DiffJs> {
        Ok(diff_js(output))
    }
}

impl FileDiffTask {
    fn parse_and_diff(&self) -> Result<Diff> {
        // Both files parse at once: on a multi-core machine that halves the wall time, and the
        // memory is the two compact tables either way.
        let (pa, pb) = (self.progress[0].clone(), self.progress[1].clone());
        let before = self.before.clone();
        let other = thread::Builder::new()
            .name("heapdiff-parse".into())
            .spawn(move || parse_with_progress(before, pa))
            .map_err(|e| Error::from_reason(format!("cannot start a parser thread: {e}")))?;
        let after = parse_with_progress(self.after.clone(), pb);
        let before = other
            .join()
            .map_err(|_| Error::from_reason("a snapshot parser thread panicked"))?;
        let (before, after) = (
            before.map_err(Error::from_reason)?,
            after.map_err(Error::from_reason)?,
        );
        Ok(diff(&before, &after, &self.opts))
    }
}

/// A running diff of two `.heapsnapshot` files. Start it with `run()`; poll `progress()`.
#[napi]
pub struct FileDiffJob {
    before: PathBuf,
    after: PathBuf,
    grouping: Grouping,
    progress: [Arc<Progress>; 2],
}

#[napi]
impl FileDiffJob {
    #[napi(catch_unwind, constructor)]
    pub fn new(before: String, after: String, opts: Option<DiffOptionsJs>) -> Result<Self> {
        Ok(FileDiffJob {
            before: before.into(),
            after: after.into(),
            grouping: diff_options(opts)?.grouping,
            progress: Default::default(),
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<DiffJs>")]
    pub fn run(&self) -> AsyncTask<FileDiffTask> {
        AsyncTask::new(FileDiffTask {
            before: self.before.clone(),
            after: self.after.clone(),
            opts: DiffOptions {
                grouping: self.grouping,
                exclude_ids: Vec::new(),
            },
            progress: self.progress.clone(),
        })
    }

    #[napi(catch_unwind)]
    pub fn progress(&self) -> ProgressJs {
        let sum = |f: fn(&Progress) -> u64| self.progress.iter().map(|p| f(p)).sum::<u64>() as f64;
        ProgressJs {
            bytes_read: sum(|p| p.read.load(Ordering::Relaxed)),
            total_bytes: sum(|p| p.total.load(Ordering::Relaxed)),
        }
    }
}
