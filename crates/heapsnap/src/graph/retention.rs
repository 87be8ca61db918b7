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
    /// The class, as the `Grouping` in use names it.
    pub what: String,
    /// Instances singled out.
    pub count: u64,
    /// Self size of the instances.
    pub size_bytes: u64,
    /// Retained size of the instances (see `class_retained_sizes`).
    pub retained_size: Option<u64>,
    /// The instances are all of V8's own node types (`V8Own`): listed after every class of the
    /// program's, and left out where only the program's classes are read.
    pub internal: bool,
    /// The instances' shortest retaining paths, grouped by shape, largest group first.
    pub paths: Vec<PathGroup>,
    /// Where the instances were allocated, most first; `None` when no snapshot involved
    /// carries allocation traces.
    pub allocated_at: Option<Vec<crate::allocations::AllocationStack>>,
}

/// Larger retained size first; count and name only break ties, so that one set of snapshots
/// always reads in one order.
fn by_retained_size(a: &ClassRetention, b: &ClassRetention) -> Ordering {
    b.retained_size
        .cmp(&a.retained_size)
        .then(b.count.cmp(&a.count))
        .then_with(|| a.what.cmp(&b.what))
}

/// The reading order: the program's classes by retained size, then V8's own (`internal`) by
/// retained size, so that a class the program made is what a reader meets first.
///
/// Owners before their parts: a leaked `Order` retains its `Array`s and strings, and is what
/// the user wrote, so it should be read first. Retained size alone puts it first only while its
/// parts' class holds nothing more: a few other new `Array`s outweigh the `Order`s' own self
/// sizes. So a part's class (most of its instances held by the owner's, `owners`, from the
/// dominator tree) that outranks its owner's moves down to directly behind it. Nothing else
/// moves: an owner never rises, and a part that already ranks below its owner stays where its
/// size puts it, so the rule never lifts a small class above a larger one. Classes whose owners
/// form a cycle hold each other; none of them is the other's owner there.
fn reading_order(classes: &[&ClassRetention], owners: &[Option<u32>]) -> Vec<usize> {
    let mut program: Vec<usize> = (0..classes.len())
        .filter(|&c| !classes[c].internal)
        .collect();
    let mut internal: Vec<usize> = (0..classes.len())
        .filter(|&c| classes[c].internal)
        .collect();
    program.sort_by(|&a, &b| by_retained_size(classes[a], classes[b]));
    internal.sort_by(|&a, &b| by_retained_size(classes[a], classes[b]));
    let mut rank = vec![usize::MAX; classes.len()];
    for (r, &c) in program.iter().enumerate() {
        rank[c] = r;
    }
    let owner = |c: usize| {
        owners[c]
            .map(|o| o as usize)
            .filter(|&o| o != c && rank[o] != usize::MAX)
    };
    let in_cycle = |c: usize| {
        let (mut seen, mut v) = (vec![c], c);
        while let Some(o) = owner(v) {
            if o == c {
                return true;
            }
            if seen.contains(&o) {
                return false;
            }
            seen.push(o);
            v = o;
        }
        false
    };
    // Where each class is read: its own rank, or, for a part that outranks the place where its
    // owner is read, that place. An owner may itself be a part that moved (a `Buffer` under the
    // `Map` holding it, its `ArrayBuffer` under the `Buffer`), so places resolve from the top of
    // each chain of owners down.
    let mut place = vec![usize::MAX; classes.len()];
    let mut moved = vec![false; classes.len()];
    for &c in &program {
        let mut chain = Vec::new();
        let mut v = c;
        while place[v] == usize::MAX && !chain.contains(&v) {
            chain.push(v);
            match owner(v).filter(|_| !in_cycle(v)) {
                Some(o) => v = o,
                None => break,
            }
        }
        for &x in chain.iter().rev() {
            let at = |o: usize| {
                if place[o] == usize::MAX {
                    rank[o]
                } else {
                    place[o]
                }
            };
            match owner(x).filter(|&o| !in_cycle(x) && at(o) > rank[x]) {
                Some(o) => {
                    place[x] = at(o);
                    moved[x] = true;
                }
                None => place[x] = rank[x],
            }
        }
    }
    // Parts to read right after their owner, in the owner's list by size (`program` order).
    let mut behind: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for &c in &program {
        if moved[c] {
            behind[owner(c).expect("a moved part has an owner")].push(c);
        }
    }
    let mut order = Vec::with_capacity(classes.len());
    for &c in &program {
        if moved[c] {
            continue;
        }
        // A moved part only ever goes behind a class read below it, so these chains end; a
        // stack keeps a long one off the call stack.
        let mut stack = vec![c];
        while let Some(v) = stack.pop() {
            order.push(v);
            stack.extend(behind[v].iter().rev());
        }
    }
    order.extend(internal);
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
                internal: false,
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
    let dom = DominatorTree::compute(after)?;
    fold_own_parts(after, &dom, &mut out);
    rank_by_retention(&dom, &mut out);
    drop(dom);
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
                internal: false,
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

/// Node types that V8 creates for itself rather than for the program's values: compiled code,
/// hidden classes, system and synthetic nodes, and its internal arrays (the backing stores of
/// objects, `Map`s and `Set`s, which DevTools shows as `(array)`). A function run a few times
/// keeps allocating the first kinds as V8 optimises it, and a collection that grows gets a new
/// store: neither is a class the program wrote.
pub(crate) struct V8Own {
    by_type: Vec<bool>,
}

impl V8Own {
    pub(crate) fn new(snap: &Snapshot) -> Self {
        let by_type = snap
            .node_type_names()
            .iter()
            .map(|t| {
                matches!(
                    t.as_str(),
                    "code" | "object shape" | "hidden" | "synthetic" | "array"
                )
            })
            .collect();
        V8Own { by_type }
    }

    #[inline]
    pub(crate) fn contains(&self, snap: &Snapshot, i: usize) -> bool {
        self.by_type[snap.node_type_index(i) as usize]
    }
}

/// Leaves out the members of V8's own types that a member of the program's types holds alone
/// (dominates): a new `Map`'s store, a new object's properties. They are that object's, already
/// in its class's retained size, and not a class of their own to read. Marks the classes left
/// with only V8's own members (or none) `internal`.
pub(super) fn fold_own_parts(snap: &Snapshot, dom: &DominatorTree, groups: &mut [Grouped]) {
    let own = V8Own::new(snap);
    let n = snap.node_count();
    let mut holder = vec![0u64; n.div_ceil(64)];
    let mut any = false;
    for g in groups.iter() {
        for &i in &g.members {
            if !own.contains(snap, i as usize) {
                holder[i as usize / 64] |= 1 << (i % 64);
                any = true;
            }
        }
    }
    let bit = |set: &[u64], i: usize| set[i / 64] >> (i % 64) & 1 == 1;
    // Each node after its immediate dominator: held when that is a holder or is held.
    let mut held = vec![0u64; if any { n.div_ceil(64) } else { 0 }];
    if any {
        for &v in &dom.preorder()[1.min(dom.preorder().len())..] {
            let d = dom
                .idom(v as usize)
                .expect("reachable non-root nodes have a dominator");
            if bit(&holder, d) || bit(&held, d) {
                held[v as usize / 64] |= 1 << (v % 64);
            }
        }
    }
    for g in groups.iter_mut() {
        if any {
            g.members
                .retain(|&i| !(own.contains(snap, i as usize) && bit(&held, i as usize)));
            g.class.count = g.members.len() as u64;
            g.class.size_bytes = g.members.iter().map(|&i| snap.self_size(i as usize)).sum();
        }
        g.class.internal = g.members.iter().all(|&i| own.contains(snap, i as usize));
    }
}

/// Fills every group's retained size from the dominator tree and puts the groups in reading
/// order (`reading_order`).
pub(super) fn rank_by_retention(dom: &DominatorTree, groups: &mut Vec<Grouped>) {
    if groups.is_empty() {
        return;
    }
    let targets: Vec<(u32, u32)> = groups
        .iter()
        .enumerate()
        .flat_map(|(c, g)| g.members.iter().map(move |&i| (i, c as u32)))
        .collect();
    let tree = class_tree(dom, &targets, groups.len());
    for (g, &s) in groups.iter_mut().zip(&tree.sizes) {
        g.class.retained_size = Some(s);
    }
    let classes: Vec<&ClassRetention> = groups.iter().map(|g| &g.class).collect();
    let order = reading_order(&classes, &tree.owners);
    let mut taken: Vec<Option<Grouped>> = groups.drain(..).map(Some).collect();
    groups.extend(
        order
            .into_iter()
            .map(|k| taken[k].take().expect("a permutation")),
    );
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
