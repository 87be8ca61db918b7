//! Where a class's new instances were allocated: their allocation stacks, from the traces V8
//! writes into a snapshot while it tracks allocations, grouped by stack.
//!
//! V8 records, per object, the call path that allocated it (a node of its trace tree); each
//! frame names a function and the position where that function starts, not the allocating
//! statement. Grouping the instances a diff or a leak check singles out by that path says which
//! code made them, without a second run under a profiler.

use std::collections::HashMap;

use crate::classes::{ClassRules, Grouping};
use crate::devtools::DevToolsView;
use crate::idset::IdSet;
use crate::snapshot::Snapshot;

/// Allocation stacks listed per class unless asked otherwise.
pub(crate) const DEFAULT_MAX_STACKS: usize = 5;

/// Instances of one class allocated under one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationStack {
    /// Frames as `name (script:line:column)`, allocating function first, out to the outermost
    /// caller; lines and columns are 1-based and point at the start of each function.
    pub stack: Vec<String>,
    /// Instances allocated there.
    pub count: u64,
    /// Self size of those instances.
    pub size_bytes: u64,
}

/// Counts and sizes per trace-tree node, accumulated per group of nodes.
#[derive(Debug, Default)]
struct ByTrace(HashMap<u32, (u64, u64)>);

impl ByTrace {
    fn add(&mut self, trace: u32, size: u64) {
        let e = self.0.entry(trace).or_default();
        e.0 += 1;
        e.1 += size;
    }

    fn merge(&mut self, other: ByTrace) {
        for (t, (c, s)) in other.0 {
            let e = self.0.entry(t).or_default();
            e.0 += c;
            e.1 += s;
        }
    }

    /// The sites, by formatted stack (two trace nodes can print alike, e.g. the same function
    /// loaded twice), most instances first, at most `max`. Instances with no JavaScript frame
    /// are left out.
    fn sites(self, snap: &Snapshot, max: usize) -> Vec<AllocationStack> {
        let mut by_stack: HashMap<Vec<String>, (u64, u64)> = HashMap::new();
        for (t, (c, s)) in self.0 {
            let stack: Vec<String> = snap.trace_frames(t).iter().map(|f| f.to_string()).collect();
            if stack.is_empty() {
                continue;
            }
            let e = by_stack.entry(stack).or_default();
            e.0 += c;
            e.1 += s;
        }
        let mut out: Vec<AllocationStack> = by_stack
            .into_iter()
            .map(|(stack, (count, size_bytes))| AllocationStack {
                stack,
                count,
                size_bytes,
            })
            .collect();
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.size_bytes.cmp(&a.size_bytes))
                .then_with(|| a.stack.cmp(&b.stack))
        });
        out.truncate(max);
        out
    }
}

/// The allocation sites of the given nodes of `snap` (node indices), or `None` if `snap` has
/// no allocation traces.
pub(crate) fn allocation_sites(
    snap: &Snapshot,
    nodes: &[u32],
    max: usize,
) -> Option<Vec<AllocationStack>> {
    if !snap.has_allocation_traces() {
        return None;
    }
    let mut acc = ByTrace::default();
    for &i in nodes {
        if let Some(t) = snap.trace_of(i as usize) {
            acc.add(t, snap.self_size(i as usize));
        }
    }
    Some(acc.sites(snap, max))
}

/// The allocation sites of the objects with ids `ids` in `snap`, for instances found in
/// another snapshot of the same process (ids are stable across its snapshots).
pub(crate) fn allocation_sites_by_id(
    snap: &Snapshot,
    ids: &[u64],
    max: usize,
) -> Option<Vec<AllocationStack>> {
    if !snap.has_allocation_traces() {
        return None;
    }
    let wanted = IdSet::collect(ids.iter().copied(), ids.len());
    let nodes: Vec<u32> = (0..snap.node_count())
        .filter(|&i| wanted.contains(snap.node_id(i)))
        .map(|i| i as u32)
        .collect();
    allocation_sites(snap, &nodes, max)
}

