//! What a diff reports, whichever way it matched nodes (by id in `diff.rs`, DevTools' way in
//! `devtools_diff.rs`): each side's totals, a row per class, and the order of the rows.

use crate::classes::Grouping;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub nodes: u64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassChange {
    pub what: String,
    /// Self size of allocated nodes minus self size of freed ones.
    pub size_bytes: i64,
    /// Nodes of this class only in `after` (memwatch's `+`).
    pub allocated: u64,
    /// Nodes of this class only in `before` (memwatch's `-`).
    pub freed: u64,
    pub allocated_bytes: u64,
    pub freed_bytes: u64,
    /// Where the new instances were allocated, most instances first: set by `explained_diff`
    /// when `after` carries allocation traces (`None` without them).
    pub allocated_at: Option<Vec<crate::allocations::AllocationStack>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub before: Totals,
    pub after: Totals,
    /// `after.size_bytes - before.size_bytes`, as the classic memwatch reported it.
    pub size_bytes: i64,
    pub freed_nodes: u64,
    pub allocated_nodes: u64,
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
