//! Graph analyses over a snapshot parsed with edges: which edges hold objects alive, the
//! dominator tree and retained sizes, shortest retaining paths, and leak finding over three
//! snapshots.
//!
//! Every analysis walks the graph from the synthetic root (node 0) over the same "retaining"
//! edges, so a path, a dominator and a retained size never disagree about what keeps an object
//! alive. The rule is DevTools' essential-edge rule: weak edges do not retain, and shortcut edges
//! retain only when they leave the root (there they mark user roots such as `global`; elsewhere
//! they duplicate a longer real path).

mod dominators;
mod inspect;
mod paths;
mod retained;
mod retention;
mod survivors;
mod top;

use std::fmt;

pub use dominators::DominatorTree;
pub use inspect::{
    class_retainers, inspect_object, node_index, object_retainers, summarize, ClassFigures,
    EdgeRef, NodeRef, ObjectView, Retainers, SnapshotSummary,
};
pub use paths::{PathGroup, PathStep, ShortestPaths};
pub use retained::class_retained_sizes;
pub use retention::{retention_of_new, ClassRetention};
pub use survivors::{find_survivors, SurvivorOptions, SurvivorReport};
pub use top::{top_retainer_report, top_retainers, TopRetainer, TopRetainerOptions};

use crate::snapshot::{EdgeTable, Snapshot};

/// Why a graph analysis could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// The snapshot was parsed without `ParseOptions::keep_edges`.
    NoEdges,
    /// The snapshot has no nodes, so there is no root to walk from.
    Empty,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::NoEdges => f.write_str(
                "this snapshot was parsed without its edges; parse with keep_edges for graph analyses",
            ),
            GraphError::Empty => f.write_str("the snapshot has no nodes"),
        }
    }
}

impl std::error::Error for GraphError {}

/// Marks a missing node/edge in `u32` columns.
pub(crate) const NONE: u32 = u32::MAX;

/// Edge types by their role for retention, resolved once from the snapshot's own type names so
/// that the type order in `meta` is never assumed.
#[derive(Debug, Clone)]
pub(crate) struct EdgeRule {
    /// Per edge type index: 0 retains, 1 never retains (weak), 2 retains only from the root
    /// (shortcut).
    kind: Vec<u8>,
}

impl EdgeRule {
    pub(crate) fn new(snap: &Snapshot) -> Self {
        let kind = snap
            .edge_type_names()
            .iter()
            .map(|t| match t.as_str() {
                "weak" => 1,
                "shortcut" => 2,
                _ => 0,
            })
            .collect();
        EdgeRule { kind }
    }

    /// Whether edge `e` of `table`, leaving node `from`, keeps its target alive.
    #[inline]
    pub(crate) fn retains(&self, table: &EdgeTable, from: usize, e: usize) -> bool {
        match self.kind.get(table.types[e] as usize) {
            Some(0) => true,
            Some(2) => from == 0,
            _ => false,
        }
    }

    /// Whether edges of type index `t` leaving the root are shortcuts (user roots).
    pub(crate) fn is_shortcut(&self, t: u8) -> bool {
        self.kind.get(t as usize) == Some(&2)
    }
}

pub(crate) fn edges_of(snap: &Snapshot) -> Result<&EdgeTable, GraphError> {
    if snap.node_count() == 0 {
        return Err(GraphError::Empty);
    }
    snap.edges().ok_or(GraphError::NoEdges)
}
