//! What an in-process diff leaves out as its own making (`heapsnap::own`) and the pairing of
//! renumbered embedder nodes, on a hand-built pair of snapshots whose answer is known node by
//! node.

mod common;

use common::*;
use heapsnap::{diff, DiffOptions, Snapshot};
use heapsnap::{diff_with, unmatched_nodes, Strategy};
use heapsnap::{in_process_options, own_node_ids, scripts_of, unmatched_report, OwnCode};

fn internal(name: &'static str, to: usize) -> E {
    E {
        ty: "internal",
        name: EdgeName::Str(name),
        to,
    }
}

fn weak(to: usize) -> E {
    E {
        ty: "weak",
        name: EdgeName::Idx(0),
        to,
    }
}

fn hidden(i: u32, to: usize) -> E {
    E {
        ty: "hidden",
        name: EdgeName::Idx(i),
        to,
    }
}

fn with(mut node: N, edges: Vec<E>) -> N {
    node.edges = edges;
    node
}

const TOOL: &str = "/pkg/lib/heapdiff.js";

/// Nodes both snapshots share, by index: 0 root, 1 stack roots, 2 the tool's script, 3 the
/// user's, 4/5 a function of each, 6/7 their closures, 8 the tool function's feedback vector,
/// 9 a HeapDiff, 10 a user `Session`, 11 a V8 native (odd id, stable), 12 an instruction stream
/// (V8 keeps one across a tier-up and puts a new code object over it).
fn shared() -> Vec<N> {
    vec![
        with(
            n("synthetic", "", 1, 0),
            vec![elem(0, 1), elem(1, 9), elem(2, 10), elem(3, 6), elem(4, 7)],
        ),
        n("synthetic", "(Stack roots)", 3, 0),
        n("code", TOOL, 5, 80),
        n("code", "/app/test.js", 7, 80),
        with(n("code", "end", 9, 40), vec![internal("script", 2)]),
        with(n("code", "work", 11, 40), vec![internal("script", 3)]),
        with(n("closure", "end", 13, 32), vec![internal("shared", 4)]),
        with(n("closure", "work", 15, 32), vec![internal("shared", 5)]),
        with(
            n("code", "system / FeedbackVector", 17, 56),
            vec![hidden(0, 4)],
        ),
        n("object", "HeapDiff", 19, 64),
        n("object", "Session", 21, 24),
        n("native", "system / JSArrayBufferData", 23, 1024),
        n("code", "(instruction stream for work)", 65, 900),
    ]
}

fn before_nodes() -> Vec<N> {
    let mut v = shared();
    v.extend([
        n("object", "HeapDiff", 25, 64),
        n("native", "Node / BindingData", 100, 48),
        n("native", "Node / CleanupQueue", 102, 264),
        n("native", "Node / BindingData", 104, 48),
        n("synthetic", "C++ roots", 106, 0),
        n("native", "system / JSArrayBufferData", 29, 4096),
        n("native", "Node / std::basic_string", 300, 19),
        // Gone by the second snapshot: code V8 discarded, and a named function with its script.
        n("code", "(code for work)", 67, 900),
        n("code", "system / UncompiledDataWithoutPreparseData", 69, 24),
        n("code", "/app/unloaded.js", 71, 80),
        n("code", "unloaded", 73, 40),
    ]);
    v
}

/// The new nodes of `after`, by id: the tool's (`TOOL_NEW`), V8's work on code that existed
/// (`CODE_WORK`), and the user's (`USER_NEW`).
const TOOL_NEW: [u64; 6] = [31, 33, 45, 49, 51, 63];
const CODE_WORK: [u64; 3] = [35, 37, 75];
const USER_NEW: [u64; 7] = [39, 41, 43, 53, 57, 59, 61];

