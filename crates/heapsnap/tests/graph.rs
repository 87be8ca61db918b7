//! Graph analyses against references computed the slow, obvious way: dominance by deleting a
//! node and seeing what becomes unreachable, distances by a plain breadth-first search.
#![allow(clippy::needless_range_loop)] // node indices are the point of these loops

mod common;

use std::collections::{HashMap, VecDeque};

use common::*;
use heapsnap::Snapshot;
use heapsnap::{
    class_retained_sizes, find_survivors, retention_of_new, top_retainers, DominatorTree,
    ShortestPaths, SurvivorOptions,
};

fn edge(ty: &'static str, name: common::EdgeName, to: usize) -> E {
    E { ty, name, to }
}

fn named(ty: &'static str, name: &'static str, to: usize) -> E {
    edge(ty, common::EdgeName::Str(name), to)
}

/// Reference rule: weak edges never retain; shortcut edges only from the root.
fn retains(ty: &str, from: usize) -> bool {
    ty != "weak" && (ty != "shortcut" || from == 0)
}

/// Nodes reachable from the root without passing through `removed`.
fn reachable(nodes: &[N], removed: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; nodes.len()];
    if removed.contains(&0) {
        return seen;
    }
    let mut stack = vec![0usize];
    seen[0] = true;
    while let Some(v) = stack.pop() {
        for e in &nodes[v].edges {
            if retains(e.ty, v) && !seen[e.to] && !removed.contains(&e.to) {
                seen[e.to] = true;
                stack.push(e.to);
            }
        }
    }
    seen
}

fn removal_retained(nodes: &[N], removed: &[usize]) -> u64 {
    let all = reachable(nodes, &[]);
    let rest = reachable(nodes, removed);
    (0..nodes.len())
        .filter(|&i| all[i] && !rest[i])
        .map(|i| nodes[i].size)
        .sum()
}

fn dominates(nodes: &[N], x: usize, y: usize) -> bool {
    x == y || (reachable(nodes, &[])[y] && !reachable(nodes, &[x])[y])
}

