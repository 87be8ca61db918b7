//! Id-based comparison of two snapshots of the same process, grouped by class.
//!
//! Nodes are matched by snapshot object id, which V8 keeps stable for an object across snapshots
//! of one process. Each snapshot's ids go into a bitset; one linear pass per snapshot then sorts
//! its nodes into kept and allocated/freed. No recursion (the classic memwatch recursed over the
//! graph and crashed on long lists), no sort and no per-node allocation, so tens of millions of
//! nodes fit. Ids a bitset cannot hold cheaply fall back to sorted keys merge-joined.

use std::collections::HashMap;

use crate::classes::{ClassRules, Grouping};
use crate::idset::{IdSet, BITSET_IDS_PER_NODE, BITSET_MIN_IDS};
use crate::snapshot::{IdColumn, Snapshot};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    pub grouping: Grouping,
    /// Ids left out of everything (the in-process HeapDiff's own objects).
    pub exclude_ids: Vec<u64>,
}

/// How `diff_with` matches nodes by id. Both give the same result; `Sorted` exists so that the
/// fallback can be exercised (and compared) on snapshots that would take the bitset path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// A bitset of ids per snapshot when the ids are dense and unique (V8's are), else `Sorted`.
    #[default]
    Auto,
    /// Sorted id lists merge-joined: any ids, including sparse, 64-bit and duplicate ones.
    Sorted,
}

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

