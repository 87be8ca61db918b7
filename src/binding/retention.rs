//! What keeps objects alive, as JS sees it: shared by the diff's explanation and the analyses.

use memstats::format_size;
use napi_derive::napi;

#[napi(object)]
pub struct PathStep {
    /// Edge name; absent for the first step (reached from the synthetic root).
    pub edge: Option<String>,
    #[napi(js_name = "edge_type")]
    pub edge_type: Option<String>,
    pub node: String,
    #[napi(js_name = "type")]
    pub node_type: String,
    pub id: f64,
    /// The edge is a key of a keyed store (an element index, a `Map`/`Set` entry, a property of
    /// a dictionary-mode object): the group holds any key here, its path reads `[·]`.
    pub keyed: bool,
}

#[napi(object)]
pub struct RetainerPath {
    /// The group's shape, keys of keyed stores as `[·]`.
    pub path: String,
    pub count: f64,
    /// The example's path, with its own keys.
    pub steps: Vec<PathStep>,
    /// Keys of the first few objects of the group (`[KmlOoEBbXp]`), one `[…]` per keyed step;
    /// empty when the path has no keyed step.
    pub keys: Vec<String>,
}

/// Instances of a class allocated under one stack.
#[napi(object)]
pub struct AllocationStack {
    /// `name (url:line:column)` frames, allocating function first; lines and columns 1-based,
    /// at the start of each function.
    pub stack: Vec<String>,
    pub count: f64,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
}

impl From<heapsnap::AllocationStack> for AllocationStack {
    fn from(s: heapsnap::AllocationStack) -> Self {
        AllocationStack {
            stack: s.stack,
            count: s.count as f64,
            size_bytes: s.size_bytes as f64,
        }
    }
}

/// Sites as JS sees them; absent where no snapshot had allocation traces.
pub(super) fn sites(s: Option<Vec<heapsnap::AllocationStack>>) -> Option<Vec<AllocationStack>> {
    s.map(|v| v.into_iter().map(AllocationStack::from).collect())
}

/// One class's instances (new, or surviving), with what keeps them alive.
#[napi(object)]
pub struct ClassRetention {
    pub what: String,
    pub count: f64,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    /// Absent for classes past the analysed ones.
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: Option<f64>,
    #[napi(js_name = "retained_size")]
    pub retained_size: Option<String>,
    /// All instances are of V8's own node types (compiled code, hidden classes, internal
    /// arrays such as an old `Map`'s new store): listed after every class of the program's.
    pub internal: bool,
    pub retainers: Vec<RetainerPath>,
    /// Where the instances were allocated, most first (snapshots with allocation traces).
    #[napi(js_name = "allocated_at")]
    pub allocated_at: Option<Vec<AllocationStack>>,
}

impl From<heapsnap::PathGroup> for RetainerPath {
    fn from(g: heapsnap::PathGroup) -> Self {
        RetainerPath {
            path: g.text,
            count: g.count as f64,
            keys: g.keys,
            steps: g
                .steps
                .into_iter()
                .map(|s| PathStep {
                    edge: s.edge,
                    edge_type: s.edge_type,
                    node: s.node,
                    node_type: s.node_type,
                    id: s.id as f64,
                    keyed: s.keyed,
                })
                .collect(),
        }
    }
}

impl From<heapsnap::ClassRetention> for ClassRetention {
    fn from(c: heapsnap::ClassRetention) -> Self {
        ClassRetention {
            count: c.count as f64,
            size_bytes: c.size_bytes as f64,
            size: format_size(c.size_bytes as i64),
            retained_size_bytes: c.retained_size.map(|r| r as f64),
            retained_size: c.retained_size.map(|r| format_size(r as i64)),
            internal: c.internal,
            retainers: c.paths.into_iter().map(RetainerPath::from).collect(),
            allocated_at: sites(c.allocated_at),
            what: c.what,
        }
    }
}
