//! Snapshot handles: taking this thread's heap snapshot, or parsing a file, into Rust tables.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use heapsnap::{parse_streamed, ParseOptions, Snapshot, StreamError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use super::task::Work;
use crate::v8::snapshot::{take_and_stream, SnapshotError};

/// A parsed heap snapshot held in compact Rust tables (not on the JS heap).
#[napi]
#[derive(Default)]
pub struct HeapSnapshotHandle {
    inner: Option<Arc<Snapshot>>,
    taken_ms: f64,
}

/// The JS class of the handles: a `HeapDiff` or `checkLeaks` holds them across its snapshots,
/// and like the original we leave the tool's own objects out of its result.
pub(super) const JS_CLASS: &str = "HeapSnapshotHandle";

/// Ids of this module's own snapshot handles in `after` (what `checkLeaks` leaves out).
pub(super) fn own_object_ids(after: &Snapshot) -> Vec<u64> {
    after.object_ids_of_class(JS_CLASS)
}

impl HeapSnapshotHandle {
    pub(super) fn get(&self) -> Result<&Arc<Snapshot>> {
        self.inner
            .as_ref()
            .ok_or_else(|| Error::from_reason("this heap snapshot was already disposed"))
    }

    fn from_snapshot(snapshot: Snapshot) -> Self {
        HeapSnapshotHandle {
            inner: Some(Arc::new(snapshot)),
            taken_ms: crate::gc::state::now_ms(),
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

    /// Bytes its tables hold (0 once disposed): what a cache of loaded snapshots budgets.
    #[napi(catch_unwind, getter)]
    pub fn bytes(&self) -> f64 {
        self.inner
            .as_ref()
            .map_or(0.0, |s| s.heap_bytes_estimate() as f64)
    }
}

/// Takes a snapshot of this thread's heap, parsed as V8 writes it. GCs that V8 runs for the
/// snapshot are hidden from `stats`.
fn take_snapshot(env: &Env, keep_edges: bool) -> Result<Snapshot> {
    let state = env_state(env)?;
    let api = crate::v8::api()
        .map_err(|e| Error::from_reason(format!("cannot take a heap snapshot: {e}")))?;
    let snap_api = api
        .snapshot
        .as_ref()
        .map_err(|e| Error::from_reason(format!("cannot take a heap snapshot: {e}")))?;
    let isolate = state.js_isolate(env).ok_or_else(|| {
        Error::from_reason("cannot take a heap snapshot: no V8 isolate on this thread")
    })?;
    let parsed = parse_streamed(
        ParseOptions {
            keep_edges,
            devtools_edges: false,
        },
        |sink| {
            state.snapshot_depth.fetch_add(1, Ordering::AcqRel);
            let streamed = take_and_stream(snap_api, isolate, sink);
            state.snapshot_depth.fetch_sub(1, Ordering::AcqRel);
            streamed
        },
    )
    .map_err(|e| {
        Error::from_reason(match e {
            StreamError::Producer(SnapshotError::NotTaken) => {
                "V8 did not produce a heap snapshot".to_owned()
            }
            StreamError::Producer(e) => format!("heap snapshot streaming failed: {e:?}"),
            e => e.to_string(),
        })
    });
    crate::alloc::return_freed_memory();
    parsed
}

/// Turns V8's allocation tracking for this thread's isolate on or off directly (what
/// `HeapProfiler.startTrackingHeapObjects({ trackAllocations: true })` does inside V8). Returns
/// false, doing nothing, where the entry points cannot be reached; the JS layer then uses the
/// inspector. The JS layer counts users: V8 keeps one tracker per isolate.
#[napi(catch_unwind)]
pub fn track_allocations(env: Env, on: bool) -> Result<bool> {
    let state = env_state(&env)?;
    let Ok(api) = crate::v8::api() else {
        return Ok(false);
    };
    let Ok(t) = api.tracking.as_ref() else {
        return Ok(false);
    };
    let Some(isolate) = state.js_isolate(&env) else {
        return Ok(false);
    };
    Ok(crate::v8::profiler::track_allocations(t, isolate, on))
}

/// `keep_edges` keeps the graph for retainer paths and retained sizes (about 9 bytes per edge).
#[napi(catch_unwind)]
pub fn take_heap_snapshot(env: Env, keep_edges: Option<bool>) -> Result<HeapSnapshotHandle> {
    let snapshot = take_snapshot(&env, keep_edges.unwrap_or(false))?;
    Ok(HeapSnapshotHandle::from_snapshot(snapshot))
}

/// Loads a `.heapsnapshot` file on the thread pool, for many questions about it (`heapdiff mcp`),
/// with DevTools' view settled (its class names) and, with `keep_edges`, the whole graph (retained
/// sizes and paths; about 9 bytes per edge more, and a slower parse).
#[napi(catch_unwind, ts_return_type = "Promise<HeapSnapshotHandle>")]
pub fn load_snapshot_file(path: String, keep_edges: bool) -> AsyncTask<Work<HeapSnapshotHandle>> {
    Work::spawn(move || {
        let snapshot = heapsnap::load_file(heapsnap::FileToLoad {
            path: Path::new(&path),
            parse: ParseOptions {
                keep_edges,
                devtools_edges: true,
            },
            progress: &heapsnap::Progress::default(),
        })
        .map_err(|e| Error::from_reason(e.to_string()));
        crate::alloc::return_freed_memory();
        Ok(HeapSnapshotHandle::from_snapshot(snapshot?))
    })
}

/// Parses a `.heapsnapshot` file on the JS thread. The fallback `HeapDiff` uses it where V8's
/// snapshot entry points cannot be reached: `v8.writeHeapSnapshot()` then this, synchronously.
#[napi(catch_unwind)]
pub fn parse_snapshot_file(path: String, keep_edges: Option<bool>) -> Result<HeapSnapshotHandle> {
    let snapshot = heapsnap::load_file(heapsnap::FileToLoad {
        path: Path::new(&path),
        parse: ParseOptions {
            keep_edges: keep_edges.unwrap_or(false),
            devtools_edges: false,
        },
        progress: &heapsnap::Progress::default(),
    })
    .map_err(|e| Error::from_reason(e.to_string()));
    crate::alloc::return_freed_memory();
    Ok(HeapSnapshotHandle::from_snapshot(snapshot?))
}
