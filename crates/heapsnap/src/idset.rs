//! Membership of snapshot object ids ("was this object there before?"), shared by the diff and
//! the leak analyses.

/// A set of node ids: a bit per possible id up to a limit, and a sorted list above it.
///
/// V8 hands out heap object ids from a counter (JS objects take odd ids), so nearly every id is
/// below a small multiple of the node count and the bits take about a byte per node or less:
/// far below the 8 bytes a node of a sorted key list takes, and membership replaces the sort.
/// Embedder (native) nodes carry large hash-like ids; the few of them go to the list.
pub(crate) struct IdSet {
    bits: Vec<u64>,
    limit: u64,
    pub(crate) far: Vec<u64>,
}

impl IdSet {
    pub(crate) fn new(limit: u64) -> Self {
        IdSet {
            bits: Vec::new(),
            limit,
            far: Vec::new(),
        }
    }

    /// Adds `id`; false if a bit-held id was already there (list ids are checked by `seal`).
    #[inline]
    pub(crate) fn insert(&mut self, id: u64) -> bool {
        if id >= self.limit {
            self.far.push(id);
            return true;
        }
        let (w, bit) = ((id / 64) as usize, 1u64 << (id % 64));
        if w >= self.bits.len() {
            self.bits.resize(w + 1, 0);
        }
        let was = self.bits[w] & bit;
        self.bits[w] |= bit;
        was == 0
    }

    /// Sorts the list; false if it holds an id twice.
    pub(crate) fn seal(&mut self) -> bool {
        self.far.sort_unstable();
        self.far.windows(2).all(|p| p[0] != p[1])
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        if id >= self.limit {
            return self.far.binary_search(&id).is_ok();
        }
        self.bits
            .get((id / 64) as usize)
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }

    pub(crate) fn remove(&mut self, id: u64) {
        if id >= self.limit {
            if let Ok(k) = self.far.binary_search(&id) {
                self.far.remove(k);
            }
        } else if let Some(w) = self.bits.get_mut((id / 64) as usize) {
            *w &= !(1u64 << (id % 64));
        }
    }
}

/// Ids held as bits per node (of both snapshots together): the bits take at most 2 bytes per
/// node each, and V8's ids stay below about twice the number of objects it has numbered.
pub(crate) const BITSET_IDS_PER_NODE: u64 = 16;

/// Headroom for tiny snapshots, whose ids start well above their node count.
pub(crate) const BITSET_MIN_IDS: u64 = 1 << 20;

impl IdSet {
    /// The set of `ids`, with bits for ids below a limit sized from `nodes` (the number of nodes
    /// the ids come from) and a sorted list above it. Duplicates are harmless here.
    pub(crate) fn collect(ids: impl Iterator<Item = u64>, nodes: usize) -> Self {
        let limit = (nodes as u64)
            .saturating_mul(BITSET_IDS_PER_NODE)
            .max(BITSET_MIN_IDS);
        let mut set = IdSet::new(limit);
        for id in ids {
            set.insert(id);
        }
        set.far.sort_unstable();
        set.far.dedup();
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_far_list_agree_with_a_plain_set() {
        let dense: Vec<u64> = (1..5000).step_by(2).collect();
        let mixed: Vec<u64> = vec![3, 1 << 40, u64::MAX, 17, 1 << 40, 1_300_000_000, 9];
        for ids in [dense, mixed] {
            let set = IdSet::collect(ids.iter().copied(), ids.len());
            let plain: std::collections::HashSet<u64> = ids.iter().copied().collect();
            for probe in (0..6000).chain([1 << 40, u64::MAX, (1 << 40) + 1, 1_300_000_000]) {
                assert_eq!(set.contains(probe), plain.contains(&probe), "{probe}");
            }
        }
    }
}