fn bfs_distance(nodes: &[N]) -> Vec<Option<usize>> {
    let mut d = vec![None; nodes.len()];
    d[0] = Some(0);
    let mut q = VecDeque::from([0usize]);
    while let Some(v) = q.pop_front() {
        for e in &nodes[v].edges {
            if retains(e.ty, v) && d[e.to].is_none() {
                d[e.to] = Some(d[v].unwrap() + 1);
                q.push_back(e.to);
            }
        }
    }
    d
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

fn random_graph(seed: u64, n: usize, edges: usize) -> Vec<N> {
    let mut r = Lcg(seed);
    let mut nodes: Vec<N> = (0..n)
        .map(|i| {
            let ty = if i == 0 { "synthetic" } else { "object" };
            n_sized(ty, i as u64 * 2 + 1, 1 + r.next(1000) as u64)
        })
        .collect();
    for _ in 0..edges {
        let from = r.next(n);
        let to = r.next(n);
        let ty = match r.next(10) {
            0 => "weak",
            1 => "shortcut",
            2 => "element",
            3 => "internal",
            _ => "property",
        };
        let name = if ty == "element" {
            common::EdgeName::Idx(r.next(50) as u32)
        } else {
            common::EdgeName::Str(["a", "b", "c", "next", "table"][r.next(5)])
        };
        nodes[from].edges.push(edge(ty, name, to));
    }
    nodes
}

fn n_sized(ty: &'static str, id: u64, size: u64) -> N {
    n(ty, if ty == "object" { "Obj" } else { "" }, id, size)
}

fn parsed(nodes: &[N]) -> Snapshot {
    parse(&build(Layout::Node24, nodes)).expect("valid synthetic snapshot")
}

#[test]
fn dominators_and_retained_sizes_match_removal_on_random_graphs() {
    for seed in 0..40u64 {
        let n = 12 + (seed as usize % 5) * 9;
        let nodes = random_graph(seed, n, n * 3);
        let snap = parsed(&nodes);
        let dom = DominatorTree::compute(&snap).unwrap();
        let reach = reachable(&nodes, &[]);
        for y in 0..n {
            assert_eq!(dom.is_reachable(y), reach[y], "seed {seed} node {y}");
            let want = if reach[y] {
                removal_retained(&nodes, &[y])
            } else {
                0
            };
            assert_eq!(dom.retained_size(y), want, "seed {seed} retained({y})");
            if y == 0 || !reach[y] {
                assert_eq!(dom.idom(y), None);
                continue;
            }
            let d = dom.idom(y).expect("reachable nodes have an idom");
            assert!(
                d != y && dominates(&nodes, d, y),
                "seed {seed}: {d} idom of {y}"
            );
            // Every other strict dominator of y dominates d: d is the nearest.
            for z in 0..n {
                if z != y && dominates(&nodes, z, y) {
                    assert!(dominates(&nodes, z, d), "seed {seed}: {z} dom {y} not {d}");
                }
            }
        }
        let order = dom.preorder();
        let pos: HashMap<u32, usize> = order.iter().enumerate().map(|(k, &v)| (v, k)).collect();
        for &v in &order[1..] {
            assert!(pos[&(dom.idom(v as usize).unwrap() as u32)] < pos[&v]);
        }
    }
}

#[test]
fn deep_chains_do_not_recurse() {
    // A 200k-long linked list: recursion would overflow the stack; retained sizes telescope.
    let len = 200_000usize;
    let mut nodes: Vec<N> = vec![n("synthetic", "", 1, 0)];
    for i in 0..len {
        let mut node = n("object", "Link", 3 + 2 * i as u64, 2);
        if i + 1 < len {
            node.edges.push(named("property", "next", i + 2));
        }
        nodes.push(node);
    }
    nodes[0].edges.push(named("shortcut", "1", 1));
    let snap = parsed(&nodes);
    let dom = DominatorTree::compute(&snap).unwrap();
    assert_eq!(dom.retained_size(1), 2 * len as u64);
    assert_eq!(dom.retained_size(len), 2);
    assert_eq!(dom.idom(len), Some(len - 1));
    let paths = ShortestPaths::compute(&snap).unwrap();
    assert_eq!(paths.path_edges(&snap, len).unwrap().len(), len);
    // Every link is a "Link", so only the first one counts towards the class.
    let targets: Vec<(u32, u32)> = (1..=len as u32).map(|i| (i, 0)).collect();
    assert_eq!(
        class_retained_sizes(&dom, &targets, 1),
        vec![2 * len as u64]
    );
}

#[test]
fn shortest_paths_are_valid_and_shortest_on_random_graphs() {
    for seed in 100..140u64 {
        let n = 30;
        let nodes = random_graph(seed, n, 80);
        let snap = parsed(&nodes);
        let sp = ShortestPaths::compute(&snap).unwrap();
        let dist = bfs_distance(&nodes);
        let t = snap.edges().unwrap();
        for y in 0..n {
            let Some(edges) = sp.path_edges(&snap, y) else {
                assert!(dist[y].is_none(), "seed {seed}: {y} should be reachable");
                continue;
            };
            assert_eq!(
                Some(edges.len()),
                dist[y],
                "seed {seed}: path length to {y}"
            );
            let mut at = 0usize;
            for &e in &edges {
                assert!(t.range(at).contains(&e), "edge {e} does not leave {at}");
                let ty = &snap.edge_type_names()[t.edge_type_index(e) as usize];
                assert!(retains(ty, at));
                at = t.to_node(e);
            }
            assert_eq!(at, y);
        }
    }
}

/// root ─shortcut→ global ─cache→ Map ─table→ (object elements) ─[i]→ Leak_i ─payload→ Payload_i
/// plus: Leak_0 and Leak_1 share `Shared`; a weak-only object; a second path to Leak_2 through
/// (GC roots) that is longer.
fn leak_graph() -> Vec<N> {
    let mut nodes = vec![
        n("synthetic", "", 1, 0),                  // 0
        n("synthetic", "(GC roots)", 3, 0),        // 1
        n("object", "global", 5, 100),             // 2
        n("object", "Map", 7, 40),                 // 3
        n("array", "(object elements)", 9, 64),    // 4
        n("object", "Shared", 11, 1000),           // 5
        n("object", "WeakOnly", 13, 5000),         // 6
        n("synthetic", "(Global handles)", 15, 0), // 7
    ];
    nodes[0].edges.push(named("element", "1", 1));
    nodes[0].edges.push(named("shortcut", "2", 2));
    nodes[1]
        .edges
        .push(edge("element", common::EdgeName::Idx(1), 7));
    nodes[2].edges.push(named("property", "cache", 3));
    nodes[2].edges.push(named("weak", "w", 6));
    nodes[3].edges.push(named("internal", "table", 4));
    for i in 0..4usize {
        let leak = nodes.len();
        nodes.push(n("object", "Leak", 101 + 4 * i as u64, 32));
        nodes.push(n("object", "Payload", 103 + 4 * i as u64, 200));
        nodes[leak]
            .edges
            .push(named("property", "payload", leak + 1));
        nodes[4]
            .edges
            .push(edge("element", common::EdgeName::Idx(i as u32), leak));
    }
    nodes[8].edges.push(named("property", "shared", 5));
    nodes[10].edges.push(named("property", "shared", 5));
    // A longer second path: (GC roots) → (Global handles) → Leak #3 (node 14).
    nodes[7]
        .edges
        .push(edge("element", common::EdgeName::Idx(0), 14));
    nodes
}

#[test]
fn retention_on_a_hand_built_leak() {
    let nodes = leak_graph();
    let snap = parsed(&nodes);
    let dom = DominatorTree::compute(&snap).unwrap();
    // Map retains itself, the table, four leaks, their payloads and Shared, minus Leak #3 and
    // its payload (also held through a global handle).
    assert_eq!(dom.retained_size(3), 40 + 64 + 3 * (32 + 200) + 1000);
    assert_eq!(
        dom.idom(5),
        Some(4),
        "Shared is held by two leaks: the table dominates it"
    );
    assert!(!dom.is_reachable(6), "weak edges do not retain");
    assert_eq!(dom.idom(14), Some(0));
    for i in 0..nodes.len() {
        let want = if reachable(&nodes, &[])[i] {
            removal_retained(&nodes, &[i])
        } else {
            0
        };
        assert_eq!(dom.retained_size(i), want, "node {i}");
    }

    let sp = ShortestPaths::compute(&snap).unwrap();
    let leaks: Vec<u32> = vec![8, 10, 12, 14];
    let groups = sp.group(&snap, &leaks, 5);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].count, 3);
    assert_eq!(
        groups[0].text,
        "global.cache → Map.table → (object elements)[·] → Leak"
    );
    assert_eq!(groups[0].steps[0].edge, None);
    assert_eq!(groups[0].steps[1].edge.as_deref(), Some("cache"));
    assert_eq!(groups[0].steps[1].edge_type.as_deref(), Some("property"));
    assert_eq!(groups[0].steps[3].id, 101);
    assert_eq!(
        groups[0].keys,
        ["[0]", "[1]", "[2]"],
        "the first three leaks' indices"
    );
    assert_eq!(groups[1].count, 1);
    // V8's root lists are not the program's stores: their slots read as they are.
    assert_eq!(groups[1].text, "(GC roots)[1] → (Global handles)[0] → Leak");
    assert!(groups[1].keys.is_empty());

    // Class retained size: the union's removal size, here equal to the per-instance sum since
    // no leak dominates another; Shared is jointly held, so neither leak's size includes it.
    let targets: Vec<(u32, u32)> = leaks.iter().map(|&i| (i, 0)).collect();
    assert_eq!(
        class_retained_sizes(&dom, &targets, 1),
        vec![4 * (32 + 200)]
    );
    assert_eq!(
        removal_retained(&nodes, &[8, 10, 12, 14]),
        4 * (32 + 200) + 1000
    );

    let top = top_retainers(&snap, &dom, 3);
    assert_eq!(top, vec![2, 3, 4], "global, then Map, then its table");
}

