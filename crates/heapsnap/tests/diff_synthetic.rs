//! Diff semantics on hand-written snapshots, where the expected answer is worked out by hand.

mod common;

use common::*;
use std::collections::BTreeMap;

use heapsnap::{diff, ClassChange, DiffOptions, Grouping, Totals};

fn row(what: &str, allocated: u64, freed: u64, ab: u64, fb: u64) -> ClassChange {
    ClassChange {
        what: what.into(),
        size_bytes: ab as i64 - fb as i64,
        allocated,
        freed,
        allocated_bytes: ab,
        freed_bytes: fb,
        allocated_at: None,
    }
}

/// Shared by both snapshots: ids 1 (root), 3, 5, 7. Freed: 9, 11, 13, 15, 17. Allocated: the
/// rest. Sizes are distinct powers of two so any mix-up shows in the byte sums.
fn before_nodes() -> Vec<N> {
    vec![
        n("synthetic", "", 1, 0),
        n("object", "Keep", 3, 1),
        n("hidden", "system / Map", 5, 2),
        n("string", "kept", 7, 4),
        n("object", "Gone", 9, 8),
        n("closure", "f", 11, 16),
        n("hidden", "system / Context", 13, 32),
        n("object", "apple", 15, 64),
        n("object", "Same", 17, 128),
    ]
}

fn after_nodes() -> Vec<N> {
    vec![
        n("synthetic", "", 1, 0),
        n("object", "Keep", 3, 1),
        n("hidden", "system / Map", 5, 2),
        n("string", "kept", 7, 4),
        n("object", "Zed", 21, 256),
        n("object", "Zed", 23, 512),
        n("array", "", 25, 1024),
        n("concatenated string", "", 27, 2048),
        n("sliced string", "", 29, 4096),
        n("string", "new", 31, 8192),
        n("hidden", "system / Foo", 33, 16384),
        n("synthetic", "(GC roots)", 35, 0),
        n("symbol", "", 37, 1 << 15),
        n("bigint", "", 39, 1 << 16),
        n("object shape", "", 41, 1 << 17),
        n("closure", "g", 43, 1 << 18),
        n("regexp", "a+", 45, 1 << 19),
        n("number", "heap number", 47, 1 << 20),
        n("native", "Node / Buffer", 49, 1 << 21),
        n("code", "", 51, 1 << 22),
        n("object", "Same", 53, 128),
        n("object", "apple", 55, 1 << 23),
    ]
}

#[test]
fn classic_grouping_matches_memwatch() {
    for layout in [Layout::Node20, Layout::Node24, Layout::Shuffled] {
        let b = parse(&build(layout, &before_nodes())).unwrap();
        let a = parse(&build(layout, &after_nodes())).unwrap();
        let d = diff(&b, &a, &DiffOptions::default());
        let want = vec![
            row("Array", 1, 0, 1024, 0),
            row("BigInt", 1, 0, 1 << 16, 0),
            row("Closure", 1, 1, 1 << 18, 16),
            row("Code", 1, 0, 1 << 22, 0),
            row("Gone", 0, 1, 0, 8),
            row("Native", 1, 0, 1 << 21, 0),
            row("Number", 1, 0, 1 << 20, 0),
            row("ObjectShape", 1, 0, 1 << 17, 0),
            row("RegExp", 1, 0, 1 << 19, 0),
            row("Same", 1, 1, 128, 128),
            row("String", 3, 0, 2048 + 4096 + 8192, 0),
            row("Symbol", 1, 0, 1 << 15, 0),
            row("Zed", 2, 0, 256 + 512, 0),
            row("apple", 1, 1, 1 << 23, 64),
        ];
        assert_eq!(d.details, want, "{layout:?}");
        // System nodes (hidden, synthetic) count nowhere.
        assert_eq!(
            d.before,
            Totals {
                nodes: 6,
                size_bytes: 1 + 4 + 8 + 16 + 64 + 128
            }
        );
        let after_size: u64 = 1
            + 4
            + 128
            + (256..=(1 << 23))
                .filter(|s: &u64| s.is_power_of_two())
                .sum::<u64>()
            - 16384;
        assert_eq!(
            d.after,
            Totals {
                nodes: 18,
                size_bytes: after_size
            }
        );
        assert_eq!(d.size_bytes, after_size as i64 - d.before.size_bytes as i64);
        assert_eq!((d.allocated_nodes, d.freed_nodes), (16, 4));
        assert_eq!(
            d.details.iter().map(|r| r.allocated).sum::<u64>(),
            d.allocated_nodes
        );
        assert_eq!(
            d.details.iter().map(|r| r.freed).sum::<u64>(),
            d.freed_nodes
        );
    }
}

