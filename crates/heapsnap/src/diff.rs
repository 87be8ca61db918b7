//! Id-based comparison of two snapshots of the same process, grouped by class.
//!
//! Nodes are matched by snapshot object id, which V8 keeps stable for an object across snapshots
//! of one process. Both snapshots' members are reduced to sorted `(id, node index)` keys and
//! merge-joined: linear after the sort, no recursion (the classic memwatch recursed over the
//! graph and crashed on long lists) and no per-node allocation, so tens of millions of nodes fit.

use std::collections::HashMap;

use crate::classes::ClassRules;
use crate::snapshot::Snapshot;

/// Which naming convention the `what` column follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    /// The classic memwatch classes; hidden and synthetic (system) nodes are left out of every
    /// figure; details sorted by `what` in byte order.
    #[default]
    Classic,
    /// Chrome DevTools' comparison-view classes; every node type counts (system nodes too) but,
    /// as in DevTools, nodes of self size 0 do not; details sorted by size change, largest
    /// first.
    DevTools,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffOptions {
    pub grouping: Grouping,
    /// Ids left out of everything (the in-process HeapDiff's own objects).
    pub exclude_ids: Vec<u64>,
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

/// Members of one snapshot sorted by id. V8 ids fit 32 bits, so `id << 32 | index` packs a key
/// in one `u64` (half the memory of a pair, and a plain integer sort); wider ids fall back to
/// pairs.
enum Members {
    Packed(Vec<u64>),
    Wide(Vec<(u64, u32)>),
}

impl Members {
    fn collect(snap: &Snapshot, rules: &ClassRules, exclude: &[u64]) -> Members {
        let included = (0..snap.node_count()).filter(|&i| rules.slot(snap, i).is_some());
        let mut m = if snap.ids.is_narrow() {
            let mut keys: Vec<u64> = included
                .map(|i| (snap.node_id(i) << 32) | i as u64)
                .collect();
            keys.sort_unstable();
            Members::Packed(keys)
        } else {
            let mut keys: Vec<(u64, u32)> = included.map(|i| (snap.node_id(i), i as u32)).collect();
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

    fn totals(&self, snap: &Snapshot) -> Totals {
        let mut t = Totals::default();
        for k in 0..self.len() {
            let (_, i) = self.get(k).expect("in range");
            t.nodes += 1;
            t.size_bytes += snap.self_size(i);
        }
        t
    }
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
    let mut exclude = opts.exclude_ids.clone();
    exclude.sort_unstable();
    exclude.dedup();

    let rules_before = ClassRules::new(before, opts.grouping);
    let rules_after = ClassRules::new(after, opts.grouping);
    let members_before = Members::collect(before, &rules_before, &exclude);
    let members_after = Members::collect(after, &rules_after, &exclude);

    let mut freed = SlotCounts::new(rules_before.slot_count());
    let mut allocated = SlotCounts::new(rules_after.slot_count());
    let slot_of = |rules: &ClassRules, snap: &Snapshot, i: usize| {
        rules.slot(snap, i).expect("members are included nodes")
    };

    let (mut p, mut q) = (0usize, 0usize);
    loop {
        match (members_before.get(p), members_after.get(q)) {
            (None, None) => break,
            (Some((idb, ib)), Some((ida, _))) if idb < ida => {
                freed.add(slot_of(&rules_before, before, ib), before.self_size(ib));
                p += 1;
            }
            (Some((_, ib)), None) => {
                freed.add(slot_of(&rules_before, before, ib), before.self_size(ib));
                p += 1;
            }
            (Some((idb, _)), Some((ida, _))) if idb == ida => {
                p += 1;
                q += 1;
            }
            (_, Some((_, ia))) => {
                allocated.add(slot_of(&rules_after, after, ia), after.self_size(ia));
                q += 1;
            }
        }
    }

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

    let before_totals = members_before.totals(before);
    let after_totals = members_after.totals(after);
    Diff {
        before: before_totals,
        after: after_totals,
        size_bytes: signed_difference(after_totals.size_bytes, before_totals.size_bytes),
        freed_nodes: freed.rows.iter().map(|r| r.1).sum(),
        allocated_nodes: allocated.rows.iter().map(|r| r.1).sum(),
        details,
    }
}