#[test]
fn three_snapshots_keep_only_what_survived() {
    // s1: root, global. s2: adds Leak x3 (ids 21..25) and Temp x2 (31, 33). s3: Temp gone, one
    // more Leak allocated after s2 (id 41, not reported: it was not allocated by the action).
    let base = |extra: &[(&'static str, u64)]| {
        let mut nodes = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
        nodes[0].edges.push(named("shortcut", "g", 1));
        for (k, &(name, id)) in extra.iter().enumerate() {
            nodes.push(n("object", name, id, 16));
            nodes[1]
                .edges
                .push(edge("element", common::EdgeName::Idx(k as u32), k + 2));
        }
        nodes
    };
    let s1 = parsed(&base(&[]));
    let s2 = parsed(&base(&[
        ("Leak", 21),
        ("Leak", 23),
        ("Leak", 25),
        ("Temp", 31),
        ("Temp", 33),
    ]));
    let s3 = parsed(&base(&[
        ("Leak", 21),
        ("Leak", 23),
        ("Leak", 25),
        ("Leak", 41),
    ]));
    let report = find_survivors(&s1, &s2, &s3, &SurvivorOptions::default()).unwrap();
    assert_eq!(report.allocated, 5);
    assert_eq!(report.leaked, 3);
    assert_eq!(report.classes.len(), 1);
    let c = &report.classes[0];
    assert_eq!((c.what.as_str(), c.count, c.size_bytes), ("Leak", 3, 48));
    assert_eq!(c.retained_size, Some(48));
    assert_eq!(c.paths[0].count, 3);
    assert_eq!(c.paths[0].text, "global[·] → Leak");

    // V8's own objects allocated in between (compiled code) count unless `internals` is off,
    // and read after the program's classes even when they retain more (100 bytes to 48).
    let with_code = |extra: &[(&'static str, u64)]| {
        let mut nodes = base(extra);
        let k = nodes.len();
        nodes.push(n("code", "(code for f)", 51, 100));
        nodes[1]
            .edges
            .push(edge("internal", common::EdgeName::Str("code"), k));
        nodes
    };
    let s2c = parsed(&with_code(&[("Leak", 21), ("Leak", 23), ("Leak", 25)]));
    let s3c = parsed(&with_code(&[("Leak", 21), ("Leak", 23), ("Leak", 25)]));
    let all = find_survivors(&s1, &s2c, &s3c, &SurvivorOptions::default()).unwrap();
    assert_eq!(
        all.classes
            .iter()
            .map(|c| (c.what.as_str(), c.internal, c.retained_size))
            .collect::<Vec<_>>(),
        [("Leak", false, Some(48)), ("Code", true, Some(100))],
        "the program's classes first"
    );
    let user = SurvivorOptions {
        internals: false,
        ..SurvivorOptions::default()
    };
    let only = find_survivors(&s1, &s2c, &s3c, &user).unwrap();
    assert_eq!((only.allocated, only.leaked, only.classes.len()), (3, 3, 1));

    let r = retention_of_new(
        &s1,
        &s3,
        &["Leak".into(), "Nope".into()],
        Default::default(),
        &[23],
        2,
    )
    .unwrap();
    assert_eq!(
        (r[0].count, r[0].retained_size),
        (3, Some(48)),
        "21, 25, 41; 23 excluded"
    );
    assert_eq!((r[1].count, r[1].retained_size), (0, Some(0)));
}

#[test]
fn graph_analyses_need_edges() {
    let doc = build(Layout::Node24, &leak_graph());
    let snap = parse_chunked(doc.as_bytes(), 4096, false).unwrap();
    assert_eq!(
        DominatorTree::compute(&snap).unwrap_err(),
        heapsnap::GraphError::NoEdges
    );
    assert!(ShortestPaths::compute(&snap).is_err());
}

/// Node types that are strings, as V8 names them (the test's own list, not the crate's).
fn is_string_node(ty: &str) -> bool {
    ty == "string" || ty == "concatenated string" || ty == "sliced string"
}

/// root ─shortcut→ global ─session→ Session, which holds:
/// - `payload`: a cons string C1 = C2 + S1, C2 = C3 + S2, C3 = L + S3 (what `s += x` builds), C1
///   also with its `map` (a hidden node reached only through it);
/// - `tail`: a sliced string of a flat parent P;
/// - `name`: a flat string.
fn string_graph() -> Vec<N> {
    let mut nodes = vec![
        n("synthetic", "", 1, 0),               // 0
        n("object", "global", 3, 10),           // 1
        n("object", "Session", 5, 24),          // 2
        n("concatenated string", "abc", 7, 32), // 3 C1
        n("concatenated string", "ab", 9, 32),  // 4 C2
        n("concatenated string", "a", 11, 32),  // 5 C3
        n("string", "a", 13, 16),               // 6 L
        n("string", "x", 15, 16),               // 7 S1
        n("string", "y", 17, 16),               // 8 S2
        n("string", "z", 19, 16),               // 9 S3
        n("sliced string", "bcdef", 21, 32),    // 10
        n("string", "abcdef", 23, 40),          // 11 P
        n("string", "name", 25, 20),            // 12
        n("hidden", "system / Map", 27, 40),    // 13
    ];
    nodes[0].edges.push(named("shortcut", "global", 1));
    nodes[1].edges.push(named("property", "session", 2));
    nodes[2].edges.push(named("property", "payload", 3));
    nodes[2].edges.push(named("property", "tail", 10));
    nodes[2].edges.push(named("property", "name", 12));
    for (cons, first, second) in [(3, 4, 7), (4, 5, 8), (5, 6, 9)] {
        nodes[cons].edges.push(named("internal", "first", first));
        nodes[cons].edges.push(named("internal", "second", second));
    }
    nodes[3].edges.push(named("internal", "map", 13));
    nodes[10].edges.push(named("internal", "parent", 11));
    nodes
}

#[test]
fn string_parts_share_the_path_of_the_outermost_string() {
    let nodes = string_graph();
    let snap = parsed(&nodes);
    let sp = ShortestPaths::compute(&snap).unwrap();
    let payload = "global.session → Session.payload → (concatenated string)";
    // Every part of the payload, at any depth, reads as the payload itself, ending at C1.
    for part in 3..=9 {
        let steps = sp.path_steps(&snap, part).unwrap();
        assert_eq!(sp.path_text(&snap, part).unwrap(), payload, "node {part}");
        assert_eq!(steps.len(), 3, "node {part}");
        let last = steps.last().unwrap();
        assert_eq!(
            (last.id, last.index, last.node_type.as_str()),
            (7, 3, "concatenated string")
        );
        assert_eq!(last.edge.as_deref(), Some("payload"));
        assert_eq!(last.edge_type.as_deref(), Some("property"));
    }
    // The raw path still goes all the way (L is three parts deep).
    assert_eq!(sp.path_edges(&snap, 6).unwrap().len(), 6);
    let groups = sp.group(&snap, &(3..=9).collect::<Vec<u32>>(), 10);
    assert_eq!(groups.len(), 1, "one string, one group: {groups:?}");
    assert_eq!((groups[0].count, groups[0].text.as_str()), (7, payload));

    // A sliced string and its parent likewise; a flat string reads as before.
    let tail = "global.session → Session.tail → (sliced string)";
    assert_eq!(sp.path_text(&snap, 10).unwrap(), tail);
    assert_eq!(sp.path_text(&snap, 11).unwrap(), tail);
    let name = "global.session → Session.name → (string)";
    assert_eq!(sp.path_text(&snap, 12).unwrap(), name);

    // Edges out of a string that are not its parts are hops like any other.
    assert_eq!(
        sp.path_text(&snap, 13).unwrap(),
        "global.session → Session.payload → (concatenated string).map → system / Map"
    );

    // All strings of the graph: three strings the program holds, three groups, largest first.
    let all: Vec<u32> = (0..nodes.len() as u32)
        .filter(|&i| is_string_node(nodes[i as usize].ty))
        .collect();
    let groups = sp.group(&snap, &all, 10);
    let got: Vec<(u64, &str)> = groups.iter().map(|g| (g.count, g.text.as_str())).collect();
    assert_eq!(got, [(7, payload), (2, tail), (1, name)]);
}

#[test]
fn a_long_concatenation_is_one_path_group() {
    // `let s = ''; for (...) s += x` held in `global.holder`: a left-deep chain of cons strings
    // 5000 deep (recursion would overflow; one group per depth is what collapsing prevents).
    let depth = 5000usize;
    let mut nodes = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
    nodes[0].edges.push(named("shortcut", "global", 1));
    nodes.push(n("object", "Holder", 5, 16));
    nodes[1].edges.push(named("property", "holder", 2));
    let mut id = 7;
    let mut next_id = || {
        id += 2;
        id
    };
    let first = nodes.len();
    nodes[2].edges.push(named("property", "s", first));
    for k in 0..depth {
        let cons = nodes.len();
        nodes.push(n("concatenated string", "", next_id(), 32));
        nodes.push(n("string", "x", next_id(), 16));
        let inner = if k + 1 < depth { cons + 2 } else { cons + 1 };
        nodes[cons].edges.push(named("internal", "first", inner));
        nodes[cons]
            .edges
            .push(named("internal", "second", cons + 1));
    }
    let snap = parsed(&nodes);
    let sp = ShortestPaths::compute(&snap).unwrap();
    let strings: Vec<u32> = (first as u32..nodes.len() as u32).collect();
    let groups = sp.group(&snap, &strings, 5);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].count, 2 * depth as u64);
    assert_eq!(
        groups[0].text,
        "global.holder → Holder.s → (concatenated string)"
    );
    assert_eq!(groups[0].steps.last().unwrap().index, first);
    let deepest = nodes.len() - 1;
    assert_eq!(sp.path_steps(&snap, deepest).unwrap().len(), 3);
    // root → global → Holder → the outermost string, then depth - 1 `first`s and a `second`.
    assert_eq!(sp.path_edges(&snap, deepest).unwrap().len(), depth + 3);
}

