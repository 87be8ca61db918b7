//! A diff explained: for the classes that grew most, the retained size of their new instances
//! and what keeps those alive, joined onto the diff's rows; and, where the later snapshot
//! carries allocation traces, where every class's new instances were allocated.

use crate::allocations::allocation_sites_of_new;
use crate::diff::{diff, DiffOptions};
use crate::graph::{retention_of_new, ClassRetention, GraphError};
use crate::options::{OptionError, OptionField};
use crate::origin::{id_pairing, IdPairing};
use crate::report::Diff;
use crate::snapshot::Snapshot;

/// What a diff with retention analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionOptions {
    /// How many grown classes (by new instances) are explained.
    pub classes: usize,
    /// Path groups per class.
    pub max_paths: usize,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        RetentionOptions {
            classes: 10,
            max_paths: 5,
        }
    }
}

impl RetentionOptions {
    /// Refuses a count of 0, which would make the analysis report nothing while looking as if it
    /// ran. The analyses do not check: a caller validates options before it starts one.
    pub fn validate(&self) -> Result<(), OptionError> {
        OptionError::at_least_one(OptionField::RetentionClasses, self.classes as u64)?;
        OptionError::at_least_one(OptionField::RetentionMaxPaths, self.max_paths as u64)
    }
}

/// A diff and, when asked for, the retention of the explained classes' new instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedDiff {
    /// The diff itself, as `diff` gives it.
    pub diff: Diff,
    /// Present when retention was asked for.
    pub retention: Option<Retention>,
    /// Whether the ids pair objects of one process: when not, the diff is no diff of one heap.
    pub pairing: IdPairing,
}

/// Why the explained classes' new instances are still alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Parallel to `diff.details`: the retention of the row's new instances, for the rows
    /// explained.
    pub rows: Vec<Option<ClassRetention>>,
    /// The `what` of the explained rows, owners before their parts: the order to read them in
    /// (the rows keep the diff's own order).
    pub order: Vec<String>,
}

/// `diff`, and with `retention` the retained sizes and paths of the new instances of the classes
/// with most of them (`after` must keep its edges then). In process and on files alike.
pub fn explained_diff(
    before: &Snapshot,
    after: &Snapshot,
    opts: &DiffOptions,
    retention: Option<&RetentionOptions>,
) -> Result<ExplainedDiff, GraphError> {
    let mut d = diff(before, after, opts);
    let pairing = id_pairing(before, after);
    if let Some(mut sites) = allocation_sites_of_new(
        before,
        after,
        opts.grouping,
        &opts.exclude_ids,
        opts.max_stacks,
    ) {
        for row in &mut d.details {
            let here = sites.remove(&row.what).unwrap_or_default();
            row.allocated_at = Some(if row.allocated > 0 { here } else { Vec::new() });
        }
    }
    let Some(r) = retention else {
        return Ok(ExplainedDiff {
            diff: d,
            retention: None,
            pairing,
        });
    };
    let classes = grown_classes(&d, r.classes);
    let explained = retention_of_new(
        before,
        after,
        &classes,
        opts.grouping,
        &opts.exclude_ids,
        r.max_paths,
    )?;
    let order = explained.iter().map(|c| c.what.clone()).collect();
    let mut rows: Vec<Option<ClassRetention>> = vec![None; d.details.len()];
    for c in explained {
        if let Some(k) = d.details.iter().position(|row| row.what == c.what) {
            rows[k] = Some(c);
        }
    }
    Ok(ExplainedDiff {
        diff: d,
        retention: Some(Retention { rows, order }),
        pairing,
    })
}

/// The grown classes worth explaining: most new instances first, then by name.
fn grown_classes(d: &Diff, n: usize) -> Vec<String> {
    let mut rows: Vec<_> = d.details.iter().filter(|c| c.allocated > 0).collect();
    rows.sort_by(|a, b| b.allocated.cmp(&a.allocated).then(a.what.cmp(&b.what)));
    rows.into_iter().take(n).map(|c| c.what.clone()).collect()
}
