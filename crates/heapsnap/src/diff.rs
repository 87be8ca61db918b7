//! Id-based comparison of two snapshots of the same process, grouped by class.
//!
//! Nodes are matched by snapshot object id, which V8 keeps stable for an object across snapshots
//! of one process. Each snapshot's ids go into a bitset; one linear pass per snapshot then sorts
//! its nodes into kept and allocated/freed. No recursion (the classic memwatch recursed over the
//! graph and crashed on long lists), no sort and no per-node allocation, so tens of millions of
//! nodes fit. Ids a bitset cannot hold cheaply fall back to sorted keys merge-joined.

use std::collections::HashMap;

use crate::classes::{ClassRules, Grouping};
use crate::devtools::DevToolsView;
use crate::idset::{IdSet, BITSET_IDS_PER_NODE, BITSET_MIN_IDS};
use crate::members::Members;
use crate::report::{signed_difference, sort_details, ClassChange, Diff, Totals};
use crate::snapshot::{IdColumn, Snapshot};

/// How a diff matches and names what it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffOptions {
    /// Which naming the `what` column follows: memwatch's or DevTools'.
    pub grouping: Grouping,
    /// Ids left out of everything (the in-process HeapDiff's own objects).
    pub exclude_ids: Vec<u64>,
    /// Match renumbered embedder nodes by type, name and self size where their ids do not
    /// match them (see `embedder_changes`), instead of counting them as freed and allocated.
    pub match_embedder_nodes: bool,
    /// Allocation stacks listed per class when the later snapshot carries allocation traces
    /// (see `allocations.rs`).
    pub max_stacks: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            grouping: Grouping::default(),
            exclude_ids: Vec::new(),
            match_embedder_nodes: false,
            max_stacks: crate::allocations::DEFAULT_MAX_STACKS,
        }
    }
}

