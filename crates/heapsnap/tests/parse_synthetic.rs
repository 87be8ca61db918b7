//! Parsing hand-written snapshots: layouts, chunking, escapes, odd key orders.

mod common;

use common::*;
use heapsnap::EdgeName as Name;
use heapsnap::{parse_file, parse_reader, ParseOptions};

fn sample_nodes() -> Vec<N> {
    let mut root = n("synthetic", "", 1, 0);
    root.edges = vec![
        elem(1, 1),
        prop("q\"b\\s", 2),
        E {
            ty: "hidden",
            name: EdgeName::Idx(7),
            to: 3,
        },
    ];
    let mut thing = n("object", "LeakyThing", 3, 24);
    thing.edges = vec![prop("name", 3), prop("Ünïcödé 😀", 4)];
    vec![
        root,
        thing,
        n("string", "line1\nline2\ttab \u{1F600} é", 5, 20),
        n("concatenated string", "", 7, 32),
        n("hidden", "system / Map", 9, 6 * (1 << 30)),
        n("closure", "run", 4_000_000_001, 64),
    ]
}

fn check_sample(s: &heapsnap::Snapshot) {
    assert_eq!(s.node_count(), 6);
    assert_eq!(s.edge_count(), 5);
    let ids: Vec<u64> = (0..6).map(|i| s.node_id(i)).collect();
    assert_eq!(ids, [1, 3, 5, 7, 9, 4_000_000_001]);
    let types: Vec<&str> = (0..6).map(|i| s.node_type_name(i)).collect();
    assert_eq!(
        types,
        [
            "synthetic",
            "object",
            "string",
            "concatenated string",
            "hidden",
            "closure"
        ]
    );
    let names: Vec<&str> = (0..6).map(|i| s.node_name(i)).collect();
    assert_eq!(
        names,
        [
            "",
            "LeakyThing",
            "line1\nline2\ttab \u{1F600} é",
            "",
            "system / Map",
            "run"
        ]
    );
    assert_eq!(s.self_size(4), 6 * (1 << 30), "sizes above 4 GiB survive");
    assert_eq!(s.total_self_size(), 24 + 20 + 32 + 6 * (1 << 30) + 64);
    let counts: Vec<u32> = (0..6).map(|i| s.node_edge_count(i).unwrap()).collect();
    assert_eq!(counts, [3, 2, 0, 0, 0, 0]);

    let t = s.edges().expect("edges kept");
    assert_eq!(t.range(0), 0..3);
    assert_eq!(t.range(1), 3..5);
    assert_eq!(t.range(2), 5..5);
    let targets: Vec<usize> = (0..5).map(|e| t.to_node(e)).collect();
    assert_eq!(targets, [1, 2, 3, 3, 4]);
    let names: Vec<Name> = (0..5).map(|e| s.edge_name(e).unwrap()).collect();
    assert_eq!(
        names,
        [
            Name::Index(1),
            Name::Name("q\"b\\s"),
            Name::Index(7),
            Name::Name("name"),
            Name::Name("Ünïcödé 😀")
        ]
    );
}

#[test]
fn node20_layout_with_seven_fields() {
    let doc = build(Layout::Node20, &sample_nodes());
    assert!(doc.contains("\"trace_node_id\""));
    let s = parse(&doc).unwrap();
    check_sample(&s);
    assert_eq!(s.node_type_names().len(), 16);
    assert_eq!(s.extra_native_bytes(), None);
}

#[test]
fn node24_layout_with_six_fields() {
    let doc = build(Layout::Node24, &sample_nodes());
    assert!(!doc.contains("trace_node_id\","));
    let s = parse(&doc).unwrap();
    check_sample(&s);
    assert_eq!(s.node_type_names().len(), 15);
    assert_eq!(s.extra_native_bytes(), Some(4096));
}

#[test]
fn field_positions_come_from_meta() {
    let s = parse(&build(Layout::Shuffled, &sample_nodes())).unwrap();
    check_sample(&s);
}

#[test]
fn edges_are_dropped_unless_asked_for() {
    let doc = build(Layout::Node20, &sample_nodes());
    let s = parse_chunked(doc.as_bytes(), 64, false).unwrap();
    assert!(s.edges().is_none());
    assert_eq!(s.edge_count(), 5);
    assert_eq!(s.node_name(1), "LeakyThing");
    // Edge-only names ("name", "q\"b\\s") are not kept without edges.
    let with = parse(&doc).unwrap();
    assert!(s.heap_bytes_estimate() < with.heap_bytes_estimate());
}

