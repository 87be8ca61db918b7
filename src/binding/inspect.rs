//! One-snapshot questions on a loaded snapshot (`heapdiff mcp`): a summary by class, one object
//! with its edges and retainers, and why a class's instances or one object are alive. Conversion
//! only: the answers are `heapsnap::graph::inspect`'s.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::options::grouping;
use super::retention::RetainerPath;
use super::snapshot::HeapSnapshotHandle;
use super::task::{failed, Work};

/// One class's figures in one snapshot.
#[napi(object)]
pub struct ClassFigures {
    pub what: String,
    pub count: f64,
    #[napi(js_name = "self_size")]
    pub self_size: f64,
    /// As DevTools' per-class retained size: instances no other instance of the class dominates,
    /// with all they retain.
    #[napi(js_name = "retained_size")]
    pub retained_size: f64,
}

/// `summarizeSnapshot`: the file's totals and its largest classes by count and by retained size.
#[napi(object)]
pub struct SnapshotSummary {
    #[napi(js_name = "node_count")]
    pub node_count: f64,
    #[napi(js_name = "edge_count")]
    pub edge_count: f64,
    #[napi(js_name = "total_size")]
    pub total_size: f64,
    #[napi(js_name = "class_count")]
    pub class_count: f64,
    #[napi(js_name = "by_count")]
    pub by_count: Vec<ClassFigures>,
    #[napi(js_name = "by_retained_size")]
    pub by_retained_size: Vec<ClassFigures>,
}

/// A node as a reader names it.
#[napi(object)]
pub struct NodeRef {
    /// V8's object id (`@id` in DevTools).
    pub id: f64,
    /// V8's node type (`object`, `closure`, `string`, ...).
    #[napi(js_name = "type")]
    pub node_type: String,
    pub what: String,
    #[napi(js_name = "self_size")]
    pub self_size: f64,
}

/// An edge from or to the inspected object.
#[napi(object)]
pub struct EdgeRef {
    #[napi(js_name = "type")]
    pub edge_type: String,
    /// Property name, or `[index]`.
    pub name: String,
    /// Whether the edge keeps its target alive (weak edges do not).
    pub retains: bool,
    /// The node at the other end.
    pub node: NodeRef,
}

/// `inspectObject`: one object, what it holds and what holds it, each list cut at the limit.
#[napi(object)]
pub struct ObjectView {
    pub node: NodeRef,
    #[napi(js_name = "retained_size")]
    pub retained_size: f64,
    /// Shortest retaining path from the GC roots; empty when unreachable.
    pub path: String,
    pub edges: Vec<EdgeRef>,
    /// All its edges, listed or not.
    #[napi(js_name = "edge_count")]
    pub edge_count: f64,
    /// Edges pointing at it, retaining ones first.
    pub retainers: Vec<EdgeRef>,
    /// All edges pointing at it, listed or not.
    #[napi(js_name = "retainer_count")]
    pub retainer_count: f64,
}

/// `classRetainers` / `objectRetainers`: why the instances of a class (or one object) are alive.
#[napi(object)]
pub struct Retainers {
    pub what: String,
    pub count: f64,
    #[napi(js_name = "retained_size")]
    pub retained_size: f64,
    /// Shortest retaining paths grouped by shape, largest group first.
    pub paths: Vec<RetainerPath>,
    /// Path groups beyond the limit asked for.
    #[napi(js_name = "paths_left_out")]
    pub paths_left_out: f64,
}

impl From<heapsnap::ClassFigures> for ClassFigures {
    fn from(c: heapsnap::ClassFigures) -> Self {
        ClassFigures {
            what: c.what,
            count: c.count as f64,
            self_size: c.self_size as f64,
            retained_size: c.retained_size as f64,
        }
    }
}