#[test]
fn collapsed_paths_drop_exactly_the_string_part_hops_on_random_graphs() {
    // Random graphs with strings among the objects; a path's steps must be its raw edges minus
    // those that are `internal` from a string to a string, in order, whatever the graph.
    let types = ["object", "string", "concatenated string", "sliced string"];
    let mut collapsed = 0;
    for seed in 200..240u64 {
        let mut nodes = random_graph(seed, 40, 120);
        let mut r = Lcg(seed);
        for node in nodes.iter_mut().skip(1) {
            node.ty = types[r.next(types.len())];
            if node.ty != "object" {
                node.name = "";
            }
        }
        let snap = parsed(&nodes);
        let sp = ShortestPaths::compute(&snap).unwrap();
        let t = snap.edges().unwrap();
        for y in 1..nodes.len() {
            let Some(edges) = sp.path_edges(&snap, y) else {
                continue;
            };
            let mut want = Vec::new();
            let mut at = 0usize;
            for &e in &edges {
                let to = t.to_node(e);
                let ty = &snap.edge_type_names()[t.edge_type_index(e) as usize];
                let part = ty == "internal"
                    && is_string_node(nodes[at].ty)
                    && is_string_node(nodes[to].ty);
                if !part {
                    want.push(to);
                }
                at = to;
            }
            collapsed += edges.len() - want.len();
            let got: Vec<usize> = sp
                .path_steps(&snap, y)
                .unwrap()
                .iter()
                .map(|s| s.index)
                .collect();
            assert_eq!(got, want, "seed {seed}: steps to {y}");
        }
    }
    assert!(
        collapsed > 40,
        "too few string parts on the paths: {collapsed}"
    );
}