fn after_nodes() -> Vec<N> {
    let mut v = shared();
    let base = v.len();
    let at = |k: usize| base + k;
    // The user's Session holds its new things; the tool's HeapDiff holds a map and, with the
    // user's Session holding it only weakly, a cache entry.
    v[10].edges = vec![
        prop("leak", at(4)),
        prop("cb", at(5)),
        prop("label", at(10)),
        weak(at(17)),
    ];
    v[9].edges = vec![internal("map", at(7)), prop("cache", at(17))];
    // Baseline code V8 made for the tool's `end`, also on the stack right now; a handler in the
    // tool's feedback vector; the tool's function's constant pool and its string.
    v[4].edges.push(internal("function_data", at(0)));
    v[1].edges = vec![elem(0, at(0)), elem(1, at(21))];
    v[8].edges.push(hidden(3, at(1)));
    v[4].edges.push(internal("constant_pool", at(9)));
    // The user's function got a feedback vector and optimised code; someone hung an array on it.
    v[7].edges.push(internal("code", at(3)));
    v[7].edges.push(prop("memo", at(6)));
    v[12].edges.push(internal("code", at(3)));
    v.extend([
        n("code", "(BASELINE code)", 31, 2400),    // at(0)
        n("code", "system / LoadHandler", 33, 32), // at(1)
        with(
            n("code", "system / FeedbackVector", 35, 56),
            vec![hidden(0, 5)],
        ), // at(2)
        n("code", "(code for work)", 37, 900),     // at(3)
        n("object", "Leak", 39, 40),               // at(4)
        with(n("closure", "work", 41, 32), vec![internal("shared", 5)]), // at(5)
        n("array", "", 43, 16),                    // at(6)
        n("object shape", "system / Map", 45, 72), // at(7)
        n("string", "attempt", 49, 32),            // at(8)
        with(
            n("code", "(constant pool)", 51, 48),
            vec![elem(0, at(8)), elem(1, at(10))],
        ), // at(9)
        n("string", "shared label", 53, 40),       // at(10)
        with(n("code", "/app/evald.js", 57, 80), vec![]), // at(11)
        with(
            n("code", "ev", 59, 40),
            vec![
                internal("script", at(11)),
                internal("function_data", at(13)),
            ],
        ), // at(12)
        n("code", "system / BytecodeArray", 61, 64), // at(13)
        n("native", "Node / BindingData", 200, 48),
        n("native", "Node / CleanupQueue", 202, 288),
        n("native", "Node / BindingData", 204, 48),
        n("object", "Cached", 63, 24), // at(17)
        n("native", "Node / TCPWrap", 206, 120),
        n("synthetic", "C++ roots", 208, 0),
        n("native", "system / JSArrayBufferData", 27, 4096),
        n("code", "", 75, 512), // at(21): held by the stack only
        // V8 11 reuses addresses for ids: 300 is another node now, and 304 the one 300 was.
        n("native", "Node / std::basic_string", 300, 33),
        n("native", "Node / std::basic_string", 304, 19),
    ]);
    // The new script is held by its function, which the user's Session holds too.
    v[10].edges.push(prop("evaluated", at(12)));
    v
}

fn pair() -> (Snapshot, Snapshot) {
    let mut out = Vec::new();
    for nodes in [before_nodes(), after_nodes()] {
        out.push(parse(&build(Layout::Node24, &nodes)).unwrap());
    }
    let after = out.pop().unwrap();
    (out.pop().unwrap(), after)
}

fn own(existing_code: bool) -> OwnCode {
    OwnCode {
        scripts: vec![TOOL.into()],
        classes: vec!["HeapDiff".into(), "HeapSnapshotHandle".into()],
        existing_code,
    }
}

#[test]
fn the_tools_new_nodes_and_objects_are_its_own_and_the_users_are_not() {
    let (before, after) = pair();
    let ids = own_node_ids(&before, &after, &own(false));
    let mut want: Vec<u64> = vec![19, 25];
    want.extend(TOOL_NEW);
    want.sort_unstable();
    assert_eq!(ids, want);
}

#[test]
fn v8s_work_on_existing_code_goes_with_existing_code_and_new_scripts_still_count() {
    let (before, after) = pair();
    let ids = own_node_ids(&before, &after, &own(true));
    let mut want: Vec<u64> = vec![19, 25, 67, 69];
    want.extend(TOOL_NEW);
    want.extend(CODE_WORK);
    want.sort_unstable();
    assert_eq!(ids, want);
    for id in USER_NEW {
        assert!(!ids.contains(&id), "user node {id} left out");
    }
}

#[test]
fn without_edges_only_the_tools_classes_are_known() {
    let (before, _) = pair();
    let after = parse_chunked(
        build(Layout::Node24, &after_nodes()).as_bytes(),
        1 << 20,
        false,
    )
    .unwrap();
    assert_eq!(
        own_node_ids(&before, &after, &own(true)),
        vec![19, 25, 67, 69]
    );
}

