//! DevTools' comparison rules on hand-written snapshots; each expected row is worked out by hand
//! from the rule it tests (see `src/devtools.rs`).

mod common;

use common::*;
use std::collections::BTreeMap;

use heapsnap::{diff, DiffOptions, Grouping};

fn edge(ty: &'static str, name: &'static str, to: usize) -> E {
    E {
        ty,
        name: EdgeName::Str(name),
        to,
    }
}

/// (new, deleted, alloc bytes, freed bytes) by class.
fn rows(before: &[N], after: &[N]) -> BTreeMap<String, (u64, u64, u64, u64)> {
    let a = parse(&build(Layout::Node24, before)).unwrap();
    let b = parse(&build(Layout::Node24, after)).unwrap();
    let d = diff(
        &a,
        &b,
        &DiffOptions {
            grouping: Grouping::DevTools,
            ..Default::default()
        },
    );
    d.details
        .into_iter()
        .map(|r| {
            assert_eq!(
                r.size_bytes,
                r.allocated_bytes as i64 - r.freed_bytes as i64
            );
            (
                r.what,
                (r.allocated, r.freed, r.allocated_bytes, r.freed_bytes),
            )
        })
        .collect()
}

/// Root (0) with a user root (1, a plain `Window`-like object) so stores move to owners.
fn base() -> Vec<N> {
    let mut root = n("synthetic", "", 1, 0);
    root.edges = vec![edge("shortcut", "global", 1)];
    vec![root, n("object", "Global", 3, 8)]
}

#[test]
fn a_backing_store_with_one_owner_moves_its_size_there() {
    let before = base();
    let mut after = base();
    // Global → Holder (id 5, 16 B) → (array) store (id 7, 100 B) → hidden (id 9, 10 B).
    after[1].edges.push(prop("holder", 2));
    let mut holder = n("object", "Holder", 5, 16);
    holder.edges.push(edge("internal", "elements", 3));
    after.push(holder);
    let mut store = n("array", "", 7, 100);
    store.edges.push(edge("internal", "map", 4));
    after.push(store);
    after.push(n("hidden", "system / Map", 9, 10));
    let r = rows(&before, &after);
    // 16 + 100 + 10 in the owner's row; the emptied store and its part are in no row.
    assert_eq!(r.get("Holder"), Some(&(1, 0, 126, 0)), "{r:?}");
    assert_eq!(r.get("(array)"), None, "{r:?}");
    assert_eq!(r.get("(system)"), None, "{r:?}");
    assert_eq!(r.len(), 1, "{r:?}");
}

#[test]
fn a_store_with_two_owners_or_only_weak_ones_keeps_its_size() {
    let before = base();
    let mut after = base();
    after[1].edges.push(prop("a", 2));
    after[1].edges.push(prop("b", 3));
    let mut a = n("object", "A", 5, 16);
    a.edges.push(edge("internal", "elements", 4));
    let mut b = n("object", "B", 7, 16);
    b.edges.push(edge("internal", "elements", 4));
    b.edges.push(edge("weak", "cache", 5));
    after.extend([a, b, n("array", "", 9, 100), n("array", "", 11, 40)]);
    // Only a weak edge reaches store 11, so nothing owns it either.
    let r = rows(&before, &after);
    assert_eq!(r.get("A"), Some(&(1, 0, 16, 0)));
    assert_eq!(r.get("B"), Some(&(1, 0, 16, 0)));
    assert_eq!(r.get("(array)"), Some(&(2, 0, 140, 0)), "{r:?}");
}

#[test]
fn without_user_roots_sizes_stay_where_v8_put_them() {
    // Root's only child is synthetic: a snapshot taken with internals exposed.
    let mut root = n("synthetic", "", 1, 0);
    root.edges = vec![edge("element", "1", 1)];
    let mut roots = n("synthetic", "(GC roots)", 3, 0);
    roots.edges = vec![prop("h", 2)];
    let mut holder = n("object", "Holder", 5, 16);
    holder.edges.push(edge("internal", "elements", 3));
    let before = vec![n("synthetic", "", 1, 0), n("synthetic", "(GC roots)", 3, 0)];
    let after = vec![root, roots, holder, n("array", "", 7, 100)];
    let r = rows(&before, &after);
    assert_eq!(r.get("Holder"), Some(&(1, 0, 16, 0)), "{r:?}");
    assert_eq!(r.get("(array)"), Some(&(1, 0, 100, 0)), "{r:?}");
}