#[test]
fn devtools_grouping_matches_the_comparison_view() {
    let b = parse(&build(Layout::Node24, &before_nodes())).unwrap();
    let a = parse(&build(Layout::Node24, &after_nodes())).unwrap();
    let d = diff(
        &b,
        &a,
        &DiffOptions {
            grouping: Grouping::DevTools,
            exclude_ids: vec![],
            ..Default::default()
        },
    );
    let got: Vec<(&str, u64, u64, i64)> = d
        .details
        .iter()
        .map(|r| (r.what.as_str(), r.allocated, r.freed, r.size_bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            ("apple", 1, 1, (1 << 23) - 64),
            ("(compiled code)", 1, 0, 1 << 22),
            ("Node / Buffer", 1, 0, 1 << 21),
            ("(number)", 1, 0, 1 << 20),
            ("RegExp", 1, 0, 1 << 19),
            ("Function", 1, 1, (1 << 18) - 16),
            ("(object shape)", 1, 0, 1 << 17),
            ("(bigint)", 1, 0, 1 << 16),
            ("(symbol)", 1, 0, 1 << 15),
            ("(system)", 1, 1, 16384 - 32),
            ("(string)", 1, 0, 8192),
            ("(sliced string)", 1, 0, 4096),
            ("(concatenated string)", 1, 0, 2048),
            ("(array)", 1, 0, 1024),
            ("Zed", 2, 0, 768),
            ("Same", 1, 1, 0),
            ("Gone", 0, 1, -8),
        ]
    );
    // Zero-size nodes (the roots here) are left out, as DevTools does.
    assert_eq!((d.allocated_nodes, d.freed_nodes), (17, 5));
    assert_eq!((d.before.nodes, d.after.nodes), (8, 20));
}

#[test]
fn excluded_ids_count_nowhere() {
    let b = parse(&build(Layout::Node20, &before_nodes())).unwrap();
    let a = parse(&build(Layout::Node20, &after_nodes())).unwrap();
    let opts = DiffOptions {
        grouping: Grouping::Classic,
        exclude_ids: vec![23, 9, 3, 23, 999, 55],
        ..Default::default()
    };
    let d = diff(&b, &a, &opts);
    let find = |w: &str| d.details.iter().find(|r| r.what == w).cloned();
    assert_eq!(find("Zed"), Some(row("Zed", 1, 0, 256, 0)));
    assert_eq!(find("Gone"), None);
    assert_eq!(find("apple"), Some(row("apple", 0, 1, 0, 64)));
    assert_eq!(d.before.nodes, 4);
    assert_eq!(d.after.nodes, 15);
    assert_eq!((d.allocated_nodes, d.freed_nodes), (14, 3));
}

#[test]
fn unknown_node_types_keep_their_type_name() {
    let mut types = NODE_TYPES_20.to_vec();
    types.push("shiny thing");
    let b = parse(&build_with_types(
        Layout::Node24,
        &[n("synthetic", "", 1, 0)],
        &types,
    ))
    .unwrap();
    let a = parse(&build_with_types(
        Layout::Node24,
        &[n("synthetic", "", 1, 0), n("shiny thing", "x", 3, 10)],
        &types,
    ))
    .unwrap();
    let classic = diff(&b, &a, &DiffOptions::default());
    assert_eq!(classic.details, vec![row("shiny thing", 1, 0, 10, 0)]);
    let dt = diff(
        &b,
        &a,
        &DiffOptions {
            grouping: Grouping::DevTools,
            exclude_ids: vec![],
            ..Default::default()
        },
    );
    assert_eq!(dt.details[0].what, "(shiny thing)");
}

#[test]
fn ids_beyond_32_bits_still_match() {
    let big = 1u64 << 40;
    let b = parse(&build(
        Layout::Node24,
        &[n("object", "A", big + 1, 8), n("object", "A", 3, 8)],
    ))
    .unwrap();
    let a = parse(&build(
        Layout::Node24,
        &[
            n("object", "A", 3, 8),
            n("object", "A", big + 1, 8),
            n("object", "A", big + 3, 8),
        ],
    ))
    .unwrap();
    let d = diff(&b, &a, &DiffOptions::default());
    assert_eq!(d.details, vec![row("A", 1, 0, 8, 0)]);
    // Mixed: narrow ids before, wide after.
    let narrow = parse(&build(Layout::Node24, &[n("object", "A", 3, 8)])).unwrap();
    let d = diff(&narrow, &a, &DiffOptions::default());
    assert_eq!(d.details, vec![row("A", 2, 0, 16, 0)]);
}

