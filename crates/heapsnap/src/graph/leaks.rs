//! Putting a name and a path on leaked objects: the retention report for a diff's grown
//! classes, and the three-snapshot technique.
//!
//! Three snapshots — baseline, after an action, after undoing it — separate leaks from noise:
//! objects allocated by the action that are still alive after it was undone are what leaked;
//! caches that were merely warmed (allocated before the baseline) and temporaries (gone by the
//! third snapshot) drop out without any threshold.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::dominators::DominatorTree;
use super::paths::{PathGroup, ShortestPaths};
use super::retained::class_retained_sizes;
use super::GraphError;
use crate::classes::ClassRules;
use crate::diff::Grouping;
use crate::idset::IdSet;
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakOptions {
    pub grouping: Grouping,
    /// Path groups reported per class.
    pub max_paths: usize,
    /// Classes with fewer surviving instances are left out.
    pub min_count: u64,
    /// Classes reported (largest retained size first), each with sizes and paths.
    pub max_classes: usize,
    /// Object ids left out (the caller's own bookkeeping objects).
    pub exclude_ids: Vec<u64>,
    /// Count V8's own objects (compiled code, hidden classes, system nodes). A function run a
    /// few times keeps allocating those as V8 optimises it, which is not the function leaking;
    /// an in-process leak check leaves them out.
    pub internals: bool,
}

/// Node types that V8 creates for itself rather than for the program's values.
fn is_v8_internal(type_name: &str) -> bool {
    matches!(type_name, "code" | "object shape" | "hidden" | "synthetic")
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            grouping: Grouping::Classic,
            max_paths: 5,
            min_count: 1,
            max_classes: 20,
            exclude_ids: Vec::new(),
            internals: true,
        }
    }
}

/// One class of objects singled out in the last snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakClass {
    pub what: String,
    pub count: u64,
    /// Self size of the instances.
    pub size_bytes: u64,
    /// Retained size of the instances (see `class_retained_sizes`).
    pub retained_size: Option<u64>,
    pub paths: Vec<PathGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    /// Objects of the second snapshot that the first did not have.
    pub allocated: u64,
    /// Of those, how many the third snapshot still has.
    pub leaked: u64,
    /// By class, largest retained size first (the class that owns the rest leads).
    pub classes: Vec<LeakClass>,
}

/// Objects allocated between `s1` and `s2` that are still alive in `s3`, by class, with their
/// retained sizes and retaining paths in `s3`. `s3` must have been parsed with edges.
pub fn find_leaks(
    s1: &Snapshot,
    s2: &Snapshot,
    s3: &Snapshot,
    opts: &LeakOptions,
) -> Result<LeakReport, GraphError> {
    super::edges_of(s3)?;
    let excluded = IdSet::collect(opts.exclude_ids.iter().copied(), opts.exclude_ids.len());
    let old = IdSet::collect((0..s1.node_count()).map(|i| s1.node_id(i)), s1.node_count());
    let rules2 = ClassRules::new(s2, opts.grouping);
    let counted = |s: &Snapshot, i: usize| opts.internals || !is_v8_internal(s.node_type_name(i));
    let new_ids: Vec<u64> = (0..s2.node_count())
        .filter(|&i| rules2.slot(s2, i).is_some() && counted(s2, i))
        .map(|i| s2.node_id(i))
        .filter(|&id| !old.contains(id) && !excluded.contains(id))
        .collect();
    let allocated = new_ids.len() as u64;
    let new = IdSet::collect(new_ids.into_iter(), s2.node_count());
    drop(old);

    let rules3 = ClassRules::new(s3, opts.grouping);
    let survivors = (0..s3.node_count()).filter_map(|i| {
        let slot = rules3.slot(s3, i).filter(|_| counted(s3, i))?;
        new.contains(s3.node_id(i)).then_some((i as u32, slot))
    });
    let mut classes = group_by_class(s3, &rules3, survivors);
    let leaked = classes.iter().map(|c| c.class.count).sum();
    classes.retain(|c| c.class.count >= opts.min_count);
    retained_sizes(s3, &mut classes)?;
    classes.sort_by(|a, b| owners_first(&a.class, &b.class));
    classes.truncate(opts.max_classes);
    retainer_paths(s3, &mut classes, opts.max_paths)?;
    Ok(LeakReport {
        allocated,
        leaked,
        classes: classes.into_iter().map(|c| c.class).collect(),
    })
}

/// Owners before their parts: a leaked `Order` retains its `Array`s and strings, and is what
/// the user wrote, so it should be read first. The class's retained size of its instances
/// includes everything they alone hold, so a class ranks above the classes it owns; count and
/// name only break ties.
fn owners_first(a: &LeakClass, b: &LeakClass) -> Ordering {
    b.retained_size
        .cmp(&a.retained_size)
        .then(b.count.cmp(&a.count))
        .then_with(|| a.what.cmp(&b.what))
}

/// Retained sizes and retaining paths of the instances of `classes` (names as the diff's
/// `what`) that `after` has and `before` had not: the "why is it still alive" for a diff.
/// Ranked by `owners_first`, as `find_leaks` ranks its classes, so that a diff explained this
/// way reads in the same order (the diff's own `details` keep theirs).
pub fn retention_of_new(
    before: &Snapshot,
    after: &Snapshot,
    classes: &[String],
    grouping: Grouping,
    exclude_ids: &[u64],
    max_paths: usize,
) -> Result<Vec<LeakClass>, GraphError> {
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
            class: LeakClass {
                what: c.clone(),
                count: 0,
                size_bytes: 0,
                retained_size: None,
                paths: Vec::new(),
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
    retained_sizes(after, &mut out)?;
    out.sort_by(|a, b| owners_first(&a.class, &b.class));
    retainer_paths(after, &mut out, max_paths)?;
    Ok(out.into_iter().map(|g| g.class).collect())
}

struct Grouped {
    class: LeakClass,
    members: Vec<u32>,
}

fn group_by_class(
    snap: &Snapshot,
    rules: &ClassRules,
    nodes: impl Iterator<Item = (u32, u32)>,
) -> Vec<Grouped> {
    let mut by_slot: HashMap<u32, Grouped> = HashMap::new();
    for (i, slot) in nodes {
        let g = by_slot.entry(slot).or_insert_with(|| Grouped {
            class: LeakClass {
                what: rules.name(snap, slot).into_owned(),
                count: 0,
                size_bytes: 0,
                retained_size: None,
                paths: Vec::new(),
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
/// path search that follows needs its memory).
fn retained_sizes(snap: &Snapshot, groups: &mut [Grouped]) -> Result<(), GraphError> {
    if groups.is_empty() {
        return Ok(());
    }
    let dom = DominatorTree::compute(snap)?;
    let targets: Vec<(u32, u32)> = groups
        .iter()
        .enumerate()
        .flat_map(|(c, g)| g.members.iter().map(move |&i| (i, c as u32)))
        .collect();
    let sums = class_retained_sizes(&dom, &targets, groups.len());
    for (g, s) in groups.iter_mut().zip(sums) {
        g.class.retained_size = Some(s);
    }
    Ok(())
}

/// Fills every group's retainer paths from one search from the root.
fn retainer_paths(
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