#[test]
fn retention_of_new_ranks_owners_before_their_parts() {
    // The demo's shape: new `Session`s in a global array, each holding a payload string of
    // three strings (a cons string and its two halves), so there are more new strings than
    // sessions, and the strings' bytes are more than the sessions' own.
    let k = 20usize;
    let build = |sessions: usize| {
        let mut nodes = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
        nodes[0].edges.push(named("shortcut", "global", 1));
        nodes.push(n("array", "", 5, 16));
        nodes[1].edges.push(named("property", "sessions", 2));
        for s in 0..sessions {
            let at = nodes.len();
            let id = 1001 + 8 * s as u64;
            nodes.push(n("object", "Session", id, 24));
            nodes.push(n("concatenated string", "", id + 2, 32));
            nodes.push(n("string", "x", id + 4, 528));
            nodes.push(n("string", "1", id + 6, 16));
            nodes[2]
                .edges
                .push(edge("element", common::EdgeName::Idx(s as u32), at));
            nodes[at].edges.push(named("property", "payload", at + 1));
            nodes[at + 1].edges.push(named("internal", "first", at + 2));
            nodes[at + 1]
                .edges
                .push(named("internal", "second", at + 3));
        }
        nodes
    };
    let (before, after) = (build(0), build(k));
    let (s1, s2) = (parsed(&before), parsed(&after));
    // Asked for as a diff's grown-class pick would (most new instances first).
    let r = retention_of_new(
        &s1,
        &s2,
        &["String".into(), "Session".into()],
        Default::default(),
        &[],
        3,
    )
    .unwrap();
    let of = |keep: fn(&N) -> bool| -> Vec<usize> {
        (0..after.len()).filter(|&i| keep(&after[i])).collect()
    };
    let strings_retained = removal_retained(&after, &of(|n| is_string_node(n.ty)));
    let sessions_retained = removal_retained(&after, &of(|n| n.name == "Session"));
    assert!(sessions_retained > strings_retained);
    let got: Vec<(&str, u64, Option<u64>)> = r
        .iter()
        .map(|c| (c.what.as_str(), c.count, c.retained_size))
        .collect();
    assert_eq!(
        got,
        [
            ("Session", k as u64, Some(sessions_retained)),
            ("String", 3 * k as u64, Some(strings_retained)),
        ],
        "the owner first"
    );
    assert_eq!(r[1].paths.len(), 1, "{:?}", r[1].paths);
    assert_eq!(
        r[1].paths[0].text,
        "global.sessions → (array)[·] → Session.payload → (concatenated string)"
    );
}

