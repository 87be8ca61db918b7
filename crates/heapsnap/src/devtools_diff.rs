//! DevTools' comparison of two snapshots' views (rule 4 in `devtools.rs`): rows are classes,
//! matched by id within a class. Apart from the views so that what needs a view alone (the
//! allocation sites in `allocations.rs`, named by its classes) does not depend on the diff.

use std::collections::HashMap;

use crate::classes::Grouping;
use crate::devtools::{DevToolsView, NONE};
use crate::members::Members;
use crate::report::{signed_difference, sort_details, ClassChange, Diff, Totals};
use crate::snapshot::Snapshot;

/// Each node's class in a space shared by both snapshots, so rows can be matched by name.
struct SharedClasses {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl SharedClasses {
    /// The shared id of each of `view`'s classes (a table per class, not per node).
    fn map(&mut self, view: &DevToolsView) -> Vec<u32> {
        view.names
            .iter()
            .map(|s| {
                *self.ids.entry(s.clone()).or_insert_with(|| {
                    self.names.push(s.clone());
                    self.names.len() as u32 - 1
                })
            })
            .collect()
    }
}

/// Node `i`'s class in the shared space (`NONE`: left out).
fn shared_class(view: &DevToolsView, shared: &[u32], i: usize) -> u32 {
    match view.class[i] {
        NONE => NONE,
        k => shared[k as usize],
    }
}

/// One side of a comparison: the nodes it counts, and those that changed (new or deleted).
#[derive(Default)]
struct Tally {
    totals: Totals,
    changed: u64,
}

impl Tally {
    /// Counts a node of class `class` (`NONE`: left out); one that `changed` also goes into its
    /// row, as new (`after`'s side) or deleted.
    fn count(&mut self, rows: &mut [ClassChange], class: u32, size: u64, changed: bool, new: bool) {
        if class == NONE {
            return;
        }
        self.totals.nodes += 1;
        self.totals.size_bytes += size;
        if !changed {
            return;
        }
        self.changed += 1;
        let row = &mut rows[class as usize];
        if new {
            row.allocated += 1;
            row.allocated_bytes += size;
        } else {
            row.freed += 1;
            row.freed_bytes += size;
        }
    }
}

/// Nodes paired by id: in both snapshots, or in one.
enum Pair {
    Both(usize, usize),
    Before(usize),
    After(usize),
}

/// Odd ids (V8 gives JS objects odd ids from a counter) below `2 * cap` are looked up in a
/// table of `cap` slots; how many slots per node of both snapshots it may take before sorting
/// is cheaper.
const TABLE_SLOTS_PER_NODE: usize = 2;
/// Ids a table leaves to a hash map (even ids, ids past the table) before sorting is cheaper,
/// per node of its side.
const FAR_IDS_PER_NODE: usize = 8;

/// An id's entry in `ClassesById` where no node has it.
const ABSENT: u32 = u32::MAX - 1;

/// A table entry: a class index of one view, `NONE` or `ABSENT`. Two bytes where both views
/// have fewer classes than that (nearly always), which keeps the two tables of a comparison
/// within the 4 bytes per id that one table of node indices took.
trait Entry: Copy + Send + Sync {
    const EMPTY: Self;
    fn pack(class: u32) -> Self;
    fn unpack(self) -> u32;
}

impl Entry for u16 {
    const EMPTY: u16 = u16::MAX;
    fn pack(class: u32) -> u16 {
        if class == NONE {
            u16::MAX - 1
        } else {
            class as u16
        }
    }
    fn unpack(self) -> u32 {
        match self {
            u16::MAX => ABSENT,
            0xFFFE => NONE,
            k => u32::from(k),
        }
    }
}

impl Entry for u32 {
    const EMPTY: u32 = ABSENT;
    fn pack(class: u32) -> u32 {
        class
    }
    fn unpack(self) -> u32 {
        self
    }
}

/// One side of a comparison by id: the class of the first node with each id (its view's own
/// index, `NONE` or `ABSENT`), for the other side to look its nodes up in, and the nodes that
/// repeat an id, which pair with nothing (as a merge-join by (id, index) pairs the first of
/// each side). Each side builds its table and then counts its nodes against the other's, on a
/// thread each: one random read per node, where pairing through one table of node indices
/// took three (index, paired flag, class) on one thread.
struct ClassesById<E> {
    table: Vec<E>,
    far: HashMap<u64, u32>,
    repeats: Vec<u32>,
}

impl<E: Entry> ClassesById<E> {
    /// `None` when too many ids fall outside a table of `cap` slots.
    fn build(snap: &Snapshot, view: &DevToolsView, cap: usize, exclude: &[u64]) -> Option<Self> {
        let n = snap.node_count();
        let slot = |id: u64| (id & 1 == 1 && id / 2 < cap as u64).then_some((id / 2) as usize);
        let (mut far_count, mut top) = (0usize, None::<usize>);
        for i in 0..n {
            match slot(snap.node_id(i)) {
                Some(k) => top = top.max(Some(k)),
                None => far_count += 1,
            }
        }
        if far_count > n / FAR_IDS_PER_NODE + 1024 {
            return None;
        }
        let mut ids = ClassesById {
            table: vec![E::EMPTY; top.map_or(0, |t| t + 1)],
            far: HashMap::with_capacity(far_count),
            repeats: Vec::new(),
        };
        for i in 0..n {
            let id = snap.node_id(i);
            if excluded(exclude, id) {
                continue;
            }
            let class = view.class[i];
            let first = match slot(id) {
                Some(k) => {
                    let e = &mut ids.table[k];
                    let first = e.unpack() == ABSENT;
                    if first {
                        *e = E::pack(class);
                    }
                    first
                }
                None => {
                    let e = ids.far.entry(id).or_insert(ABSENT);
                    let first = *e == ABSENT;
                    if first {
                        *e = class;
                    }
                    first
                }
            };
            if !first {
                ids.repeats.push(i as u32);
            }
        }
        Some(ids)
    }