#[test]
fn every_chunk_size_gives_identical_tables() {
    for layout in [Layout::Node20, Layout::Node24, Layout::Shuffled] {
        let doc = build(layout, &sample_nodes());
        let want = fingerprint(&parse(&doc).unwrap());
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let got = fingerprint(&parse_chunked(doc.as_bytes(), chunk, true).unwrap());
            assert_eq!(got, want, "{layout:?} chunk {chunk}");
        }
    }
}

#[test]
fn escapes_and_surrogates_split_across_chunks() {
    // Escaped exactly as V8 writes them: non-ASCII as \uXXXX, lone surrogates kept.
    let doc = build(Layout::Node24, &[n("object", "X", 1, 0)])
        .replace("\"X\"]", r#""A\"B\\C\nD\u00e9\ud83d\ude00\ud800Z\/"]"#);
    for chunk in 1..40 {
        let s = parse_chunked(doc.as_bytes(), chunk, false).unwrap();
        assert_eq!(s.node_name(0), "A\"B\\C\nDé😀\u{FFFD}Z/", "chunk {chunk}");
    }
}

#[test]
fn unknown_keys_whitespace_and_other_orders_are_tolerated() {
    let doc = build(Layout::Node24, &sample_nodes());
    // Unknown top-level keys with nested values, and pretty-printing whitespace.
    let odd = doc
        .replacen(
            "\n\"nodes\"",
            "\n\"future\" : {\"a\":[1,{\"b\":\"]}\"}],\"c\":true} ,\n  \"nodes\"  ",
            1,
        )
        .replace("\"samples\":[]", "\"samples\":[[1,2],[3,4]],\"n\":null");
    check_sample(&parse(&odd).unwrap());

    // `strings` before `nodes` and `edges` before `nodes`: not V8's order, still readable
    // (all strings are kept then, since references are not yet known).
    let keys = [
        "snapshot",
        "nodes",
        "edges",
        "trace_function_infos",
        "trace_tree",
        "samples",
        "locations",
        "strings",
    ];
    let starts: Vec<usize> = keys
        .iter()
        .map(|k| doc.find(&format!("\"{k}\":")).unwrap())
        .collect();
    let section = |k: usize| {
        let end = if k + 1 < keys.len() {
            starts[k + 1] - 2
        } else {
            doc.rfind('}').unwrap()
        };
        &doc[starts[k]..end]
    };
    for order in [[0, 7, 2, 1, 3, 4, 5, 6], [0, 2, 3, 1, 7, 6, 5, 4]] {
        let parts: Vec<&str> = order.iter().map(|&k| section(k)).collect();
        let reordered = format!("{{{}}}", parts.join(",\n"));
        check_sample(&parse(&reordered).unwrap());
        for chunk in [1, 5] {
            let s = parse_chunked(reordered.as_bytes(), chunk, true).unwrap();
            check_sample(&s);
        }
    }
}

#[test]
fn reader_and_file_report_progress() {
    let doc = build(Layout::Node20, &sample_nodes());
    let mut seen = Vec::new();
    let s = parse_reader(
        doc.as_bytes(),
        ParseOptions {
            keep_edges: true,
            devtools_edges: false,
        },
        &mut |n| seen.push(n),
    )
    .unwrap();
    check_sample(&s);
    assert_eq!(seen.last().copied(), Some(doc.len() as u64));

    let path = std::env::temp_dir().join(format!("heapsnap-progress-{}.json", std::process::id()));
    std::fs::write(&path, &doc).unwrap();
    let mut last = (0, 0);
    let s = parse_file(&path, ParseOptions::default(), &mut |a, b| last = (a, b)).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(s.node_count(), 6);
    assert!(s.edges().is_none());
    assert_eq!(last, (doc.len() as u64, doc.len() as u64));
}

#[test]
fn empty_arrays_are_a_valid_snapshot() {
    let s = parse(&build(Layout::Node24, &[])).unwrap();
    assert_eq!(
        (s.node_count(), s.edge_count(), s.total_self_size()),
        (0, 0, 0)
    );
}
