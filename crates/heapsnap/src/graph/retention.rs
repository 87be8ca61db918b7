//! Putting a size and a path on a class's instances: the retention of a set of nodes grouped
//! by class, ranked owners first, shared by the diff's explanation and the three-snapshot
//! report.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::dominators::DominatorTree;
use super::paths::{PathGroup, ShortestPaths};
use super::retained::class_tree;
use super::GraphError;
use crate::classes::{ClassRules, Grouping};
use crate::idset::IdSet;
use crate::snapshot::Snapshot;

/// One class of objects singled out (new, or surviving), with what keeps them alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRetention {
    pub what: String,
    pub count: u64,
    /// Self size of the instances.
    pub size_bytes: u64,
    /// Retained size of the instances (see `class_retained_sizes`).
    pub retained_size: Option<u64>,
    pub paths: Vec<PathGroup>,
    /// Where the instances were allocated, most first; `None` when no snapshot involved
    /// carries allocation traces.
    pub allocated_at: Option<Vec<crate::allocations::AllocationStack>>,
}

/// Larger retained size first: a class's retained size of its instances includes everything
/// they alone hold, so a class mostly ranks above the classes it owns; count and name only
/// break ties.
fn by_retained_size(a: &ClassRetention, b: &ClassRetention) -> Ordering {
    b.retained_size
        .cmp(&a.retained_size)
        .then(b.count.cmp(&a.count))
        .then_with(|| a.what.cmp(&b.what))
}

/// Owners before their parts: a leaked `Order` retains its `Array`s and strings, and is what
/// the user wrote, so it should be read first. Retained size alone puts it first only while
/// its parts' class holds nothing more: a few other new `Array`s outweigh the `Order`s' own
/// self sizes. So a class whose instances are mostly held by another class's (`owners`, from
/// the dominator tree) comes right after that class, and the rest rank by retained size.
fn owners_then_parts(classes: &[&ClassRetention], owners: &[Option<u32>]) -> Vec<usize> {
    // Each class's topmost owner and how far below it the class is; a cycle of owners ends
    // where it closes.
    let root_depth = |c: usize| {
        let (mut seen, mut r) = (vec![c], c);
        while let Some(o) = owners[r].map(|o| o as usize) {
            if seen.contains(&o) {
                break;
            }
            seen.push(o);
            r = o;
        }
        (r, seen.len() - 1)
    };
    let keys: Vec<(usize, usize)> = (0..classes.len()).map(root_depth).collect();
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by(|&a, &b| {
        let ((ra, da), (rb, db)) = (keys[a], keys[b]);
        by_retained_size(classes[ra], classes[rb])
            .then(da.cmp(&db))
            .then_with(|| by_retained_size(classes[a], classes[b]))
    });
    order
}

/// Retained sizes and retaining paths of the instances of `classes` (names as the diff's
/// `what`) that `after` has and `before` had not: the "why is it still alive" for a diff.
/// Ranked by `rank_by_retention`, as `find_survivors` ranks its classes, so that a diff
/// explained this way reads in the same order (the diff's own `details` keep theirs).
pub fn retention_of_new(
    before: &Snapshot,
    after: &Snapshot,
    classes: &[String],
    grouping: Grouping,
    exclude_ids: &[u64],
    max_paths: usize,
) -> Result<Vec<ClassRetention>, GraphError> {
    super::edges_of(after)?;
    let excluded = IdSet::collect(exclude_ids.iter().copied(), exclude_ids.len());
    let old = IdSet::collect(
        (0..before.node_count()).map(|i| before.node_id(i)),
        before.node_count(),
    );
    let rules = ClassRules::new(after, grouping);
    let wanted: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(k, c)| (c.as_str(), k))
        .collect();
    // Slot → wanted class, decided once per slot instead of comparing names per node.
    let mut slot_class: HashMap<u32, Option<usize>> = HashMap::new();
    let mut members: Vec<(u32, u32)> = Vec::new();
    for i in 0..after.node_count() {
        let Some(slot) = rules.slot(after, i) else {
            continue;
        };
        let k = *slot_class
            .entry(slot)
            .or_insert_with(|| wanted.get(rules.name(after, slot).as_ref()).copied());
        let id = after.node_id(i);
        if let Some(k) = k {
            if !old.contains(id) && !excluded.contains(id) {
                members.push((i as u32, k as u32));
            }
        }
    }
    drop(old);
    let mut out: Vec<Grouped> = classes
        .iter()
        .map(|c| Grouped {
            class: ClassRetention {
                what: c.clone(),
                count: 0,
                size_bytes: 0,
                retained_size: None,
                paths: Vec::new(),
                allocated_at: None,
            },
            members: Vec::new(),
        })
        .collect();
    for (i, k) in members {
        let g = &mut out[k as usize];
        g.class.count += 1;
        g.class.size_bytes += after.self_size(i as usize);
        g.members.push(i);
    }
    rank_by_retention(after, &mut out)?;
    retainer_paths(after, &mut out, max_paths)?;
    Ok(out.into_iter().map(|g| g.class).collect())
}

