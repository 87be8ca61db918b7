//! JS-facing snapshot and diff functions: conversion only; parsing and diffing live in
//! `heapsnap`, V8 access in `crate::v8::snapshot`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::thread;

use heapsnap::diff::{diff, unmatched_nodes as unmatched, Diff, DiffOptions, Grouping};
use heapsnap::snapshot::parse::{parse_file, ParseOptions, SnapshotParser};
use heapsnap::snapshot::table::Snapshot;
use memstats::format_size;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use super::retain::{class_js, ClassRetentionJs, RetainerPathJs};
use crate::v8::snapshot::{take_and_stream, SnapshotError};
use heapsnap::graph::retention_of_new;
use heapsnap::own::{own_node_ids, retainers_of as holders_of, scripts_of, OwnCode};

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
    pub(super) fn get(&self) -> Result<&Arc<Snapshot>> {
        self.inner
            .as_ref()
            .ok_or_else(|| Error::from_reason("this heap snapshot was already disposed"))
    }
}

impl Default for HeapSnapshotHandle {
    fn default() -> Self {
        HeapSnapshotHandle {
            inner: None,
            taken_ms: 0.0,
        }
    }
}

#[napi]
impl HeapSnapshotHandle {
    /// An empty handle for `take`: a `HeapDiff` makes both of its handles before its first
    /// snapshot, so that their JS objects (and napi's wrapper objects and shapes) are in both
    /// snapshots instead of new in the second.
    #[napi(catch_unwind, constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a snapshot of this thread's heap into this handle (see `takeHeapSnapshot`);
    /// `takenMs` is then when it began, as memwatch's `before.time` was.
    #[napi(catch_unwind)]
    pub fn take(&mut self, env: Env, keep_edges: Option<bool>) -> Result<()> {
        let started = crate::gc::state::now_ms();
        let snapshot = take_snapshot(&env, keep_edges.unwrap_or(false))?;
        self.inner = Some(Arc::new(snapshot));
        self.taken_ms = started;
        Ok(())
    }

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
fn take_snapshot(env: &Env, keep_edges: bool) -> Result<Snapshot> {
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
            let mut p = SnapshotParser::new(ParseOptions { keep_edges });
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

/// `keep_edges` keeps the graph for retainer paths and retained sizes (about 9 bytes per edge).
#[napi(catch_unwind)]
pub fn take_heap_snapshot(env: Env, keep_edges: Option<bool>) -> Result<HeapSnapshotHandle> {
    let snapshot = take_snapshot(&env, keep_edges.unwrap_or(false))?;
    Ok(HeapSnapshotHandle {
        inner: Some(Arc::new(snapshot)),
        taken_ms: crate::gc::state::now_ms(),
    })
}

/// Parses a `.heapsnapshot` file on the JS thread. The fallback `HeapDiff` uses it where V8's
/// snapshot entry points cannot be reached: `v8.writeHeapSnapshot()` then this, synchronously.
#[napi(catch_unwind)]
pub fn parse_snapshot_file(path: String, keep_edges: Option<bool>) -> Result<HeapSnapshotHandle> {
    let opts = ParseOptions {
        keep_edges: keep_edges.unwrap_or(false),
    };
    let snapshot = parse_file(Path::new(&path), opts, &mut |_, _| {})
        .map_err(|e| Error::from_reason(named_error(Path::new(&path), &e)))?;
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
    /// With `retainers`: retained size of this class's new instances.
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: Option<f64>,
    #[napi(js_name = "retained_size")]
    pub retained_size: Option<String>,
    /// With `retainers`: shortest retaining paths of the new instances, grouped by shape.
    pub retainers: Option<Vec<RetainerPathJs>>,
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
    /// With `retainers`: the classes given retainers, owners before their parts.
    pub explained: Option<Vec<String>>,
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
                retained_size_bytes: None,
                retained_size: None,
                retainers: None,
            })
            .collect(),
        explained: None,
    }
}