/// `find_survivors` with s1 a root and a global, and s2 and s3 that plus what `leak` adds:
/// its classes in order, with count and retained size, must be `want`.
fn assert_survivor_ranking(leak: impl Fn(&mut Vec<N>), want: &[(&str, u64, Option<u64>)]) {
    let nodes = |leaked: bool| {
        let mut v = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
        v[0].edges.push(named("shortcut", "g", 1));
        if leaked {
            leak(&mut v);
        }
        parsed(&v)
    };
    let (s1, s2, s3) = (nodes(false), nodes(true), nodes(true));
    let report = find_survivors(&s1, &s2, &s3, &SurvivorOptions::default()).unwrap();
    let got: Vec<(&str, u64, Option<u64>)> = report
        .classes
        .iter()
        .map(|c| (c.what.as_str(), c.count, c.retained_size))
        .collect();
    assert_eq!(got, want);
}

/// Owners before their parts even when the parts' class outweighs them: four leaked `Session`s
/// (16 bytes) each hold a 1000-byte `Payload`, and one more `Payload` (100 bytes) hangs off the
/// global, so `Payload` retains 4,100 bytes and `Session` 4,064. `Session` still comes first,
/// right after `Big` (5,000 bytes, owned by no leaked class), and `Payload` after it.
#[test]
fn survivors_rank_a_class_right_after_the_class_that_holds_most_of_its_instances() {
    let leak = |v: &mut Vec<N>| {
        for k in 0..4u64 {
            let s = v.len();
            v.push(n("object", "Session", 21 + 4 * k, 16));
            v.push(n("object", "Payload", 23 + 4 * k, 1000));
            v[s].edges.push(named("property", "payload", s + 1));
            v[1].edges
                .push(edge("element", common::EdgeName::Idx(k as u32), s));
        }
        let k = v.len();
        v.push(n("object", "Payload", 61, 100));
        v.push(n("object", "Big", 63, 5000));
        v[1].edges.push(named("property", "spare", k));
        v[1].edges.push(named("property", "big", k + 1));
    };
    assert_survivor_ranking(
        leak,
        &[
            ("Big", 1, Some(5000)),
            ("Session", 4, Some(4064)),
            ("Payload", 5, Some(4100)),
        ],
    );
}