fn signed_difference(plus: u64, minus: u64) -> i64 {
    let d = i128::from(plus) - i128::from(minus);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Members of one snapshot sorted by id: the fallback for id sets a bitset cannot hold cheaply
/// (sparse or wider than 32 bits, as foreign writers may produce) and for duplicate ids, whose
/// one-to-one pairing a set cannot express. V8 ids fit 32 bits, so `id << 32 | index` packs a
/// key in one `u64` (half the memory of a pair, and a plain integer sort); wider ids use pairs.
enum Members {
    Packed(Vec<u64>),
    Wide(Vec<(u64, u32)>),
}

impl Members {
    /// Every node, counted or not: whether an object existed is a matter of its id, and V8 may
    /// file one object under a counted type in one snapshot and an uncounted one (hidden) in
    /// the next.
    fn collect(snap: &Snapshot, exclude: &[u64]) -> Members {
        let all = 0..snap.node_count();
        let mut m = if snap.ids.is_narrow() {
            let mut keys: Vec<u64> = all.map(|i| (snap.node_id(i) << 32) | i as u64).collect();
            keys.sort_unstable();
            Members::Packed(keys)
        } else {
            let mut keys: Vec<(u64, u32)> = all.map(|i| (snap.node_id(i), i as u32)).collect();
            keys.sort_unstable();
            Members::Wide(keys)
        };
        if !exclude.is_empty() {
            m.remove_ids(exclude);
        }
        m
    }

    /// Drops members whose id is in `exclude` (sorted), by walking both in id order.
    fn remove_ids(&mut self, exclude: &[u64]) {
        let mut x = 0usize;
        let mut keep = |id: u64| {
            while x < exclude.len() && exclude[x] < id {
                x += 1;
            }
            x >= exclude.len() || exclude[x] != id
        };
        match self {
            Members::Packed(v) => v.retain(|&k| keep(k >> 32)),
            Members::Wide(v) => v.retain(|&(id, _)| keep(id)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Members::Packed(v) => v.len(),
            Members::Wide(v) => v.len(),
        }
    }

    /// `(id, node index)` of the `k`-th member in id order.
    #[inline]
    fn get(&self, k: usize) -> Option<(u64, usize)> {
        match self {
            Members::Packed(v) => v
                .get(k)
                .map(|&key| (key >> 32, (key & 0xFFFF_FFFF) as usize)),
            Members::Wide(v) => v.get(k).map(|&(id, i)| (id, i as usize)),
        }
    }

    /// Count and size of the members the rules count.
    fn totals(&self, snap: &Snapshot, rules: &ClassRules) -> Totals {
        let mut t = Totals::default();
        for k in 0..self.len() {
            let (_, i) = self.get(k).expect("in range");
            if rules.slot(snap, i).is_some() {
                t.nodes += 1;
                t.size_bytes += snap.self_size(i);
            }
        }
        t
    }
}

/// Calls `f(index, id, slot)` for every node of `snap` that the rules count.
#[inline]
fn for_included(snap: &Snapshot, rules: &ClassRules, mut f: impl FnMut(usize, u64, u32)) {
    match &snap.ids {
        IdColumn::Narrow(v) => {
            for (i, &id) in v.iter().enumerate() {
                if let Some(slot) = rules.slot(snap, i) {
                    f(i, u64::from(id), slot);
                }
            }
        }
        IdColumn::Wide(v) => {
            for (i, &id) in v.iter().enumerate() {
                if let Some(slot) = rules.slot(snap, i) {
                    f(i, id, slot);
                }
            }
        }
    }
}

/// The ids of every node of one snapshot, counted or not (see `Members::collect`), or `None` if
/// one occurs twice or too many are far apart for the set to beat sorting.
fn mark(snap: &Snapshot, limit: u64) -> Option<IdSet> {
    let mut set = IdSet::new(limit);
    let mut unique = true;
    for i in 0..snap.node_count() {
        unique &= set.insert(snap.node_id(i));
    }
    let sparse = set.far.len() > snap.node_count() / 8;
    (unique && !sparse && set.seal()).then_some(set)
}

/// One side's result: its totals and the nodes the other side lacks, by slot.
struct Side {
    totals: Totals,
    only_here: SlotCounts,
}

/// Counts the members of `snap` (included, not excluded: those in `own`) and, by class slot,
/// those missing from `other`.
fn tally(snap: &Snapshot, rules: &ClassRules, own: &IdSet, other: &IdSet) -> Side {
    let mut totals = Totals::default();
    let mut only_here = SlotCounts::new(rules.slot_count());
    for_included(snap, rules, |i, id, slot| {
        if !own.contains(id) {
            return;
        }
        let size = snap.self_size(i);
        totals.nodes += 1;
        totals.size_bytes += size;
        if !other.contains(id) {
            only_here.add(slot, size);
        }
    });
    Side { totals, only_here }
}

/// The bitset path; `None` when the ids do not suit it (see `Members`).
fn by_bitsets(
    (before, rules_before): (&Snapshot, &ClassRules),
    (after, rules_after): (&Snapshot, &ClassRules),
    exclude: &[u64],
) -> Option<(Side, Side)> {
    let nodes = (before.node_count() + after.node_count()) as u64;
    let limit = nodes
        .saturating_mul(BITSET_IDS_PER_NODE)
        .max(BITSET_MIN_IDS);
    // The two snapshots are independent until the end; a thread each halves the wall time.
    let (bits_before, bits_after) = std::thread::scope(|s| {
        let t = s.spawn(|| mark(after, limit));
        let b = mark(before, limit);
        (b, t.join().expect("marking does not panic"))
    });
    let (mut bits_before, mut bits_after) = (bits_before?, bits_after?);
    for &id in exclude {
        bits_before.remove(id);
        bits_after.remove(id);
    }
    let (b, a) = (&bits_before, &bits_after);
    Some(std::thread::scope(|s| {
        let t = s.spawn(|| tally(after, rules_after, a, b));
        let freed = tally(before, rules_before, b, a);
        (freed, t.join().expect("tallying does not panic"))
    }))
}

/// The sorted fallback: both member lists merge-joined in id order.
fn by_sorting(
    (before, rules_before): (&Snapshot, &ClassRules),
    (after, rules_after): (&Snapshot, &ClassRules),
    exclude: &[u64],
) -> (Side, Side) {
    let members_before = Members::collect(before, exclude);
    let members_after = Members::collect(after, exclude);

    let mut freed = SlotCounts::new(rules_before.slot_count());
    let mut allocated = SlotCounts::new(rules_after.slot_count());
    // Unmatched nodes count only if the rules count them.
    let unmatched = |counts: &mut SlotCounts, rules: &ClassRules, snap: &Snapshot, i: usize| {
        if let Some(slot) = rules.slot(snap, i) {
            counts.add(slot, snap.self_size(i));
        }
    };

    let (mut p, mut q) = (0usize, 0usize);
    loop {
        match (members_before.get(p), members_after.get(q)) {
            (None, None) => break,
            (Some((idb, ib)), Some((ida, _))) if idb < ida => {
                unmatched(&mut freed, rules_before, before, ib);
                p += 1;
            }
            (Some((_, ib)), None) => {
                unmatched(&mut freed, rules_before, before, ib);
                p += 1;
            }
            (Some((idb, _)), Some((ida, _))) if idb == ida => {
                p += 1;
                q += 1;
            }
            (_, Some((_, ia))) => {
                unmatched(&mut allocated, rules_after, after, ia);
                q += 1;
            }
        }
    }
    (
        Side {
            totals: members_before.totals(before, rules_before),
            only_here: freed,
        },
        Side {
            totals: members_after.totals(after, rules_after),
            only_here: allocated,
        },
    )
}

/// Node count and self size per class slot of one snapshot; only touched slots get a row.
struct SlotCounts {
    row_of_slot: Vec<u32>,
    rows: Vec<(u32, u64, u64)>,
}

impl SlotCounts {
    fn new(slots: usize) -> Self {
        SlotCounts {
            row_of_slot: vec![u32::MAX; slots],
            rows: Vec::new(),
        }
    }

    #[inline]
    fn add(&mut self, slot: u32, bytes: u64) {
        let r = &mut self.row_of_slot[slot as usize];
        if *r == u32::MAX {
            *r = self.rows.len() as u32;
            self.rows.push((slot, 0, 0));
        }
        let row = &mut self.rows[*r as usize];
        row.1 += 1;
        row.2 += bytes;
    }
}

/// Compares `before` and `after` (two snapshots of one process) by node id.
pub fn diff(before: &Snapshot, after: &Snapshot, opts: &DiffOptions) -> Diff {
    diff_with(before, after, opts, Strategy::Auto)
}

/// `diff` with the id matching chosen by the caller.
pub fn diff_with(
    before: &Snapshot,
    after: &Snapshot,
    opts: &DiffOptions,
    strategy: Strategy,
) -> Diff {
    let mut exclude = opts.exclude_ids.clone();
    exclude.sort_unstable();
    exclude.dedup();

    let rules_before = ClassRules::new(before, opts.grouping);
    let rules_after = ClassRules::new(after, opts.grouping);
    let sides = (before, &rules_before);
    let sides_after = (after, &rules_after);
    let (
        Side {
            totals: before_totals,
            only_here: freed,
        },
        Side {
            totals: after_totals,
            only_here: allocated,
        },
    ) = match strategy {
        Strategy::Auto => by_bitsets(sides, sides_after, &exclude)
            .unwrap_or_else(|| by_sorting(sides, sides_after, &exclude)),
        Strategy::Sorted => by_sorting(sides, sides_after, &exclude),
    };

    let mut by_name: HashMap<String, ClassChange> = HashMap::new();
    for &(slot, count, bytes) in &freed.rows {
        let name = rules_before.name(before, slot);
        let row = by_name.entry(name.into_owned()).or_default();
        row.freed += count;
        row.freed_bytes += bytes;
    }
    for &(slot, count, bytes) in &allocated.rows {
        let name = rules_after.name(after, slot);
        let row = by_name.entry(name.into_owned()).or_default();
        row.allocated += count;
        row.allocated_bytes += bytes;
    }
    let mut details: Vec<ClassChange> = by_name
        .into_iter()
        .map(|(what, mut row)| {
            row.what = what;
            row.size_bytes = signed_difference(row.allocated_bytes, row.freed_bytes);
            row
        })
        .collect();
    match opts.grouping {
        Grouping::Classic => details.sort_unstable_by(|a, b| a.what.cmp(&b.what)),
        Grouping::DevTools => details.sort_unstable_by(|a, b| {
            b.size_bytes
                .cmp(&a.size_bytes)
                .then_with(|| a.what.cmp(&b.what))
        }),
    }

    Diff {
        before: before_totals,
        after: after_totals,
        size_bytes: signed_difference(after_totals.size_bytes, before_totals.size_bytes),
        freed_nodes: freed.rows.iter().map(|r| r.1).sum(),
        allocated_nodes: allocated.rows.iter().map(|r| r.1).sum(),
        details,
    }
}