pub(super) fn grouping(name: Option<&str>) -> Result<Grouping> {
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
    /// Add retained sizes and retainer paths for the classes that grew most (the second
    /// snapshot must keep its edges).
    pub retainers: Option<bool>,
    /// How many grown classes (by new instances) get retainers (default 10).
    #[napi(js_name = "retainerClasses")]
    pub retainer_classes: Option<u32>,
    /// Path groups per class (default 5).
    #[napi(js_name = "maxPaths")]
    pub max_paths: Option<u32>,
    /// In process: script names of heapdiff's own JS files, whose compiled code and objects the
    /// diff leaves out (see `heapsnap::own`).
    #[napi(js_name = "ownScripts")]
    pub own_scripts: Option<Vec<String>>,
}

fn diff_options(opts: Option<DiffOptionsJs>) -> Result<DiffOptions> {
    Ok(DiffOptions {
        grouping: grouping(opts.as_ref().and_then(|o| o.grouping.as_deref()))?,
        exclude_ids: Vec::new(),
        match_embedder_nodes: false,
    })
}

/// JS classes of this module's own objects: a `HeapDiff` and its snapshot handles exist
/// between its two snapshots, and like the original we leave the diff's own objects out.
const OWN_CLASSES: [&str; 2] = ["HeapSnapshotHandle", "HeapDiff"];

/// Ids of this module's own snapshot handles in `after` (what `checkLeaks` leaves out).
pub(super) fn own_object_ids(after: &Snapshot) -> Vec<u64> {
    (0..after.node_count())
        .filter(|&i| after.node_type_name(i) == "object" && after.node_name(i) == OWN_CLASSES[0])
        .map(|i| after.node_id(i))
        .collect()
}

/// An in-process diff leaves heapdiff's own making out and pairs renumbered embedder nodes.
fn in_process_options(
    before: &Snapshot,
    after: &Snapshot,
    opts: Option<DiffOptionsJs>,
) -> Result<DiffOptions> {
    let (mut o, own) = in_process_parts(opts)?;
    o.exclude_ids = own_node_ids(before, after, &own);
    Ok(o)
}

/// The options and what to leave out, before the (linear) search for heapdiff's own nodes,
/// which `endAsync` runs on the thread pool.
fn in_process_parts(opts: Option<DiffOptionsJs>) -> Result<(DiffOptions, OwnCode)> {
    let own = OwnCode {
        scripts: opts
            .as_ref()
            .and_then(|o| o.own_scripts.clone())
            .unwrap_or_default(),
        classes: OWN_CLASSES.iter().map(|c| c.to_string()).collect(),
        existing_code: true,
    };
    let mut o = diff_options(opts)?;
    o.match_embedder_nodes = true;
    Ok((o, own))
}

/// Diffs two snapshots on the JS thread (the classic synchronous `end()`).
#[napi(catch_unwind)]
pub fn diff_snapshots(
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptionsJs>,
) -> Result<DiffJs> {
    let (before, after) = (before.get()?, after.get()?);
    let retainers = retainers_of(opts.as_ref());
    let opts = in_process_options(before, after, opts)?;
    explained_diff(before, after, &opts, retainers)
}

/// A node an in-process diff counted, for tests that check what a no-op diff is made of.
#[napi(object)]
pub struct UnmatchedNodeJs {
    /// `'+'` (allocated) or `'-'` (freed).
    pub side: String,
    pub id: f64,
    #[napi(js_name = "type")]
    pub node_type: String,
    pub name: String,
    pub size: f64,
    /// Scripts the node belongs to as far as the snapshot's edges tell.
    pub scripts: Vec<String>,
    /// What holds it (allocated nodes of a snapshot with edges): `type "name".edge`.
    pub retainers: Vec<String>,
}