pub(super) struct Grouped {
    pub(super) class: ClassRetention,
    pub(super) members: Vec<u32>,
}

pub(super) fn group_by_class(
    snap: &Snapshot,
    rules: &ClassRules,
    nodes: impl Iterator<Item = (u32, u32)>,
) -> Vec<Grouped> {
    let mut by_slot: HashMap<u32, Grouped> = HashMap::new();
    for (i, slot) in nodes {
        let g = by_slot.entry(slot).or_insert_with(|| Grouped {
            class: ClassRetention {
                what: rules.name(snap, slot).into_owned(),
                count: 0,
                size_bytes: 0,
                retained_size: None,
                paths: Vec::new(),
                allocated_at: None,
            },
            members: Vec::new(),
        });
        g.class.count += 1;
        g.class.size_bytes += snap.self_size(i as usize);
        g.members.push(i);
    }
    // Classes named alike under different slots (DevTools' folded DOM names) are one class.
    let mut by_name: HashMap<String, Grouped> = HashMap::new();
    for (_, g) in by_slot {
        match by_name.get_mut(&g.class.what) {
            Some(acc) => {
                acc.class.count += g.class.count;
                acc.class.size_bytes += g.class.size_bytes;
                acc.members.extend(g.members);
            }
            None => {
                by_name.insert(g.class.what.clone(), g);
            }
        }
    }
    let mut out: Vec<Grouped> = by_name.into_values().collect();
    out.sort_unstable_by(|a, b| {
        b.class
            .count
            .cmp(&a.class.count)
            .then_with(|| a.class.what.cmp(&b.class.what))
    });
    out
}

/// Fills every group's retained size from one dominator tree, dropped before returning (the
/// path search that follows needs its memory), and ranks the groups owners first
/// (`owners_then_parts`).
pub(super) fn rank_by_retention(
    snap: &Snapshot,
    groups: &mut Vec<Grouped>,
) -> Result<(), GraphError> {
    if groups.is_empty() {
        return Ok(());
    }
    let dom = DominatorTree::compute(snap)?;
    let targets: Vec<(u32, u32)> = groups
        .iter()
        .enumerate()
        .flat_map(|(c, g)| g.members.iter().map(move |&i| (i, c as u32)))
        .collect();
    let tree = class_tree(&dom, &targets, groups.len());
    for (g, &s) in groups.iter_mut().zip(&tree.sizes) {
        g.class.retained_size = Some(s);
    }
    let classes: Vec<&ClassRetention> = groups.iter().map(|g| &g.class).collect();
    let order = owners_then_parts(&classes, &tree.owners);
    let mut taken: Vec<Option<Grouped>> = groups.drain(..).map(Some).collect();
    groups.extend(
        order
            .into_iter()
            .map(|k| taken[k].take().expect("a permutation")),
    );
    Ok(())
}

/// Fills every group's retainer paths from one search from the root.
pub(super) fn retainer_paths(
    snap: &Snapshot,
    groups: &mut [Grouped],
    max_paths: usize,
) -> Result<(), GraphError> {
    if groups.is_empty() {
        return Ok(());
    }
    let paths = ShortestPaths::compute(snap)?;
    for g in groups.iter_mut() {
        g.class.paths = paths.group(snap, &g.members, max_paths);
    }
    Ok(())
}
