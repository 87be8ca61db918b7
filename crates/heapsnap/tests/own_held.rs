//! What only a tool's objects and module state hold in one snapshot (`heapsnap::own_held_ids`),
//! on a hand-built snapshot whose answer is known node by node.

mod common;

use common::*;
use heapsnap::{own_held_ids, OwnCode};

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

fn with(mut node: N, edges: Vec<E>) -> N {
    node.edges = edges;
    node
}

const TOOL: &str = "/pkg/lib/sampling.js";
const APP: &str = "/app/a.js";

fn own() -> OwnCode {
    OwnCode {
        scripts: vec![TOOL.into(), "/pkg/index.js".into()],
        classes: vec!["Sampler".into(), "HeapSnapshotHandle".into()],
        existing_code: false,
    }
}

/// Node `k` has id 100 + k. The tool: its script (5), the function (7) and closure (8) of its
/// class `Sampler`, whose module context (12) holds an array (14), and a nested context (18)
/// the stack holds; an instance (10) with its table (11); its `Module` record (21) in
/// `require.cache` (20), whose exports (23) hold an array (24); an object of a native class (26)
/// the program holds. The program: its global (2), its array (3) of a new `Session` (4) and of a
/// string the tool's table holds too (15), its own class also named `Sampler` (31), an object
/// the tool holds only weakly (25), and a function of its own (35) that only the tool's table
/// holds, with the state it keeps (37, 38).
fn nodes() -> Vec<N> {
    vec![
        with(
            n("synthetic", "", 100, 0),
            vec![elem(0, 1), elem(1, 2), elem(2, 20), elem(3, 16)],
        ),
        with(
            n("synthetic", "(Stack roots)", 101, 0),
            vec![elem(0, 12), elem(1, 18)],
        ),
        with(
            n("object", "Object", 102, 40),
            vec![
                prop("app", 3),
                prop("sampler", 10),
                prop("h", 26),
                prop("mine", 31),
            ],
        ),
        with(n("object", "Array", 103, 32), vec![elem(0, 4), elem(1, 15)]),
        n("object", "Session", 104, 24),
        n("code", TOOL, 105, 80),
        n("code", APP, 106, 80),
        with(
            n("code", "Sampler", 107, 40),
            vec![internal("script_or_debug_info", 5)],
        ),
        with(
            n("closure", "Sampler", 108, 32),
            vec![
                internal("shared", 7),
                internal("context", 12),
                prop("prototype", 9),
            ],
        ),
        with(n("object", "Object", 109, 24), vec![prop("constructor", 8)]),
        with(
            n("object", "Sampler", 110, 40),
            vec![prop("__proto__", 9), prop("table", 11)],
        ),
        with(
            n("object", "Map", 111, 32),
            vec![elem(0, 13), elem(1, 15), weak(25), elem(2, 35)],
        ),
        with(
            n("object", "system / Context", 112, 48),
            vec![prop("cache", 14), internal("previous", 16)],
        ),
        n("string", "frame key", 113, 32),
        with(n("object", "Array", 114, 32), vec![elem(0, 17)]),
        n("string", "shared", 115, 32),
        n("object", "system / NativeContext", 116, 900),
        n("object", "Object", 117, 24),
        with(
            n("object", "system / Context", 118, 40),
            vec![internal("previous", 12), prop("x", 19)],
        ),
        n("object", "Object", 119, 24),
        with(n("object", "Object", 120, 40), vec![prop(TOOL, 21)]),
        with(
            n("object", "Module", 121, 64),
            vec![prop("filename", 22), prop("exports", 23)],
        ),
        n("string", TOOL, 122, 40),
        with(n("object", "Object", 123, 24), vec![prop("windows", 24)]),
        n("object", "Array", 124, 32),
        n("object", "Object", 125, 24),
        with(
            n("object", "HeapSnapshotHandle", 126, 32),
            vec![prop("__proto__", 27), prop("data", 30)],
        ),
        with(
            n("object", "Object", 127, 24),
            vec![prop("constructor", 28)],
        ),
        with(
            n("closure", "HeapSnapshotHandle", 128, 32),
            vec![internal("shared", 29)],
        ),
        n("code", "HeapSnapshotHandle", 129, 40),
        n("object", "Object", 130, 24),
        with(n("object", "Sampler", 131, 40), vec![prop("__proto__", 32)]),
        with(
            n("object", "Object", 132, 24),
            vec![prop("constructor", 33)],
        ),
        with(
            n("closure", "Sampler", 133, 32),
            vec![internal("shared", 34)],
        ),
        with(
            n("code", "Sampler", 134, 40),
            vec![internal("script_or_debug_info", 6)],
        ),
        // A function of the program that only the tool holds (in its table), with its context
        // and what that holds.
        with(
            n("closure", "work", 135, 32),
            vec![internal("shared", 36), internal("context", 37)],
        ),
        with(
            n("code", "work", 136, 40),
            vec![internal("script_or_debug_info", 6)],
        ),
        with(
            n("object", "system / Context", 137, 40),
            vec![prop("kept", 38), internal("previous", 16)],
        ),
        n("object", "Array", 138, 32),
    ]
}

#[test]
fn what_only_the_tools_objects_and_module_state_hold_is_the_tools() {
    for layout in [Layout::Node20, Layout::Node24] {
        let snap = parse(&build(layout, &nodes())).unwrap();
        let ids = own_held_ids(&snap, &own());
        let want: Vec<u64> = [
            5, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18, 19, 21, 22, 23, 24, 26, 27, 28, 29, 30,
        ]
        .iter()
        .map(|k| 100 + k)
        .collect();
        assert_eq!(ids, want, "{layout:?}");
    }
}

#[test]
fn a_snapshot_without_the_tool_or_without_edges_leaves_nothing_out() {
    let snap = parse(&build(Layout::Node24, &nodes())).unwrap();
    let other = OwnCode {
        scripts: vec!["/elsewhere/heapdiff/lib/sampling.js".into()],
        classes: vec!["Unheard".into()],
        existing_code: false,
    };
    assert!(own_held_ids(&snap, &other).is_empty());
    let flat = parse_chunked(build(Layout::Node24, &nodes()).as_bytes(), 1 << 20, false).unwrap();
    assert!(own_held_ids(&flat, &own()).is_empty());
}