/// The nodes behind `diffSnapshots`' `allocated_nodes` and `freed_nodes`, same rules.
#[napi(catch_unwind)]
pub fn unmatched_nodes(
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptionsJs>,
) -> Result<Vec<UnmatchedNodeJs>> {
    let (before, after) = (before.get()?, after.get()?);
    let opts = in_process_options(before, after, opts)?;
    let listed = unmatched(before, after, &opts);
    let new: Vec<usize> = listed
        .iter()
        .filter(|u| u.allocated)
        .map(|u| u.index)
        .collect();
    let mut held = holders_of(after, &new).into_iter();
    Ok(listed
        .into_iter()
        .map(|u| {
            let snap = if u.allocated { after } else { before };
            UnmatchedNodeJs {
                side: if u.allocated { "+" } else { "-" }.into(),
                id: snap.node_id(u.index) as f64,
                node_type: snap.node_type_name(u.index).into(),
                name: snap.node_name(u.index).into(),
                size: snap.self_size(u.index) as f64,
                scripts: scripts_of(snap, u.index),
                retainers: if u.allocated {
                    held.next().unwrap_or_default()
                } else {
                    Vec::new()
                },
            }
        })
        .collect())
}

pub struct DiffTask {
    before: Arc<Snapshot>,
    after: Arc<Snapshot>,
    opts: DiffOptions,
    own: OwnCode,
    retainers: Option<Retainers>,
}

impl Task for DiffTask {
    type Output = DiffJs;
    type JsValue = DiffJs;

    fn compute(&mut self) -> Result<DiffJs> {
        contained(|| {
            self.opts.exclude_ids = own_node_ids(&self.before, &self.after, &self.own);
            explained_diff(&self.before, &self.after, &self.opts, self.retainers)
        })
    }

    fn resolve(&mut self, _env: Env, output: DiffJs) -> Result<DiffJs> {
        Ok(output)
    }
}

/// Runs work on a thread-pool thread; a panic there would abort the host process, so it
/// becomes a JS error instead.
pub(super) fn contained<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
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
    let retainers = retainers_of(opts.as_ref());
    let (opts, own) = in_process_parts(opts)?;
    Ok(AsyncTask::new(DiffTask {
        before: before.get()?.clone(),
        after: after.get()?.clone(),
        opts,
        own,
        retainers,
    }))
}

/// Progress of a file diff, readable from JS while the work runs on other threads.
#[derive(Default)]
pub(super) struct Progress {
    read: AtomicU64,
    total: AtomicU64,
}

#[napi(object)]
pub struct ProgressJs {
    pub bytes_read: f64,
    pub total_bytes: f64,
}

impl ProgressJs {
    pub(super) fn sum(parts: &[Arc<Progress>]) -> Self {
        let sum = |f: fn(&Progress) -> u64| parts.iter().map(|p| f(p)).sum::<u64>() as f64;
        ProgressJs {
            bytes_read: sum(|p| p.read.load(Ordering::Relaxed)),
            total_bytes: sum(|p| p.total.load(Ordering::Relaxed)),
        }
    }
}

pub struct FileDiffTask {
    before: PathBuf,
    after: PathBuf,
    opts: DiffOptions,
    retainers: Option<Retainers>,
    progress: [Arc<Progress>; 2],
}

/// What a diff with `retainers` analyses.
#[derive(Clone, Copy)]
struct Retainers {
    classes: usize,
    max_paths: usize,
}

fn retainers_of(opts: Option<&DiffOptionsJs>) -> Option<Retainers> {
    opts.filter(|o| o.retainers == Some(true))
        .map(|o| Retainers {
            classes: o.retainer_classes.unwrap_or(10) as usize,
            max_paths: o.max_paths.unwrap_or(5) as usize,
        })
}

/// The diff, and with `retainers` the retained sizes and paths of the new instances of the
/// classes with most of them (`after` must keep its edges then). In process and on files alike.
fn explained_diff(
    before: &Snapshot,
    after: &Snapshot,
    opts: &DiffOptions,
    retainers: Option<Retainers>,
) -> Result<DiffJs> {
    let d = diff(before, after, opts);
    let Some(r) = retainers else {
        return Ok(diff_js(d));
    };
    let classes = grown_classes(&d, r.classes);
    let retention = retention_of_new(
        before,
        after,
        &classes,
        opts.grouping,
        &opts.exclude_ids,
        r.max_paths,
    )
    .map_err(|e| Error::from_reason(e.to_string()))?;
    let mut out = diff_js(d);
    out.explained = Some(retention.iter().map(|c| c.what.clone()).collect());
    attach_retention(&mut out, retention.into_iter().map(class_js).collect());
    Ok(out)
}

