//! Membership of snapshot object ids: "was this object already there?".
//!
//! V8 hands out ids densely (JS objects odd, embedder objects even, about twice the number of
//! objects ever seen), so a bitset over the id range costs a bit or two per id and answers
//! without hashing; ids from foreign writers may be sparse or 64-bit, and then a sorted list is
//! both smaller and correct.

pub(crate) enum IdSet {
    Bits(Vec<u64>),
    Sorted(Vec<u64>),
}

/// A bitset is chosen while it costs at most this many bits per member.
const MAX_BITS_PER_ID: u64 = 64;

impl IdSet {
    pub(crate) fn new(ids: impl Iterator<Item = u64> + Clone) -> Self {
        let (count, max) = ids
            .clone()
            .fold((0u64, 0u64), |(c, m), id| (c + 1, m.max(id)));
        if max / MAX_BITS_PER_ID <= count.max(1024) {
            let mut bits = vec![0u64; (max / 64 + 1) as usize];
            for id in ids {
                bits[(id / 64) as usize] |= 1 << (id % 64);
            }
            IdSet::Bits(bits)
        } else {
            let mut v: Vec<u64> = ids.collect();
            v.sort_unstable();
            v.dedup();
            IdSet::Sorted(v)
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        match self {
            IdSet::Bits(b) => b
                .get((id / 64) as usize)
                .is_some_and(|w| w & (1 << (id % 64)) != 0),
            IdSet::Sorted(v) => v.binary_search(&id).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_agree_with_a_plain_set() {
        let dense: Vec<u64> = (1..5000).step_by(2).collect();
        let sparse: Vec<u64> = vec![3, 1 << 40, u64::MAX, 17, 1 << 40];
        for ids in [dense, sparse] {
            let set = IdSet::new(ids.iter().copied());
            let plain: std::collections::HashSet<u64> = ids.iter().copied().collect();
            for probe in (0..6000).chain([1 << 40, u64::MAX, (1 << 40) + 1]) {
                assert_eq!(set.contains(probe), plain.contains(&probe), "{probe}");
            }
        }
        assert!(matches!(
            IdSet::new([1u64, 1 << 40].into_iter()),
            IdSet::Sorted(_)
        ));
        assert!(matches!(IdSet::new(1..100u64), IdSet::Bits(_)));
    }
}