/// The same through a chain of one class: a `Chain` (10 bytes) holds three `Link`s in a row
/// (100 bytes each, each holding the next), and one more `Link` (50) hangs off the global, so
/// `Link` retains 350 and `Chain` 310; every `Link` of the row has `Chain` as its nearest
/// holder of another class, so `Chain` leads.
#[test]
fn survivors_rank_an_owner_first_through_a_chain_of_its_parts() {
    let leak = |v: &mut Vec<N>| {
        v.push(n("object", "Chain", 21, 10));
        v[1].edges.push(named("property", "chain", 2));
        for k in 0..3u64 {
            v.push(n("object", "Link", 23 + 2 * k, 100));
            let at = v.len() - 1;
            v[at - 1].edges.push(named("property", "next", at));
        }
        v.push(n("object", "Link", 41, 50));
        let spare = v.len() - 1;
        v[1].edges.push(named("property", "spare", spare));
    };
    assert_survivor_ranking(leak, &[("Chain", 1, Some(310)), ("Link", 4, Some(350))]);
}

/// A store keyed by session id, as `store.sessions[id] = JSON.stringify(session)` keeps it: V8
/// turns such an object into a dictionary (its `properties` edge reaches an `(object
/// properties)` array), and each key is a property name of its own. Beside it, a `Map` of the
/// same strings (its hash-table slots are `internal` edges named by number) and a fast object
/// whose few named properties must stay apart. The global object is a dictionary as well, and
/// keeps its names.
#[test]
fn keyed_stores_group_whatever_the_key() {
    let keys = [
        "KmlOoEBbXp",
        "q81LzzAa0c",
        "ZyTT3bcaPq",
        "m0Pe4Ls9xQ",
        "Hh7s2Kd0aa",
    ];
    let mut nodes = vec![
        n("synthetic", "", 1, 0),                      // 0
        n("object", "global", 3, 10),                  // 1
        n("object", "Store", 5, 24),                   // 2
        n("object", "Object", 7, 32),                  // 3: the dictionary
        n("array", "(object properties)", 9, 512),     // 4
        n("object", "Map", 11, 32),                    // 5
        n("array", "(object elements)", 13, 256),      // 6: the Map's table
        n("object", "Object", 15, 32),                 // 7: a fast object
        n("hidden", "system / PropertyArray", 17, 40), // 8
    ];
    nodes[0].edges.push(named("shortcut", "global", 1));
    nodes[1].edges.push(named("property", "store", 2));
    nodes[1].edges.push(named("property", "byId", 5));
    nodes[1].edges.push(named("property", "config", 7));
    nodes[2].edges.push(named("property", "sessions", 3));
    nodes[3].edges.push(named("internal", "properties", 4));
    nodes[5].edges.push(named("internal", "table", 6));
    nodes[7].edges.push(named("internal", "properties", 8));
    let mut in_dict = Vec::new();
    let mut in_map = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        let at = nodes.len();
        nodes.push(n("string", "x", 101 + 4 * k as u64, 40));
        nodes.push(n("string", "y", 103 + 4 * k as u64, 40));
        nodes[3].edges.push(named("property", key, at));
        // Slots 3, 5, 7, ...: a Map's entry names its value slot with a number.
        let slot: &'static str = ["3", "5", "7", "9", "11"][k];
        nodes[6].edges.push(named("internal", slot, at + 1));
        in_dict.push(at as u32);
        in_map.push(at as u32 + 1);
    }
    // The global object is a dictionary too, but its properties are the program's named roots.
    let global_props = nodes.len();
    nodes.push(n("array", "(object properties)", 301, 64));
    nodes[1]
        .edges
        .push(named("internal", "properties", global_props));
    let fast: Vec<u32> = ["host", "port"]
        .iter()
        .map(|name| {
            let at = nodes.len();
            nodes.push(n("string", "v", 201 + at as u64 * 2, 24));
            nodes[7].edges.push(named("property", name, at));
            at as u32
        })
        .collect();
    let snap = parsed(&nodes);
    let sp = ShortestPaths::compute(&snap).unwrap();

    let dict = sp.group(&snap, &in_dict, 5);
    assert_eq!(dict.len(), 1, "{dict:?}");
    assert_eq!(dict[0].count, 5);
    assert_eq!(
        dict[0].text,
        "global.store → Store.sessions → Object[·] → (string)"
    );
    assert_eq!(
        dict[0].keys,
        ["[KmlOoEBbXp]", "[q81LzzAa0c]", "[ZyTT3bcaPq]"]
    );
    assert_eq!(
        dict[0].steps[3].edge.as_deref(),
        Some("KmlOoEBbXp"),
        "the example's own key"
    );

    let map = sp.group(&snap, &in_map, 5);
    assert_eq!(map.len(), 1, "{map:?}");
    assert_eq!(map[0].count, 5);
    assert_eq!(
        map[0].text,
        "global.byId → Map.table → (object elements)[·] → (string)"
    );

    // A fast object's named properties are two paths, by name.
    let named_props = sp.group(&snap, &fast, 5);
    let texts: Vec<&str> = named_props.iter().map(|g| g.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "global.config → Object.host → (string)",
            "global.config → Object.port → (string)"
        ]
    );
    assert!(named_props.iter().all(|g| g.keys.is_empty()));
    // A single path reads with its concrete key.
    assert_eq!(
        sp.path_text(&snap, in_dict[1] as usize).unwrap(),
        "global.store → Store.sessions → Object.q81LzzAa0c → (string)"
    );
}