/// `count` plain objects (ids from `first`) with the given properties, all held by Global.
fn plain(nodes: &mut Vec<N>, first: u64, count: usize, props: &[&'static str]) {
    for k in 0..count {
        let at = nodes.len();
        let mut o = n("object", "Object", first + 2 * k as u64, 12);
        for p in props {
            o.edges.push(prop(p, 1));
        }
        nodes.push(o);
        nodes[1].edges.push(prop("o", at));
    }
}

#[test]
fn plain_objects_are_named_by_popular_property_sets() {
    let before = base();
    let mut after = base();
    plain(&mut after, 101, 3, &["a", "b"]); // popular: named {a, b}
    plain(&mut after, 201, 2, &["x"]); // 2 is the minimum: named {x}
    plain(&mut after, 301, 1, &["lonely"]); // rare: stays Object
    plain(&mut after, 401, 2, &["a", "b", "c"]); // popular, and {a, b, c} beats {a, b}
    plain(&mut after, 501, 1, &["b", "a", "zzz"]); // rare set: best subset match is {a, b}
    plain(&mut after, 601, 2, &["with, comma"]); // quoted, as DevTools does
    let r = rows(&before, &after);
    assert_eq!(r.get("{a, b}"), Some(&(4, 0, 48, 0)), "{r:?}");
    assert_eq!(r.get("{a, b, c}"), Some(&(2, 0, 24, 0)), "{r:?}");
    assert_eq!(r.get("{x}"), Some(&(2, 0, 24, 0)), "{r:?}");
    assert_eq!(r.get("Object"), Some(&(1, 0, 12, 0)), "{r:?}");
    assert_eq!(r.get("{\"with, comma\"}"), Some(&(2, 0, 24, 0)), "{r:?}");
}

#[test]
fn an_object_that_changes_class_is_deleted_from_one_row_and_new_in_another() {
    let mut before = base();
    plain(&mut before, 101, 3, &["a"]);
    let mut after = base();
    plain(&mut after, 101, 3, &["a"]);
    // The same three objects (same ids) gained a property: now {a, b}, not {a}.
    let mut changed = base();
    plain(&mut changed, 101, 3, &["a", "b"]);
    assert_eq!(rows(&before, &after), BTreeMap::new());
    let r = rows(&before, &changed);
    assert_eq!(r.get("{a}"), Some(&(0, 3, 0, 36)), "{r:?}");
    assert_eq!(r.get("{a, b}"), Some(&(3, 0, 36, 0)), "{r:?}");
}

#[test]
fn detached_state_spreads_through_embedder_nodes_only() {
    let before = base();
    let mut after = base();
    // A detached element (id 11) holds a native child of unknown state (13), which holds
    // another (15); a JS object (17) between natives stops the spread, so 19 stays as it is.
    // An attached element (21) claims native 23 first, though detached 11 also reaches it.
    let mut el = n("native", "<div id=\"a\">", 11, 10);
    el.detachedness = 2;
    el.edges = vec![prop("child", 3), prop("js", 5), prop("shared", 8)];
    let mut c1 = n("native", "<span>", 13, 10);
    c1.edges = vec![prop("child", 4)];
    let c2 = n("native", "<b>", 15, 10);
    let mut js = n("object", "Wrapper", 17, 10);
    js.edges = vec![prop("native", 6)];
    let behind_js = n("native", "<i>", 19, 10);
    let mut attached = n("native", "<p>", 21, 10);
    attached.detachedness = 1;
    attached.edges = vec![prop("shared", 8)];
    let shared = n("native", "<em>", 23, 10);
    after[1].edges.extend([prop("el", 2), prop("p", 7)]);
    after.extend([el, c1, c2, js, behind_js, attached, shared]);
    let r = rows(&before, &after);
    for k in ["Detached <div>", "Detached <span>", "Detached <b>"] {
        assert_eq!(r.get(k), Some(&(1, 0, 10, 0)), "{k}: {r:?}");
    }
    for k in ["<i>", "<p>", "<em>", "Wrapper"] {
        assert_eq!(r.get(k), Some(&(1, 0, 10, 0)), "{k}: {r:?}");
    }
}

/// Rows depend only on which ids are equal: ids V8-like (odd, dense), and the same ids spread
/// far apart (which the comparison pairs by sorting rather than through its id table), give the
/// rows counted here by definition, also with an id twice in `after` (the second is new) and
/// twice in `before` (the second is deleted).
#[test]
fn pairing_by_id_does_not_depend_on_how_ids_are_spread() {
    let name = |k: u64| if k.is_multiple_of(3) { "Other" } else { "Item" };
    let swapped = |k: u64| if name(k) == "Item" { "Other" } else { "Item" };
    for spread in [false, true] {
        let id = |k: u64| {
            if spread {
                ((k + 1) << 34) | 1
            } else {
                5 + 2 * k
            }
        };
        let mut before = base();
        before.extend((0..3000).map(|k| n("object", name(k), id(k), 10)));
        before.push(n("object", name(2500), id(2500), 10));
        let mut after = base();
        after.extend((1000..4000).map(|k| {
            let changed = (1000..1100).contains(&k);
            n(
                "object",
                if changed { swapped(k) } else { name(k) },
                id(k),
                10,
            )
        }));
        after.push(n("object", name(2000), id(2000), 10));

        let mut want: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
        let mut add = |class: &str, new: bool| {
            let r = want.entry(class.to_owned()).or_default();
            if new {
                r.0 += 1;
                r.2 += 10;
            } else {
                r.1 += 1;
                r.3 += 10;
            }
        };
        for k in 0..1100 {
            add(name(k), false); // gone, or changed class
        }
        for k in 1000..1100 {
            add(swapped(k), true);
        }
        for k in 3000..4000 {
            add(name(k), true);
        }
        add(name(2000), true); // the second node of one id
        add(name(2500), false); // … on either side
        assert_eq!(rows(&before, &after), want, "spread ids: {spread}");
    }
}

/// More classes than the comparison's two-byte table entries hold (65,534): the same rows,
/// counted here by definition, come out of four-byte entries.
#[test]
fn pairing_by_id_holds_with_more_classes_than_two_bytes_number() {
    let class = |prefix: &str, k: u64| -> &'static str { Box::leak(format!("{prefix}{k}").into()) };
    let mut before = base();
    before.extend((0..70_000).map(|k| n("object", class("C", k), 5 + 2 * k, 10)));
    let mut after = base();
    after.extend((1000..71_000).map(|k| {
        let prefix = if (2000..2100).contains(&k) { "D" } else { "C" };
        n("object", class(prefix, k), 5 + 2 * k, 10)
    }));
    let mut want: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    for k in (0..1000).chain(2000..2100) {
        want.insert(format!("C{k}"), (0, 1, 0, 10));
    }
    for k in 2000..2100 {
        want.insert(format!("D{k}"), (1, 0, 10, 0));
    }
    for k in 70_000..71_000 {
        want.insert(format!("C{k}"), (1, 0, 10, 0));
    }
    assert_eq!(rows(&before, &after), want);
}