impl From<heapsnap::SnapshotSummary> for SnapshotSummary {
    fn from(s: heapsnap::SnapshotSummary) -> Self {
        SnapshotSummary {
            node_count: s.node_count as f64,
            edge_count: s.edge_count as f64,
            total_size: s.total_size as f64,
            class_count: s.class_count as f64,
            by_count: s.by_count.into_iter().map(Into::into).collect(),
            by_retained_size: s.by_retained_size.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<heapsnap::NodeRef> for NodeRef {
    fn from(n: heapsnap::NodeRef) -> Self {
        NodeRef {
            id: n.id as f64,
            node_type: n.node_type,
            what: n.what,
            self_size: n.self_size as f64,
        }
    }
}

impl From<heapsnap::EdgeRef> for EdgeRef {
    fn from(e: heapsnap::EdgeRef) -> Self {
        EdgeRef {
            edge_type: e.edge_type,
            name: e.name,
            retains: e.retains,
            node: e.node.into(),
        }
    }
}

impl From<heapsnap::ObjectView> for ObjectView {
    fn from(v: heapsnap::ObjectView) -> Self {
        ObjectView {
            node: v.node.into(),
            retained_size: v.retained_size as f64,
            path: v.path,
            edges: v.edges.into_iter().map(Into::into).collect(),
            edge_count: v.edge_count as f64,
            retainers: v.retainers.into_iter().map(Into::into).collect(),
            retainer_count: v.retainer_count as f64,
        }
    }
}

impl From<heapsnap::Retainers> for Retainers {
    fn from(r: heapsnap::Retainers) -> Self {
        Retainers {
            what: r.what,
            count: r.count as f64,
            retained_size: r.retained_size as f64,
            paths: r.paths.into_iter().map(Into::into).collect(),
            paths_left_out: r.paths_left_out as f64,
        }
    }
}

/// A whole-number id or count from JS, or an error naming it.
fn whole(what: &str, v: f64) -> Result<u64> {
    super::options::whole(v).ok_or_else(|| {
        Error::new(
            Status::InvalidArg,
            format!("{what} must be a whole number >= 0, got {v}"),
        )
    })
}

/// The file's totals and its `top` largest classes by count and by retained size.
#[napi(catch_unwind, ts_return_type = "Promise<SnapshotSummary>")]
pub fn summarize_snapshot(
    env: Env,
    snapshot: &HeapSnapshotHandle,
    #[napi(ts_arg_type = "'classic' | 'devtools'")] group: String,
    top: f64,
) -> Result<AsyncTask<Work<SnapshotSummary>>> {
    let snapshot = snapshot.get()?.clone();
    let g = grouping("summary", &group).map_err(|e| e.throw(&env))?;
    let top = whole("top", top)? as usize;
    Ok(Work::spawn(move || {
        heapsnap::summarize(&snapshot, g, top)
            .map(SnapshotSummary::from)
            .map_err(failed)
    }))
}

/// The object with V8 id `id` (null when the file has none), its edges and retainers cut at
/// `limit`.
#[napi(catch_unwind, ts_return_type = "Promise<ObjectView | null>")]
pub fn inspect_object(
    snapshot: &HeapSnapshotHandle,
    id: f64,
    limit: f64,
) -> Result<AsyncTask<Work<Option<ObjectView>>>> {
    let snapshot = snapshot.get()?.clone();
    let (id, limit) = (whole("id", id)?, whole("limit", limit)? as usize);
    Ok(Work::spawn(move || {
        heapsnap::inspect_object(&snapshot, id, limit)
            .map(|v| v.map(ObjectView::from))
            .map_err(failed)
    }))
}

/// The retaining paths of every instance of `class_name` (named by `group`), at most `paths` groups;
/// null when no node is of that class.
#[napi(catch_unwind, ts_return_type = "Promise<Retainers | null>")]
pub fn class_retainers(
    env: Env,
    snapshot: &HeapSnapshotHandle,
    #[napi(ts_arg_type = "'classic' | 'devtools'")] group: String,
    class_name: String,
    paths: f64,
) -> Result<AsyncTask<Work<Option<Retainers>>>> {
    let snapshot = snapshot.get()?.clone();
    let g = grouping("retainers", &group).map_err(|e| e.throw(&env))?;
    let paths = whole("paths", paths)? as usize;
    Ok(Work::spawn(move || {
        heapsnap::class_retainers(&snapshot, g, &class_name, paths)
            .map(|r| r.map(Retainers::from))
            .map_err(failed)
    }))
}

/// The retaining path of the object with V8 id `id`; null when the file has none.
#[napi(catch_unwind, ts_return_type = "Promise<Retainers | null>")]
pub fn object_retainers(
    snapshot: &HeapSnapshotHandle,
    id: f64,
) -> Result<AsyncTask<Work<Option<Retainers>>>> {
    let snapshot = snapshot.get()?.clone();
    let id = whole("id", id)?;
    Ok(Work::spawn(move || {
        heapsnap::object_retainers(&snapshot, id)
            .map(|r| r.map(Retainers::from))
            .map_err(failed)
    }))
}
