//! A snapshot's nodes sorted by id, for matching nodes by id where a bitset of ids does not
//! serve: shared by the id-based diff (`diff.rs`) and DevTools' comparison (`devtools_diff.rs`).

use crate::classes::ClassRules;
use crate::report::Totals;
use crate::snapshot::Snapshot;

/// Members of one snapshot sorted by id: the fallback for id sets a bitset cannot hold cheaply
/// (sparse or wider than 32 bits, as foreign writers may produce) and for duplicate ids, whose
/// one-to-one pairing a set cannot express. V8 ids fit 32 bits, so `id << 32 | index` packs a
/// key in one `u64` (half the memory of a pair, and a plain integer sort); wider ids use pairs.
pub(crate) enum Members {
    Packed(Vec<u64>),
    Wide(Vec<(u64, u32)>),
}

impl Members {
    /// Every node, counted or not: whether an object existed is a matter of its id, and V8 may
    /// file one object under a counted type in one snapshot and an uncounted one (hidden) in
    /// the next.
    pub(crate) fn collect(snap: &Snapshot, exclude: &[u64]) -> Members {
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

    pub(crate) fn contains(&self, id: u64) -> bool {
        match self {
            Members::Packed(v) => v.binary_search_by(|&k| (k >> 32).cmp(&id)).is_ok(),
            Members::Wide(v) => v.binary_search_by(|&(k, _)| k.cmp(&id)).is_ok(),
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
    pub(crate) fn get(&self, k: usize) -> Option<(u64, usize)> {
        match self {
            Members::Packed(v) => v
                .get(k)
                .map(|&key| (key >> 32, (key & 0xFFFF_FFFF) as usize)),
            Members::Wide(v) => v.get(k).map(|&(id, i)| (id, i as usize)),
        }
    }

    /// Count and size of the members the rules count.
    pub(crate) fn totals(&self, snap: &Snapshot, rules: &ClassRules) -> Totals {
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
