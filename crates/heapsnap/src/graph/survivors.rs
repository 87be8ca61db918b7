//! The three-snapshot technique.
//!
//! Three snapshots — baseline, after an action, after undoing it — separate leaks from noise:
//! objects allocated by the action that are still alive after it was undone are what leaked;
//! caches that were merely warmed (allocated before the baseline) and temporaries (gone by the
//! third snapshot) drop out without any threshold.

use super::dominators::DominatorTree;
use super::retention::{
    fold_own_parts, group_by_class, rank_by_retention, retainer_paths, ClassRetention, Grouped,
    V8Own,
};
use super::GraphError;
use crate::allocations::{allocation_sites, allocation_sites_by_id};
use crate::classes::{ClassRules, Grouping};
use crate::idset::IdSet;
use crate::options::{OptionError, OptionField};
use crate::origin::{id_pairing, IdPairing};
use crate::snapshot::Snapshot;

/// What a three-snapshot analysis reports, and how much of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurvivorOptions {
    /// Which naming the classes follow: memwatch's or DevTools'.
    pub grouping: Grouping,
    /// Path groups reported per class.
    pub max_paths: usize,
    /// Classes with fewer surviving instances are left out.
    pub min_count: u64,
    /// Classes reported (largest retained size first), each with sizes and paths.
    pub max_classes: usize,
    /// Object ids left out (the caller's own bookkeeping objects).
    pub exclude_ids: Vec<u64>,
    /// Count V8's own objects (`V8Own`: compiled code, hidden classes, system nodes, internal
    /// arrays). A function run a few times keeps allocating those as V8 optimises it, which is
    /// not the function leaking; an in-process leak check leaves them out. Counted, they are
    /// listed after every class of the program's.
    pub internals: bool,
    /// Allocation stacks listed per class when the snapshots carry allocation traces.
    pub max_stacks: usize,
}

impl Default for SurvivorOptions {
    fn default() -> Self {
        SurvivorOptions {
            grouping: Grouping::Classic,
            max_paths: 5,
            min_count: 1,
            max_classes: 20,
            exclude_ids: Vec::new(),
            internals: true,
            max_stacks: crate::allocations::DEFAULT_MAX_STACKS,
        }
    }
}

impl SurvivorOptions {
    /// Refuses a count of 0, which would make the analysis report nothing while looking as if it
    /// ran. The analyses do not check: a caller validates options before it starts one.
    pub fn validate(&self) -> Result<(), OptionError> {
        OptionError::at_least_one(OptionField::SurvivorMaxPaths, self.max_paths as u64)?;
        OptionError::at_least_one(OptionField::SurvivorMaxClasses, self.max_classes as u64)?;
        OptionError::at_least_one(OptionField::SurvivorMaxStacks, self.max_stacks as u64)?;
        OptionError::at_least_one(OptionField::SurvivorMinCount, self.min_count)
    }
}

/// What survived: objects the action allocated that are still alive after it was undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurvivorReport {
    /// Objects of the second snapshot that the first did not have.
    pub allocated: u64,
    /// Of those, how many the third snapshot still has.
    pub leaked: u64,
    /// By class in reading order: the program's classes by retained size, a part's class
    /// behind its owner's, then V8's own (see `rank_by_retention`).
    pub classes: Vec<ClassRetention>,
    /// How far the ids of `s1` and `s2`, and of `s2` and `s3`, pair objects of one process
    /// (`id_pairing`). Ids of two processes name different objects, so "allocated" and "still
    /// alive" then count coincidences, not survivors: see `same_process`.
    pub pairing: [IdPairing; 2],
}

impl SurvivorReport {
    /// Whether all three snapshots come from one process (both pairings say so): only then are
    /// the classes survivors of the action.
    pub fn same_process(&self) -> bool {
        self.pairing.iter().all(IdPairing::same_process)
    }
}

/// Where each class's survivors were allocated: from `s3`'s traces, or where `s3` has none
/// (tracking stopped before it was taken) from `s2`'s, by id.
fn allocated_at(s2: &Snapshot, s3: &Snapshot, classes: &mut [Grouped], max: usize) {
    for g in classes {
        g.class.allocated_at = if s3.has_allocation_traces() {
            allocation_sites(s3, &g.members, max)
        } else {
            let ids: Vec<u64> = g.members.iter().map(|&i| s3.node_id(i as usize)).collect();
            allocation_sites_by_id(s2, &ids, max)
        };
    }
}

/// Objects allocated between `s1` and `s2` that are still alive in `s3`, by class, with their
/// retained sizes and retaining paths in `s3`. `s3` must have been parsed with edges.
pub fn find_survivors(
    s1: &Snapshot,
    s2: &Snapshot,
    s3: &Snapshot,
    opts: &SurvivorOptions,
) -> Result<SurvivorReport, GraphError> {
    super::edges_of(s3)?;
    // A sample of ids each (see `origin`): small beside the analysis.
    let pairing = [id_pairing(s1, s2), id_pairing(s2, s3)];
    let excluded = IdSet::collect(opts.exclude_ids.iter().copied(), opts.exclude_ids.len());
    let old = IdSet::collect((0..s1.node_count()).map(|i| s1.node_id(i)), s1.node_count());
    let rules2 = ClassRules::new(s2, opts.grouping);
    let (own2, own3) = (V8Own::new(s2), V8Own::new(s3));
    let counted = |own: &V8Own, s: &Snapshot, i: usize| opts.internals || !own.contains(s, i);
    let new_ids: Vec<u64> = (0..s2.node_count())
        .filter(|&i| rules2.slot(s2, i).is_some() && counted(&own2, s2, i))
        .map(|i| s2.node_id(i))
        .filter(|&id| !old.contains(id) && !excluded.contains(id))
        .collect();
    let allocated = new_ids.len() as u64;
    let new = IdSet::collect(new_ids.into_iter(), s2.node_count());
    drop(old);

    let rules3 = ClassRules::new(s3, opts.grouping);
    let survivors = (0..s3.node_count()).filter_map(|i| {
        let slot = rules3.slot(s3, i).filter(|_| counted(&own3, s3, i))?;
        new.contains(s3.node_id(i)).then_some((i as u32, slot))
    });
    let mut classes = group_by_class(s3, &rules3, survivors);
    let leaked = classes.iter().map(|c| c.class.count).sum();
    if !classes.is_empty() {
        let dom = DominatorTree::compute(s3)?;
        fold_own_parts(s3, &dom, &mut classes);
        classes.retain(|c| c.class.count >= opts.min_count);
        rank_by_retention(&dom, &mut classes);
    }
    classes.truncate(opts.max_classes);
    retainer_paths(s3, &mut classes, opts.max_paths)?;
    allocated_at(s2, s3, &mut classes, opts.max_stacks);
    Ok(SurvivorReport {
        allocated,
        leaked,
        classes: classes.into_iter().map(|c| c.class).collect(),
        pairing,
    })
}