#[test]
fn identical_snapshots_have_no_details() {
    let b = parse(&build(Layout::Node20, &before_nodes())).unwrap();
    let d = diff(&b, &b, &DiffOptions::default());
    assert!(d.details.is_empty());
    assert_eq!((d.allocated_nodes, d.freed_nodes, d.size_bytes), (0, 0, 0));
    assert_eq!(d.before, d.after);
}

/// A browser snapshot's DOM: DevTools lists elements that are in no document apart, as
/// `Detached <tag>`, going by each node's `detachedness` (2 = detached); only embedder (native)
/// nodes are renamed, and the classic grouping keeps memwatch's `Native`.
#[test]
fn detached_dom_elements_get_their_own_class() {
    let dom = |name: &'static str, id: u64, state: u64| {
        let mut node = n("native", name, id, 100);
        node.detachedness = state;
        node
    };
    let before = vec![n("synthetic", "", 1, 0), dom("<div id=\"kept\">", 3, 1)];
    let mut odd = n("object", "Thing", 13, 7);
    odd.detachedness = 2;
    let after = vec![
        n("synthetic", "", 1, 0),
        dom("<div id=\"kept\">", 3, 1),
        dom("<div id=\"a\">", 5, 2),
        dom("<div class=\"b\">", 7, 2),
        dom("<div id=\"c\">", 9, 1),
        dom("<span>", 11, 2),
        odd,
    ];
    for layout in [Layout::Node20, Layout::Node24, Layout::Shuffled] {
        let b = parse(&build(layout, &before)).unwrap();
        let a = parse(&build(layout, &after)).unwrap();
        let devtools = diff(
            &b,
            &a,
            &DiffOptions {
                grouping: Grouping::DevTools,
                ..DiffOptions::default()
            },
        );
        let mut rows: Vec<(String, u64)> = devtools
            .details
            .iter()
            .map(|r| (r.what.clone(), r.allocated))
            .collect();
        rows.sort();
        let want: Vec<(String, u64)> = [
            ("<div>", 1),
            ("Detached <div>", 2),
            ("Detached <span>", 1),
            ("Thing", 1),
        ]
        .iter()
        .map(|(w, k)| (w.to_string(), *k))
        .collect();
        assert_eq!(rows, want, "{layout:?}");

        let classic = diff(&b, &a, &DiffOptions::default());
        let natives = classic.details.iter().find(|r| r.what == "Native").unwrap();
        assert_eq!(natives.allocated, 4, "{layout:?}");
    }
}

/// The reference rule (`tests/common/memwatch.rs`) gives memwatch's own labels for the node
/// types memwatch knew, as the semantics notes list them: the check that it is memwatch's rule.
#[test]
fn the_reference_rule_gives_memwatchs_own_labels() {
    use memwatch::memwatch_what;
    let original = [
        ("array", "Array"),
        ("string", "String"),
        ("code", "Code"),
        ("closure", "Closure"),
        ("regexp", "RegExp"),
        ("number", "Number"),
        ("native", "Native"),
    ];
    for (ty, label) in original {
        assert_eq!(
            memwatch_what(ty, "whatever").as_deref(),
            Some(label),
            "{ty}"
        );
    }
    assert_eq!(memwatch_what("object", "Widget").as_deref(), Some("Widget"));
    assert_eq!(memwatch_what("hidden", "system / Map"), None);
}

/// One node of every type V8 writes (Node 20's list, the longest: it has `wasm object`), all
/// allocated: each is counted under the label memwatch's rule gives its type, or nowhere.
#[test]
fn every_v8_node_type_is_labelled_by_memwatchs_rule() {
    let root = || n("synthetic", "", 1, 0);
    let mut after = vec![root()];
    let mut want: BTreeMap<String, ClassChange> = BTreeMap::new();
    for (k, ty) in NODE_TYPES_20.iter().enumerate() {
        let size = 1u64 << k;
        after.push(n(ty, "Thing", 3 + 2 * k as u64, size));
        if let Some(what) = memwatch::memwatch_what(ty, "Thing") {
            let r = want
                .entry(what.clone())
                .or_insert_with(|| row(&what, 0, 0, 0, 0));
            r.allocated += 1;
            r.allocated_bytes += size;
            r.size_bytes += size as i64;
        }
    }
    let b = parse(&build(Layout::Node20, &[root()])).unwrap();
    let a = parse(&build(Layout::Node20, &after)).unwrap();
    let d = diff(&b, &a, &DiffOptions::default());
    assert_eq!(d.details, want.into_values().collect::<Vec<_>>());
}