    fn get(&self, id: u64) -> u32 {
        if id & 1 == 1 {
            if let Some(e) = self.table.get((id / 2) as usize) {
                return e.unpack();
            }
        }
        self.far.get(&id).copied().unwrap_or(ABSENT)
    }

    /// Counts `snap`'s nodes (`new`: it is `after`) into `rows` (shared classes): a node is
    /// kept when it is the first with its id and `other`'s first node with that id has the
    /// same class.
    fn count<F: Entry>(
        &self,
        (snap, view, shared): (&Snapshot, &DevToolsView, &[u32]),
        (other, other_shared): (&ClassesById<F>, &[u32]),
        exclude: &[u64],
        rows: &mut [ClassChange],
        new: bool,
    ) -> Tally {
        let mut tally = Tally::default();
        let mut repeats = self.repeats.iter().peekable();
        for i in 0..snap.node_count() {
            let repeat = repeats.next_if(|&&r| r as usize == i).is_some();
            let id = snap.node_id(i);
            let class = shared_class(view, shared, i);
            if class == NONE || excluded(exclude, id) {
                continue;
            }
            let changed = repeat
                || match other.get(id) {
                    ABSENT | NONE => true,
                    k => other_shared[k as usize] != class,
                };
            tally.count(rows, class, view.size.get(i), changed, new);
        }
        tally
    }
}

fn excluded(exclude: &[u64], id: u64) -> bool {
    !exclude.is_empty() && exclude.binary_search(&id).is_ok()
}

/// Both sides counted through `ClassesById` (`None` when the ids do not suit tables).
fn count_by_tables<E: Entry>(
    (before, view_before, shared_before): (&Snapshot, &DevToolsView, &[u32]),
    (after, view_after, shared_after): (&Snapshot, &DevToolsView, &[u32]),
    exclude: &[u64],
    rows: usize,
) -> Option<[(Tally, Vec<ClassChange>); 2]> {
    if u32::try_from(before.node_count().max(after.node_count())).is_err() {
        return None;
    }
    let cap = (before.node_count() + after.node_count()).saturating_mul(TABLE_SLOTS_PER_NODE);
    let (ids_before, ids_after) = std::thread::scope(|s| {
        let t = s.spawn(|| ClassesById::<E>::build(after, view_after, cap, exclude));
        let b = ClassesById::<E>::build(before, view_before, cap, exclude);
        (b, t.join().expect("building a table does not panic"))
    });
    let (ids_before, ids_after) = (ids_before?, ids_after?);
    let side = |ids: &ClassesById<E>, this, other, new| {
        let mut r = vec![ClassChange::default(); rows];
        let tally = ids.count(this, other, exclude, &mut r, new);
        (tally, r)
    };
    let this_before = (before, view_before, shared_before);
    let this_after = (after, view_after, shared_after);
    Some(std::thread::scope(|s| {
        let t = s.spawn(|| side(&ids_after, this_after, (&ids_before, shared_before), true));
        let b = side(&ids_before, this_before, (&ids_after, shared_after), false);
        [b, t.join().expect("counting does not panic")]
    }))
}

/// Calls `visit` for every id of either snapshot (leaving out `exclude`, sorted), as the
/// merge-join of both sorted by (id, index) does: the way for ids no table holds cheaply.
fn pair_by_sorting(
    before: &Snapshot,
    after: &Snapshot,
    exclude: &[u64],
    mut visit: impl FnMut(Pair),
) {
    let (members_before, members_after) = std::thread::scope(|s| {
        let t = s.spawn(|| Members::collect(after, exclude));
        (
            Members::collect(before, exclude),
            t.join().expect("sorting does not panic"),
        )
    });
    let (mut p, mut q) = (0usize, 0usize);
    loop {
        match (members_before.get(p), members_after.get(q)) {
            (None, None) => break,
            (Some((idb, ib)), Some((ida, _))) if idb < ida => {
                visit(Pair::Before(ib));
                p += 1;
            }
            (Some((_, ib)), None) => {
                visit(Pair::Before(ib));
                p += 1;
            }
            (Some((idb, ib)), Some((ida, ia))) if idb == ida => {
                visit(Pair::Both(ib, ia));
                p += 1;
                q += 1;
            }
            (_, Some((_, ia))) => {
                visit(Pair::After(ia));
                q += 1;
            }
        }
    }
}

/// Both sides counted by `pair_by_sorting`.
fn count_by_sorting(
    (before, view_before, shared_before): (&Snapshot, &DevToolsView, &[u32]),
    (after, view_after, shared_after): (&Snapshot, &DevToolsView, &[u32]),
    exclude: &[u64],
    rows: usize,
) -> [(Tally, Vec<ClassChange>); 2] {
    let class_before = |i: usize| shared_class(view_before, shared_before, i);
    let class_after = |i: usize| shared_class(view_after, shared_after, i);
    let (mut rows_before, mut rows_after) = (
        vec![ClassChange::default(); rows],
        vec![ClassChange::default(); rows],
    );
    let (mut before_side, mut after_side) = (Tally::default(), Tally::default());
    let mut gone = |ib: usize, changed: bool| {
        let size = view_before.size.get(ib);
        before_side.count(&mut rows_before, class_before(ib), size, changed, false)
    };
    let mut came = |ia: usize, changed: bool| {
        let size = view_after.size.get(ia);
        after_side.count(&mut rows_after, class_after(ia), size, changed, true)
    };
    // A node counts as kept only with the same class on both sides.
    pair_by_sorting(before, after, exclude, |pair| match pair {
        Pair::Both(ib, ia) => {
            let changed = class_before(ib) != class_after(ia);
            gone(ib, changed);
            came(ia, changed);
        }
        Pair::Before(ib) => gone(ib, true),
        Pair::After(ia) => came(ia, true),
    });
    [(before_side, rows_before), (after_side, rows_after)]
}

/// Rule 4: DevTools' comparison of two views. `exclude` (sorted ids) are left out of both.
pub(crate) fn diff(
    (before, view_before): (&Snapshot, &DevToolsView),
    (after, view_after): (&Snapshot, &DevToolsView),
    exclude: &[u64],
) -> Diff {
    let mut shared = SharedClasses {
        names: Vec::new(),
        ids: HashMap::new(),
    };
    let (shared_before, shared_after) = (shared.map(view_before), shared.map(view_after));
    let this_before = (before, view_before, &shared_before[..]);
    let this_after = (after, view_after, &shared_after[..]);
    let n = shared.names.len();
    let narrow = view_before.names.len().max(view_after.names.len()) < usize::from(u16::MAX - 1);
    let by_tables = if narrow {
        count_by_tables::<u16>(this_before, this_after, exclude, n)
    } else {
        count_by_tables::<u32>(this_before, this_after, exclude, n)
    };
    let [(before_side, rows_before), (after_side, rows_after)] =
        by_tables.unwrap_or_else(|| count_by_sorting(this_before, this_after, exclude, n));
    let (totals_before, totals_after) = (before_side.totals, after_side.totals);
    let (freed_nodes, allocated_nodes) = (before_side.changed, after_side.changed);
    let mut details: Vec<ClassChange> = rows_after
        .into_iter()
        .zip(rows_before)
        .zip(shared.names)
        .filter(|((a, b), _)| a.allocated + b.freed > 0)
        .map(|((a, b), what)| ClassChange {
            what,
            size_bytes: signed_difference(a.allocated_bytes, b.freed_bytes),
            allocated: a.allocated,
            freed: b.freed,
            allocated_bytes: a.allocated_bytes,
            freed_bytes: b.freed_bytes,
            allocated_at: None,
        })
        .collect();
    sort_details(&mut details, Grouping::DevTools);
    Diff {
        before: totals_before,
        after: totals_after,
        size_bytes: signed_difference(totals_after.size_bytes, totals_before.size_bytes),
        freed_nodes,
        allocated_nodes,
        details,
    }
}
