//! The string indices a snapshot refers to (node names, kept edge names, DevTools' property
//! names, trace functions): which strings the builder decodes, and by rank the names-table id
//! each gets (see `builder.rs`). A module of its own because the builder and the trace reader
//! (`trace.rs`) both mark indices in it.

/// String indices below this are tracked in a bitset (32 MiB at most); larger ones, which real
/// snapshots do not reach, go to a list so a corrupt index cannot force a huge bitset.
const BITSET_LIMIT: u64 = 1 << 28;

/// String indices referenced by nodes (and by edge names when edges are kept).
#[derive(Debug, Default)]
pub(crate) struct NeededStrings {
    bits: Vec<u64>,
    far: Vec<u32>,
    far_pos: usize,
    /// After `build_rank`: per bitset word, how many bits are set in the words before it.
    rank_base: Vec<u32>,
}

impl NeededStrings {
    #[inline]
    pub(crate) fn mark(&mut self, k: u32) {
        if u64::from(k) < BITSET_LIMIT {
            let w = (k / 64) as usize;
            if w >= self.bits.len() {
                self.bits.resize(w + 1, 0);
            }
            self.bits[w] |= 1 << (k % 64);
        } else {
            self.far.push(k);
        }
    }

    pub(crate) fn prepare_for_scan(&mut self) {
        self.far.sort_unstable();
        self.far.dedup();
        self.far_pos = 0;
    }

    /// Membership test for strictly increasing `k`, as the string table is read in order.
    pub(crate) fn contains_in_order(&mut self, k: u64) -> bool {
        if k < BITSET_LIMIT {
            let w = (k / 64) as usize;
            return w < self.bits.len() && self.bits[w] & (1 << (k % 64)) != 0;
        }
        while self.far_pos < self.far.len() && u64::from(self.far[self.far_pos]) < k {
            self.far_pos += 1;
        }
        self.far
            .get(self.far_pos)
            .is_some_and(|&f| u64::from(f) == k)
    }

    /// Prepares `rank`; call once every reference is marked.
    pub(crate) fn build_rank(&mut self) {
        let mut at = 0u32;
        self.rank_base = self
            .bits
            .iter()
            .map(|w| {
                let base = at;
                at = at.wrapping_add(w.count_ones());
                base
            })
            .collect();
        self.far.sort_unstable();
        self.far.dedup();
    }

    /// How many marked indices are below `k`, for a marked `k`: its position in index order.
    #[inline]
    pub(crate) fn rank(&self, k: u32) -> u32 {
        if u64::from(k) < BITSET_LIMIT {
            let w = (k / 64) as usize;
            let below = self.bits[w] & ((1u64 << (k % 64)) - 1);
            return self.rank_base[w] + below.count_ones();
        }
        let in_bits = self.rank_base.last().copied().unwrap_or(0)
            + self.bits.last().map_or(0, |w| w.count_ones());
        in_bits + self.far.partition_point(|&f| f < k) as u32
    }

    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.bits.capacity() * 8 + self.far.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_is_the_position_among_marked_indices() {
        let mut s = NeededStrings::default();
        let mut marked = vec![0u32, 1, 63, 64, 65, 200, 4095, (1 << 28) + 1, u32::MAX - 1];
        for &k in marked.iter().rev().chain(&[64, 0]) {
            s.mark(k);
        }
        s.prepare_for_scan();
        s.build_rank();
        marked.sort_unstable();
        for (pos, &k) in marked.iter().enumerate() {
            assert_eq!(s.rank(k), pos as u32, "string #{k}");
        }
    }

    #[test]
    fn needed_strings_bitset_and_far_list() {
        let mut s = NeededStrings::default();
        for k in [5, 70, 3, (1 << 28) + 9, u32::MAX, (1 << 28) + 9] {
            s.mark(k);
        }
        s.prepare_for_scan();
        let hits: Vec<u64> = [
            0u64,
            3,
            5,
            6,
            70,
            1 << 28,
            (1 << 28) + 9,
            u64::from(u32::MAX),
        ]
        .into_iter()
        .filter(|&k| s.contains_in_order(k))
        .collect();
        assert_eq!(hits, [3, 5, 70, (1 << 28) + 9, u64::from(u32::MAX)]);
        assert!(
            s.heap_bytes() < 1 << 20,
            "a huge index does not grow the bitset"
        );
    }
}