/// Per class (named as the diff names it), the allocation sites of the instances `after` has
/// and `before` had not, ids in `exclude_ids` left out; `None` if `after` has no allocation
/// traces. Classes with no traced new instance map to nothing.
pub(crate) fn allocation_sites_of_new(
    before: &Snapshot,
    after: &Snapshot,
    grouping: Grouping,
    exclude_ids: &[u64],
    max: usize,
) -> Option<HashMap<String, Vec<AllocationStack>>> {
    if !after.has_allocation_traces() {
        return None;
    }
    let old = IdSet::collect(
        (0..before.node_count()).map(|i| before.node_id(i)),
        before.node_count(),
    );
    let excluded = IdSet::collect(exclude_ids.iter().copied(), exclude_ids.len());
    let rules = ClassRules::new(after, grouping);
    // With both graphs, DevTools' classes are the diff's rows (see `devtools`): name by them.
    let view = match grouping {
        Grouping::DevTools if DevToolsView::available(before) => DevToolsView::of(after),
        _ => None,
    };
    if let Some(view) = &view {
        let mut by_name: HashMap<String, ByTrace> = HashMap::new();
        for i in 0..after.node_count() {
            let (Some(t), Some(name)) = (after.trace_of(i), view.class_name(i)) else {
                continue;
            };
            let id = after.node_id(i);
            if old.contains(id) || excluded.contains(id) {
                continue;
            }
            by_name
                .entry(name.to_owned())
                .or_default()
                .add(t, after.self_size(i));
        }
        return Some(
            by_name
                .into_iter()
                .map(|(name, acc)| (name, acc.sites(after, max)))
                .collect(),
        );
    }
    let mut by_slot: HashMap<u32, ByTrace> = HashMap::new();
    for i in 0..after.node_count() {
        let Some(t) = after.trace_of(i) else { continue };
        let Some(slot) = rules.slot(after, i) else {
            continue;
        };
        let id = after.node_id(i);
        if old.contains(id) || excluded.contains(id) {
            continue;
        }
        by_slot.entry(slot).or_default().add(t, after.self_size(i));
    }
    // Slots that print alike (DevTools' folded DOM names) are one class, as in the diff.
    let mut by_name: HashMap<String, ByTrace> = HashMap::new();
    for (slot, acc) in by_slot {
        by_name
            .entry(rules.name(after, slot).into_owned())
            .or_default()
            .merge(acc);
    }
    Some(
        by_name
            .into_iter()
            .map(|(name, acc)| (name, acc.sites(after, max)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{find_survivors, SurvivorOptions};
    use crate::{explained_diff, parse_reader, DiffOptions, ParseOptions};

    const STRINGS: &str =
        r#"["","(root)","Leak","makeLeak","/app/a.js","main","Other","helper","/app/b.js"]"#;

    /// Function records: function_id, name, script_name, script_id, line, column.
    const FUNCTIONS: &str =
        "0,1,0,0,0,0, 11,3,4,1,10,20, 12,5,4,1,30,1, 13,7,8,2,5,3, 14,0,0,0,0,0";

    /// root(1) ─ main(2) ─ makeLeak(3)
    ///         │         └ helper(4) ─ makeLeak(5)
    ///         └ anonymous, no script(6) ─ makeLeak(7)
    const TREE: &str =
        "[1,0,0,0,[2,2,0,0,[3,1,5,100,[],4,3,2,20,[5,1,1,8,[]]],6,4,0,0,[7,1,0,0,[]]]]";

    /// A snapshot of `(type, name string, id, self size, trace_node_id)` nodes, the first the
    /// root with an element edge to every other; with or without the trace sections.
    fn snapshot(nodes: &[(u8, u32, u64, u64, u32)], traces: bool) -> Snapshot {
        let mut n = Vec::new();
        let mut e = Vec::new();
        for (k, &(ty, name, id, size, trace)) in nodes.iter().enumerate() {
            let edges = if k == 0 { nodes.len() - 1 } else { 0 };
            // Without tracking V8 writes 0 for every node.
            let trace = if traces { trace } else { 0 };
            n.push(format!("{ty},{name},{id},{size},{edges},{trace},0"));
        }
        for k in 1..nodes.len() {
            e.push(format!("1,{k},{}", k * 7));
        }
        let (functions, tree, count) = if traces {
            (FUNCTIONS, TREE, 5)
        } else {
            ("", "[]", 0)
        };
        let doc = format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],
            "node_types":[["hidden","array","string","object","synthetic"]],
            "edge_fields":["type","name_or_index","to_node"],
            "edge_types":[["context","element","property","internal","hidden","shortcut","weak"]],
            "trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],
            "trace_node_fields":["id","function_info_index","count","size","children"]}},
            "node_count":{},"edge_count":{},"trace_function_count":{count}}},
            "nodes":[{}],"edges":[{}],"trace_function_infos":[{functions}],"trace_tree":{tree},
            "samples":[],"locations":[],"strings":{STRINGS}}}"#,
            nodes.len(),
            e.len(),
            n.join(","),
            e.join(","),
        );
        parse_reader(
            doc.as_bytes(),
            ParseOptions {
                keep_edges: true,
                devtools_edges: false,
            },
            &mut |_| {},
        )
        .unwrap()
    }

    const ROOT: (u8, u32, u64, u64, u32) = (4, 0, 1, 0, 0);
    const OBJECT: u8 = 3;

    fn before() -> Snapshot {
        snapshot(&[ROOT, (OBJECT, 2, 3, 16, 3)], true)
    }

    /// New: four `Leak`s traced (three under main → makeLeak, one under main → helper →
    /// makeLeak), one untraced, one allocated with no JavaScript frame; one `Other`.
    fn after(traces: bool) -> Snapshot {
        snapshot(
            &[
                ROOT,
                (OBJECT, 2, 3, 16, 3),
                (OBJECT, 2, 5, 16, 3),
                (OBJECT, 2, 7, 16, 3),
                (OBJECT, 2, 9, 24, 3),
                (OBJECT, 2, 11, 16, 5),
                (OBJECT, 2, 13, 16, 0),
                (OBJECT, 6, 15, 40, 7),
                (OBJECT, 2, 17, 16, 1),
            ],
            traces,
        )
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn main_make_leak() -> Vec<String> {
        s(&["makeLeak (/app/a.js:10:20)", "main (/app/a.js:30:1)"])
    }

    #[test]
    fn diff_rows_name_the_stacks_of_new_instances() {
        let d = explained_diff(&before(), &after(true), &DiffOptions::default(), None).unwrap();
        let row = |what: &str| d.diff.details.iter().find(|r| r.what == what).unwrap();
        assert_eq!(row("Leak").allocated, 6);
        assert_eq!(
            row("Leak").allocated_at.as_deref().unwrap(),
            [
                AllocationStack {
                    stack: main_make_leak(),
                    count: 3,
                    size_bytes: 56,
                },
                AllocationStack {
                    stack: s(&[
                        "makeLeak (/app/a.js:10:20)",
                        "helper (/app/b.js:5:3)",
                        "main (/app/a.js:30:1)"
                    ]),
                    count: 1,
                    size_bytes: 16,
                },
            ]
        );
        assert_eq!(
            row("Other").allocated_at.as_deref().unwrap(),
            [AllocationStack {
                stack: s(&["makeLeak (/app/a.js:10:20)", "(anonymous)"]),
                count: 1,
                size_bytes: 40,
            }]
        );
    }

    #[test]
    fn stacks_are_bounded_and_absent_without_traces() {
        let opts = DiffOptions {
            max_stacks: 1,
            ..Default::default()
        };
        let d = explained_diff(&before(), &after(true), &opts, None).unwrap();
        let leak = d.diff.details.iter().find(|r| r.what == "Leak").unwrap();
        assert_eq!(leak.allocated_at.as_ref().unwrap().len(), 1);
        assert_eq!(leak.allocated_at.as_ref().unwrap()[0].count, 3);

        let d = explained_diff(&before(), &after(false), &DiffOptions::default(), None).unwrap();
        assert!(d.diff.details.iter().all(|r| r.allocated_at.is_none()));
        assert!(!after(false).has_allocation_traces());
        assert_eq!(after(false).allocation_stack(2), None);
    }

    #[test]
    fn excluded_and_old_instances_are_not_counted() {
        let opts = DiffOptions {
            exclude_ids: vec![5, 7],
            ..Default::default()
        };
        let d = explained_diff(&before(), &after(true), &opts, None).unwrap();
        let leak = d.diff.details.iter().find(|r| r.what == "Leak").unwrap();
        // One instance under each stack: the larger (24 bytes, id 9) first.
        let sites = leak.allocated_at.as_ref().unwrap();
        let got: Vec<_> = sites
            .iter()
            .map(|x| (x.count, x.size_bytes, x.stack.len()))
            .collect();
        assert_eq!(got, [(1, 24, 2), (1, 16, 3)]);
    }

    #[test]
    fn survivors_name_their_stacks_from_the_third_snapshot_or_the_second() {
        let s1 = before();
        let s2 = after(true);
        // 5 and 11 are gone by the third snapshot; 7, 9, 13, 15 and 17 survive.
        let third = |traces| {
            snapshot(
                &[
                    ROOT,
                    (OBJECT, 2, 3, 16, 3),
                    (OBJECT, 2, 7, 16, 3),
                    (OBJECT, 2, 9, 24, 3),
                    (OBJECT, 2, 13, 16, 0),
                    (OBJECT, 6, 15, 40, 7),
                    (OBJECT, 2, 17, 16, 1),
                ],
                traces,
            )
        };
        for traced in [true, false] {
            let s3 = third(traced);
            let r = find_survivors(&s1, &s2, &s3, &SurvivorOptions::default()).unwrap();
            let leak = r.classes.iter().find(|c| c.what == "Leak").unwrap();
            assert_eq!(leak.count, 4);
            assert_eq!(
                leak.allocated_at.as_deref().unwrap(),
                [AllocationStack {
                    stack: main_make_leak(),
                    count: 2,
                    size_bytes: 40,
                }],
                "third snapshot traced: {traced}"
            );
        }
        let untraced = snapshot(&[ROOT, (OBJECT, 2, 7, 16, 0)], false);
        let r = find_survivors(&s1, &untraced, &untraced, &SurvivorOptions::default()).unwrap();
        assert!(r.classes.iter().all(|c| c.allocated_at.is_none()));
    }

    #[test]
    fn frames_are_read_leaf_first() {
        let a = after(true);
        let frames = a.allocation_stack(5).unwrap();
        assert_eq!(
            (
                frames[1].name,
                frames[1].script,
                frames[1].line,
                frames[1].column
            ),
            ("helper", "/app/b.js", 5, 3)
        );
        assert_eq!(a.allocation_stack(6), None, "trace_node_id 0");
        assert_eq!(a.allocation_stack(8), None, "the root: no JavaScript frame");
    }
}