#[test]
fn in_process_diff_counts_exactly_the_users_changes() {
    let (before, after) = pair();
    let opts = DiffOptions {
        exclude_ids: own_node_ids(&before, &after, &own(true)),
        match_embedder_nodes: true,
        ..Default::default()
    };
    let d = diff(&before, &after, &opts);
    let row = |w: &str| d.details.iter().find(|c| c.what == w).cloned();
    // New: Leak, the new closure, the array, the shared string, the new script's three code
    // nodes; natives: the resized CleanupQueue, the TCPWrap, V8's new (odd-id) buffer and the
    // 33-byte string that took over id 300.
    assert_eq!(d.allocated_nodes, 7 + 4);
    assert_eq!(row("Leak").map(|r| (r.allocated, r.freed)), Some((1, 0)));
    assert_eq!(
        row("Code").map(|r| (r.allocated, r.freed, r.freed_bytes)),
        Some((3, 2, 80 + 40))
    );
    let native = row("Native").unwrap();
    assert_eq!((native.allocated, native.freed), (4, 2));
    assert_eq!(native.allocated_bytes, 288 + 120 + 4096 + 33);
    assert_eq!(native.freed_bytes, 264 + 4096);
    assert_eq!(row("HeapDiff"), None);
    for strategy in [Strategy::Auto, Strategy::Sorted] {
        assert_eq!(
            diff_with(&before, &after, &opts, strategy),
            d,
            "{strategy:?}"
        );
    }
    // The listing behind the counts.
    let listed = unmatched_nodes(&before, &after, &opts);
    let allocated: Vec<u64> = listed
        .iter()
        .filter(|u| u.allocated)
        .map(|u| after.node_id(u.index))
        .collect();
    let mut want: Vec<u64> = USER_NEW.to_vec();
    want.extend([202, 206, 27, 300]);
    let mut got = allocated.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(listed.len() as u64, d.allocated_nodes + d.freed_nodes);
}

#[test]
fn renumbered_embedder_nodes_pair_only_when_asked_and_only_by_type_name_and_size() {
    let (before, after) = pair();
    let plain = diff(&before, &after, &DiffOptions::default());
    let native = |d: &heapsnap::Diff| {
        let r = d.details.iter().find(|c| c.what == "Native").unwrap();
        (r.allocated, r.freed, r.allocated_bytes)
    };
    assert_eq!(
        native(&plain),
        (6, 4, 48 + 288 + 48 + 120 + 4096 + 19),
        "file diffs stay as DevTools counts them"
    );
    let paired = diff(
        &before,
        &after,
        &DiffOptions {
            match_embedder_nodes: true,
            ..Default::default()
        },
    );
    assert_eq!(native(&paired), (4, 2, 288 + 120 + 4096 + 33));
    // Totals are untouched: a pair is a node kept.
    assert_eq!((paired.before, paired.after), (plain.before, plain.after));
}

#[test]
fn scripts_of_names_a_functions_script_one_or_two_edges_away() {
    let (_, after) = pair();
    assert_eq!(scripts_of(&after, 4), vec![TOOL.to_string()]);
    assert_eq!(scripts_of(&after, 8), vec![TOOL.to_string()]);
    assert_eq!(scripts_of(&after, 6), vec![TOOL.to_string()]);
    assert!(scripts_of(&after, 10).contains(&"/app/evald.js".to_string()));
}

#[test]
fn the_in_process_options_are_the_ones_whose_counts_are_checked_above() {
    let (before, after) = pair();
    let tool = OwnCode::in_process(
        vec![TOOL.into()],
        vec!["HeapDiff".into(), "HeapSnapshotHandle".into()],
    );
    assert_eq!(tool, own(true));
    let opts = in_process_options(DiffOptions::default(), &before, &after, &tool);
    assert_eq!(
        opts,
        DiffOptions {
            exclude_ids: own_node_ids(&before, &after, &own(true)),
            match_embedder_nodes: true,
            ..Default::default()
        }
    );
    // The report describes the listed nodes one for one.
    let listed = unmatched_nodes(&before, &after, &opts);
    let report = unmatched_report(&before, &after, &opts);
    assert_eq!(report.len(), listed.len());
    for (u, r) in listed.iter().zip(&report) {
        let snap = if u.allocated { &after } else { &before };
        assert_eq!(r.allocated, u.allocated);
        assert_eq!(
            (r.id, r.node_type.as_str(), r.name.as_str(), r.size),
            (
                snap.node_id(u.index),
                snap.node_type_name(u.index),
                snap.node_name(u.index),
                snap.self_size(u.index)
            )
        );
        assert_eq!(r.scripts, scripts_of(snap, u.index));
        if !u.allocated {
            assert!(r.retainers.is_empty(), "freed nodes have no holders listed");
        }
    }
    let leak = report.iter().find(|r| r.name == "Leak").unwrap();
    assert!(!leak.retainers.is_empty(), "the leak's holder is listed");
}