impl DiffOptions {
    /// Refuses a count of 0, which would make the analysis report nothing while looking as if it
    /// ran. The analyses do not check: a caller validates options before it starts one.
    pub fn validate(&self) -> Result<(), crate::options::OptionError> {
        crate::options::OptionError::at_least_one(
            crate::options::OptionField::DiffMaxStacks,
            self.max_stacks as u64,
        )
    }
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
fn tally(
    snap: &Snapshot,
    rules: &ClassRules,
    own: &IdSet,
    other: &IdSet,
    match_embedder: bool,
) -> Side {
    let mut totals = Totals::default();
    let mut only_here = SlotCounts::new(rules.slot_count());
    for_included(snap, rules, |i, id, slot| {
        if !own.contains(id) {
            return;
        }
        let size = snap.self_size(i);
        totals.nodes += 1;
        totals.size_bytes += size;
        if !(other.contains(id) || match_embedder && renumbered_embedder_node(snap, i)) {
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
    match_embedder: bool,
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
    let (mut freed, mut allocated) = std::thread::scope(|s| {
        let t = s.spawn(|| tally(after, rules_after, a, b, match_embedder));
        let freed = tally(before, rules_before, b, a, match_embedder);
        (freed, t.join().expect("tallying does not panic"))
    });
    if match_embedder {
        let changes = embedder_changes(before, after, &|id| b.contains(id), &|id| a.contains(id));
        changes.count(&mut freed, rules_before, &mut allocated, rules_after);
    }
    Some((freed, allocated))
}

/// The sorted fallback: both member lists merge-joined in id order.
fn by_sorting(
    (before, rules_before): (&Snapshot, &ClassRules),
    (after, rules_after): (&Snapshot, &ClassRules),
    exclude: &[u64],
    match_embedder: bool,
) -> (Side, Side) {
    let members_before = Members::collect(before, exclude);
    let members_after = Members::collect(after, exclude);
    let mut freed = SlotCounts::new(rules_before.slot_count());
    let mut allocated = SlotCounts::new(rules_after.slot_count());
    // Unmatched nodes count only if the rules count them; renumbered embedder nodes are
    // counted apart, by `embedder_changes`.
    let unmatched = |counts: &mut SlotCounts, rules: &ClassRules, snap: &Snapshot, i: usize| {
        if match_embedder && renumbered_embedder_node(snap, i) {
            return;
        }
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
    let mut sides = (
        Side {
            totals: members_before.totals(before, rules_before),
            only_here: freed,
        },
        Side {
            totals: members_after.totals(after, rules_after),
            only_here: allocated,
        },
    );
    if match_embedder {
        let changes = embedder_changes(before, after, &|id| members_before.contains(id), &|id| {
            members_after.contains(id)
        });
        changes.count(&mut sides.0, rules_before, &mut sides.1, rules_after);
    }
    sides
}

/// Whether node `i` is an embedder node whose id V8 may renumber in every snapshot.
///
/// V8 numbers heap objects with odd ids and the embedder's nodes (Node's `Node / …` wrappers,
/// its synthetic roots) with even ones. Those of Node's nodes that name no native object get a
/// fresh even id in each snapshot: V8 11 (Node 20) derives it from the address of the graph
/// node Node builds anew for every snapshot, so an id can even come back on another node; V8 12
/// and later count on from the previous snapshot. About 80 of them look freed and as many
/// allocated in any diff, though nothing changed.
fn renumbered_embedder_node(snap: &Snapshot, i: usize) -> bool {
    snap.node_id(i).is_multiple_of(2) && matches!(snap.node_type_name(i), "native" | "synthetic")
}

/// The renumbered embedder nodes (see `renumbered_embedder_node`) a diff counts, by node index:
/// freed ones of `before`, allocated ones of `after`.
struct EmbedderChanges<'s> {
    freed: Vec<usize>,
    allocated: Vec<usize>,
    snaps: (&'s Snapshot, &'s Snapshot),
}

impl EmbedderChanges<'_> {
    fn count(
        &self,
        freed: &mut Side,
        rules_before: &ClassRules,
        allocated: &mut Side,
        rules_after: &ClassRules,
    ) {
        let add = |side: &mut Side, rules: &ClassRules, snap: &Snapshot, nodes: &[usize]| {
            for &i in nodes {
                if let Some(slot) = rules.slot(snap, i) {
                    side.only_here.add(slot, snap.self_size(i));
                }
            }
        };
        let (before, after) = (self.snaps.0, self.snaps.1);
        add(freed, rules_before, before, &self.freed);
        add(allocated, rules_after, after, &self.allocated);
    }
}

/// Matches the renumbered embedder nodes of the two snapshots (`in_*`: ids not excluded) as a
/// node is matched by what it is rather than by its id: first by id where the node on the other
/// side has the same type, name and self size, then the rest pairwise by type, name and self
/// size. What is left over is counted: an embedder node that really came or went, or changed its
/// size. A no-op diff so shows no embedder churn, and the totals do not change.
fn embedder_changes<'s>(
    before: &'s Snapshot,
    after: &'s Snapshot,
    in_before: &dyn Fn(u64) -> bool,
    in_after: &dyn Fn(u64) -> bool,
) -> EmbedderChanges<'s> {
    type Key<'a> = (&'a str, &'a str, u64);
    let key = |snap: &'s Snapshot, i: usize| -> Key<'s> {
        (snap.node_type_name(i), snap.node_name(i), snap.self_size(i))
    };
    let nodes =
        |snap: &'s Snapshot, keep: &dyn Fn(u64) -> bool| -> HashMap<u64, (usize, Key<'s>)> {
            (0..snap.node_count())
                .filter(|&i| renumbered_embedder_node(snap, i) && keep(snap.node_id(i)))
                .map(|i| (snap.node_id(i), (i, key(snap, i))))
                .collect()
        };
    let (b, a) = (nodes(before, in_before), nodes(after, in_after));
    let same_by_id = |id: u64, k: &Key<'s>, other: &HashMap<u64, (usize, Key<'s>)>| {
        other.get(&id).is_some_and(|(_, ko)| ko == k)
    };
    let mut waiting: HashMap<Key<'s>, Vec<usize>> = HashMap::new();
    for (id, (i, k)) in &b {
        if !same_by_id(*id, k, &a) {
            waiting.entry(*k).or_default().push(*i);
        }
    }
    let mut allocated = Vec::new();
    for (id, (i, k)) in &a {
        if same_by_id(*id, k, &b) {
            continue;
        }
        if waiting.get_mut(k).and_then(Vec::pop).is_none() {
            allocated.push(*i);
        }
    }
    let mut freed: Vec<usize> = waiting.into_values().flatten().collect();
    freed.sort_unstable();
    allocated.sort_unstable();
    EmbedderChanges {
        freed,
        allocated,
        snaps: (before, after),
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

    // DevTools' rules need the graph; without edges the diff counts by id alone (see
    // `devtools`), which is what the CLI's plain diff of files without edges gets.
    if opts.grouping == Grouping::DevTools {
        let views = std::thread::scope(|s| {
            let t = s.spawn(|| DevToolsView::of(after));
            (
                DevToolsView::of(before),
                t.join().expect("the view does not panic"),
            )
        });
        if let (Some(vb), Some(va)) = views {
            return crate::devtools_diff::diff((before, &vb), (after, &va), &exclude);
        }
    }

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
        Strategy::Auto => by_bitsets(sides, sides_after, &exclude, opts.match_embedder_nodes)
            .unwrap_or_else(|| by_sorting(sides, sides_after, &exclude, opts.match_embedder_nodes)),
        Strategy::Sorted => by_sorting(sides, sides_after, &exclude, opts.match_embedder_nodes),
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
    sort_details(&mut details, opts.grouping);

    Diff {
        before: before_totals,
        after: after_totals,
        size_bytes: signed_difference(after_totals.size_bytes, before_totals.size_bytes),
        freed_nodes: freed.rows.iter().map(|r| r.1).sum(),
        allocated_nodes: allocated.rows.iter().map(|r| r.1).sum(),
        details,
    }
}

