//! The objects with the largest retained sizes.

use super::dominators::DominatorTree;
use super::paths::{node_label, ShortestPaths};
use super::GraphError;
use crate::options::{OptionError, OptionField};
use crate::snapshot::Snapshot;

/// The `n` nodes with the largest retained sizes, largest first, leaving out the synthetic
/// root and V8's root lists (whose "retained size" is the whole heap).
pub fn top_retainers(snap: &Snapshot, dom: &DominatorTree, n: usize) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut heap: BinaryHeap<Reverse<(u64, Reverse<u32>)>> = BinaryHeap::with_capacity(n + 1);
    if n == 0 {
        return Vec::new();
    }
    for &v in dom.preorder() {
        let i = v as usize;
        if snap.node_type_name(i) == "synthetic" {
            continue;
        }
        heap.push(Reverse((dom.retained_size(i), Reverse(v))));
        if heap.len() > n {
            heap.pop();
        }
    }
    let mut out: Vec<(u64, u32)> = heap
        .into_iter()
        .map(|Reverse((s, Reverse(v)))| (s, v))
        .collect();
    out.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    out.into_iter().map(|(_, v)| v as usize).collect()
}

/// What `top_retainer_report` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRetainerOptions {
    /// How many nodes, largest retained size first.
    pub count: usize,
}

impl Default for TopRetainerOptions {
    fn default() -> Self {
        TopRetainerOptions { count: 20 }
    }
}

impl TopRetainerOptions {
    /// Refuses a count of 0, which would make the analysis report nothing while looking as if it
    /// ran. The analyses do not check: a caller validates options before it starts one.
    pub fn validate(&self) -> Result<(), OptionError> {
        OptionError::at_least_one(OptionField::TopCount, self.count as u64)
    }
}

/// One of the largest retainers of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRetainer {
    /// Node index in the snapshot.
    pub index: usize,
    /// V8's object id (`@id` in DevTools), stable across snapshots of one process.
    pub id: u64,
    /// The node's label (see `node_label`).
    pub what: String,
    /// V8's node type (`object`, `closure`, `string`, ...).
    pub node_type: String,
    /// The node's own size.
    pub self_size: u64,
    /// What freeing it would free: its own size and everything only it keeps alive.
    pub retained_size: u64,
    /// Shortest retaining path from the root, as text; empty if unreachable.
    pub path: String,
}

/// The largest retainers of `snap` (parsed with edges) with their shortest retaining paths.
/// The dominator tree is dropped before the path search, which needs its memory.
pub fn top_retainer_report(
    snap: &Snapshot,
    opts: &TopRetainerOptions,
) -> Result<Vec<TopRetainer>, GraphError> {
    let dom = DominatorTree::compute(snap)?;
    let top = top_retainers(snap, &dom, opts.count);
    let retained: Vec<u64> = top.iter().map(|&i| dom.retained_size(i)).collect();
    drop(dom);
    let paths = ShortestPaths::compute(snap)?;
    Ok(top
        .into_iter()
        .zip(retained)
        .map(|(i, retained_size)| TopRetainer {
            index: i,
            id: snap.node_id(i),
            what: node_label(snap, i),
            node_type: snap.node_type_name(i).to_owned(),
            self_size: snap.self_size(i),
            retained_size,
            path: paths.path_text(snap, i).unwrap_or_default(),
        })
        .collect())
}
