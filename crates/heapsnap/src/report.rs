//! What a diff reports, whichever way it matched nodes (by id in `diff.rs`, DevTools' way in
//! `devtools_diff.rs`): each side's totals, a row per class, and the order of the rows.

use crate::classes::Grouping;

/// One snapshot's size, as the diff counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Nodes in the snapshot.
    pub nodes: u64,
    /// Their self sizes summed.
    pub size_bytes: u64,
}

/// One class's row of a diff: what came and went of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassChange {
    /// The class, named as `DiffOptions::grouping` says.
    pub what: String,
    /// Self size of allocated nodes minus self size of freed ones.
    pub size_bytes: i64,
    /// Nodes of this class only in `after` (memwatch's `+`).
    pub allocated: u64,
    /// Nodes of this class only in `before` (memwatch's `-`).
    pub freed: u64,
    /// Self size of the allocated nodes.
    pub allocated_bytes: u64,
    /// Self size of the freed nodes.
    pub freed_bytes: u64,
    /// Where the new instances were allocated, most instances first: set by `explained_diff`
    /// when `after` carries allocation traces (`None` without them).
    pub allocated_at: Option<Vec<crate::allocations::AllocationStack>>,
}

/// What changed between two snapshots: memwatch's `HeapDiff::end()` result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// The earlier snapshot.
    pub before: Totals,
    /// The later snapshot.
    pub after: Totals,
    /// `after.size_bytes - before.size_bytes`, as the classic memwatch reported it.
    pub size_bytes: i64,
    /// Nodes only in `before`.
    pub freed_nodes: u64,
    /// Nodes only in `after`.
    pub allocated_nodes: u64,
    /// One row per class that changed, in the order `DiffOptions::grouping` sorts them.
    pub details: Vec<ClassChange>,
}

pub(crate) fn signed_difference(plus: u64, minus: u64) -> i64 {
    let d = i128::from(plus) - i128::from(minus);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Classic rows in byte order of `what`; DevTools rows by size change, largest first.
pub(crate) fn sort_details(details: &mut [ClassChange], grouping: Grouping) {
    match grouping {
        Grouping::Classic => details.sort_unstable_by(|a, b| a.what.cmp(&b.what)),
        Grouping::DevTools => details.sort_unstable_by(|a, b| {
            b.size_bytes
                .cmp(&a.size_bytes)
                .then_with(|| a.what.cmp(&b.what))
        }),
    }
}