/// The error with the file it concerns; I/O errors name it already.
fn named_error(path: &Path, e: &heapsnap::ParseError) -> String {
    match e {
        heapsnap::ParseError::Io { path: Some(_), .. } => e.to_string(),
        _ => format!("{}: {e}", path.display()),
    }
}

pub(super) fn parse_with_progress(
    path: PathBuf,
    progress: Arc<Progress>,
    keep_edges: bool,
) -> std::result::Result<Snapshot, String> {
    parse_file(&path, ParseOptions { keep_edges }, &mut |read, total| {
        progress.read.store(read, Ordering::Relaxed);
        progress.total.store(total, Ordering::Relaxed);
    })
    .map_err(|e| named_error(&path, &e))
}

impl Task for FileDiffTask {
    type Output = DiffJs;
    type JsValue = DiffJs;

    fn compute(&mut self) -> Result<DiffJs> {
        contained(|| self.parse_and_diff())
    }

    fn resolve(&mut self, _env: Env, output: DiffJs) -> Result<DiffJs> {
        Ok(output)
    }
}

/// The grown classes worth explaining: most new instances first.
fn grown_classes(d: &Diff, n: usize) -> Vec<String> {
    let mut rows: Vec<&heapsnap::diff::ClassChange> =
        d.details.iter().filter(|c| c.allocated > 0).collect();
    rows.sort_by(|a, b| b.allocated.cmp(&a.allocated).then(a.what.cmp(&b.what)));
    rows.into_iter().take(n).map(|c| c.what.clone()).collect()
}

/// Adds retention figures to the rows of `out` they belong to.
fn attach_retention(out: &mut DiffJs, retention: Vec<ClassRetentionJs>) {
    for r in retention {
        if let Some(row) = out.details.iter_mut().find(|d| d.what == r.what) {
            row.retained_size_bytes = r.retained_size_bytes;
            row.retained_size = r.retained_size;
            row.retainers = Some(r.retainers);
        }
    }
}

impl FileDiffTask {
    fn parse_and_diff(&self) -> Result<DiffJs> {
        // Both files parse at once: on a multi-core machine that halves the wall time, and the
        // memory is the two compact tables either way.
        let (pa, pb) = (self.progress[0].clone(), self.progress[1].clone());
        let before = self.before.clone();
        let other = thread::Builder::new()
            .name("heapdiff-parse".into())
            .spawn(move || parse_with_progress(before, pa, false))
            .map_err(|e| Error::from_reason(format!("cannot start a parser thread: {e}")))?;
        let after = parse_with_progress(self.after.clone(), pb, self.retainers.is_some());
        let before = other
            .join()
            .map_err(|_| Error::from_reason("a snapshot parser thread panicked"))?;
        let (before, after) = (
            before.map_err(Error::from_reason)?,
            after.map_err(Error::from_reason)?,
        );
        explained_diff(&before, &after, &self.opts, self.retainers)
    }
}

/// A running diff of two `.heapsnapshot` files. Start it with `run()`; poll `progress()`.
#[napi]
pub struct FileDiffJob {
    before: PathBuf,
    after: PathBuf,
    grouping: Grouping,
    retainers: Option<Retainers>,
    progress: [Arc<Progress>; 2],
}

#[napi]
impl FileDiffJob {
    #[napi(catch_unwind, constructor)]
    pub fn new(before: String, after: String, opts: Option<DiffOptionsJs>) -> Result<Self> {
        let retainers = retainers_of(opts.as_ref());
        Ok(FileDiffJob {
            before: before.into(),
            after: after.into(),
            grouping: diff_options(opts)?.grouping,
            retainers,
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
                ..DiffOptions::default()
            },
            retainers: self.retainers,
            progress: self.progress.clone(),
        })
    }

    #[napi(catch_unwind)]
    pub fn progress(&self) -> ProgressJs {
        ProgressJs::sum(&self.progress)
    }
}
