//! Whether two snapshots come from one process, so that their node ids pair objects.
//!
//! V8 gives a heap object its id when a snapshot first sees it and keeps it for that object's
//! life, in that process only. Every process numbers from the same start, so the ids of two
//! processes overlap about as much as those of one (in two `node -e` runs of one program, 89% of
//! the later snapshot's ids are also in the earlier one, as in one process with 5,000 new
//! objects), but there they name different objects. What tells them apart is whether a shared id
//! names the same thing: in one process a heap object keeps its type and name, so a shared id
//! has both the same on both sides (all of them but 2 in 52,635 here); in two processes a shared
//! id is a different object, agreeing only where start-up allocated alike.
//!
//! Measured on Node 20 and 26 (pairs written by `node -e`, the names compared for odd ids,
//! V8's heap objects): one process, no change, 5,000 new objects, 20 rounds of 20,000 discarded
//! objects, with and without a dozen core modules loaded: 0.9999–1.0 of the shared ids agree;
//! two processes of one program: 0.60–0.89; two processes of which the later one allocated
//! 5,000 objects first: 0.15–0.26.

use std::collections::HashMap;

use crate::Snapshot;

/// Ids of `after` sampled: enough to measure the agreement to a percent, few enough that the
/// check costs one pass over `before` with a small map.
const SAMPLE: usize = 4096;

/// Fewer shared ids than this and the check does not judge (hand-written or tiny snapshots).
const MIN_SHARED: u64 = 100;

/// Below this share of agreeing ids the snapshots are taken as two processes' (one process
/// measured at 0.9999 and above, two at 0.89 and below).
pub const SAME_PROCESS_AGREEMENT: f64 = 0.95;

/// How far the ids of two snapshots pair the same objects (see the module's doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdPairing {
    /// Heap-object ids of `after` looked at (a sample spread over the snapshot).
    pub sampled: u64,
    /// Of those, the ids `before` has too.
    pub shared: u64,
    /// Of those, the ids whose node has the same type and name on both sides.
    pub agreeing: u64,
}

impl IdPairing {
    /// Whether the ids pair objects of one process: false when enough ids are shared and too
    /// few of them name the same object, or when none of a large sample is shared at all.
    pub fn same_process(&self) -> bool {
        if self.shared < MIN_SHARED {
            return self.sampled < MIN_SHARED || self.shared > 0;
        }
        self.agreeing as f64 >= SAME_PROCESS_AGREEMENT * self.shared as f64
    }
}

/// Compares the nodes of a sample of `after`'s heap-object ids (odd ids: the embedder's even
/// ids are renumbered in every snapshot) with the nodes of the same ids in `before`.
pub fn id_pairing(before: &Snapshot, after: &Snapshot) -> IdPairing {
    let heap_object = |i: &usize| after.node_id(*i) % 2 == 1;
    let odd = (0..after.node_count()).filter(heap_object).count();
    let step = odd.div_ceil(SAMPLE).max(1);
    let sample: HashMap<u64, usize> = (0..after.node_count())
        .filter(heap_object)
        .step_by(step)
        .map(|i| (after.node_id(i), i))
        .collect();
    let mut p = IdPairing {
        sampled: sample.len() as u64,
        ..IdPairing::default()
    };
    for i in 0..before.node_count() {
        let Some(&j) = sample.get(&before.node_id(i)) else {
            continue;
        };
        p.shared += 1;
        if before.node_type_name(i) == after.node_type_name(j)
            && before.node_name(i) == after.node_name(j)
        {
            p.agreeing += 1;
        }
    }
    p
}
