//! What keeps objects alive, as JS sees it: shared by the diff's explanation and the analyses.

use memstats::format_size;
use napi_derive::napi;

/// One hop of a retaining path: the edge taken (none for the first) and the node it reaches.
#[napi(object, use_nullable = true)]
pub struct PathStep {
    /// Edge name; `null` for the first step (reached from the synthetic root).
    pub edge: Option<String>,
    #[napi(js_name = "edge_type")]
    pub edge_type: Option<String>,
    /// Constructor or node name; `(string)`, `(number)` for primitives.
    pub node: String,
    #[napi(js_name = "type")]
    pub node_type: String,
    pub id: f64,
    /// The edge is a key of a keyed store: an element index, a `Map`/`Set` entry, or a property
    /// of an object V8 keeps as a dictionary (`store[sessionId]`). The group holds any key here,
    /// its path reads `[·]`.
    pub keyed: bool,
}

/// Objects that share one shortest-path shape from the GC roots, with one example path.
#[napi(object)]
pub struct RetainerPath {
    /// The group's shape, keys of keyed stores as `[·]`:
    /// `global.cache → Map.table → (object elements)[·] → LeakingClass`.
    pub path: String,
    pub count: f64,
    /// The example's path, with its own keys.
    pub steps: Vec<PathStep>,
    /// Keys of the first few objects of the group (`[KmlOoEBbXp]`), one `[…]` per keyed step;
    /// empty when the path has no keyed step.
    pub keys: Vec<String>,
}

/// Instances of a class allocated under one stack (snapshots with allocation traces).
#[napi(object)]
pub struct AllocationStack {
    /// `name (url:line:column)` frames, allocating function first, out to the outermost caller;
    /// lines and columns are 1-based and point at the start of each function (V8 records
    /// functions, not statements).
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
    /// All instances are of V8's own node types (compiled code, hidden classes, internal arrays
    /// such as an old `Map`'s new backing store): such classes are listed after every class of
    /// the program's, and the `heapdiff run` report leaves them out.
    pub internal: bool,
    pub retainers: Vec<RetainerPath>,
    /// Retained size of the instances; absent for classes past the analysed ones (the
    /// `maxClasses` largest).
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: Option<f64>,
    #[napi(js_name = "retained_size")]
    pub retained_size: Option<String>,
    /// Where the instances were allocated, most instances first (at most `maxStacks`): present
    /// when the snapshots carry allocation traces (`checkLeaks` with `allocations: true`, or
    /// files written while V8 tracked allocations).
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