/// One node a diff counts as allocated (only in `after`) or freed (only in `before`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmatched {
    /// Allocated (only in `after`) rather than freed.
    pub allocated: bool,
    /// Node index in `after` when allocated, else in `before`.
    pub index: usize,
}

/// The nodes behind `diff`'s `allocated_nodes` and `freed_nodes`, for inspecting what a diff
/// counted (the in-process no-op tests list them). Same matching, exclusions and rules as
/// `diff`, in node order, allocated ones first.
pub fn unmatched_nodes(before: &Snapshot, after: &Snapshot, opts: &DiffOptions) -> Vec<Unmatched> {
    let mut exclude = opts.exclude_ids.clone();
    exclude.sort_unstable();
    let kept = |snap: &Snapshot| {
        let ids = (0..snap.node_count())
            .map(|i| snap.node_id(i))
            .filter(|id| exclude.binary_search(id).is_err());
        IdSet::collect(ids, snap.node_count())
    };
    let (b, a) = (kept(before), kept(after));
    let embedder = opts
        .match_embedder_nodes
        .then(|| embedder_changes(before, after, &|id| b.contains(id), &|id| a.contains(id)));
    let mut out = Vec::new();
    for (snap, own, other, allocated) in [(after, &a, &b, true), (before, &b, &a, false)] {
        let rules = ClassRules::new(snap, opts.grouping);
        let counted_embedder =
            embedder
                .as_ref()
                .map(|c| if allocated { &c.allocated } else { &c.freed });
        for i in 0..snap.node_count() {
            let id = snap.node_id(i);
            let unmatched = match counted_embedder {
                Some(list) if renumbered_embedder_node(snap, i) => list.binary_search(&i).is_ok(),
                _ => own.contains(id) && !other.contains(id),
            };
            if unmatched && rules.slot(snap, i).is_some() {
                out.push(Unmatched {
                    allocated,
                    index: i,
                });
            }
        }
    }
    out
}
