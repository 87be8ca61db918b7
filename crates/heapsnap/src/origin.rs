//! Whether two snapshots come from one process, so that their node ids pair objects.
//!
//! V8 gives a heap object its id when a snapshot first sees it and keeps it for that object's
//! life, in that process only. Every process numbers from the same start, so the ids of two
//! processes overlap about as much as those of one (in two `node -e` runs of one program, 89% of
//! the later snapshot's ids are also in the earlier one, as in one process with 5,000 new
//! objects), but there they name different objects. What tells them apart is whether a shared id
//! names the same thing. Only objects and closures are compared: V8 changes other nodes in place
//! (a concatenated string flattened becomes a `string` named by its text, code and hidden
//! objects are renamed or retyped), 15,000 of them between two snapshots of one process here,
//! while an object or a closure keeps its type and name for life.
//!
//! Measured on Node 20, 22, 24 and 26 (pairs written by `node -e`; the objects and closures
//! among the later snapshot's odd ids, V8's heap objects): one process, before and after 5,000
//! new objects, and before and after flattening 5,000 concatenated strings, internalising 20,000
//! strings as keys, optimising, deoptimising and deleting properties: all of them agree (1.0).
//! Two processes of one program: 0.02–0.78; two of which the later one allocated 5,000 objects
//! first: 0.02–0.11.

use rustc_hash::FxHashMap;

use crate::Snapshot;

/// Ids of `after` sampled: enough to measure the agreement to a percent, few enough that the
/// check costs one pass over `before` with a small map.
const SAMPLE: usize = 4096;

/// Fewer shared ids than this and the check does not judge (hand-written or tiny snapshots).
const MIN_SHARED: u64 = 100;

/// Below this share of agreeing ids the snapshots are taken as two processes' (one process
/// measured at 1.0, two at 0.78 and below).
pub const SAME_PROCESS_AGREEMENT: f64 = 0.95;

/// How far the ids of two snapshots pair the same objects (see the module's doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdPairing {
    /// Ids of `after`'s objects and closures looked at (a sample spread over the snapshot).
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

/// Whether node `i` keeps its type and name for life: a V8 heap object (odd id: the embedder's
/// even ids are renumbered in every snapshot) that is an object or a closure.
fn stable(snap: &Snapshot, i: usize) -> bool {
    snap.node_id(i) % 2 == 1 && matches!(snap.node_type_name(i), "object" | "closure")
}

/// Compares the nodes of a sample of `after`'s objects and closures with the nodes of the same
/// ids in `before`.
pub fn id_pairing(before: &Snapshot, after: &Snapshot) -> IdPairing {
    let heap_object = |i: &usize| stable(after, *i);
    let odd = (0..after.node_count()).filter(heap_object).count();
    let step = odd.div_ceil(SAMPLE).max(1);
    // Every node of `before` is looked up: the Fx hash, not SipHash, which was most of the
    // check's time.
    let sample: FxHashMap<u64, usize> = (0..after.node_count())
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
