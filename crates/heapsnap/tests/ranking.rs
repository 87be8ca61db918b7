//! The reading order of the three-snapshot report, against a reference worked out the slow,
//! obvious way on small graphs: dominance by deleting a node and seeing what becomes
//! unreachable, a class's retained size as what deleting all its instances frees, and its owner
//! as the class of the nearest dominator of another class over most of its instances.

mod common;

use common::*;
use heapsnap::{find_survivors, Snapshot, SurvivorOptions};

fn named(ty: &'static str, name: &'static str, to: usize) -> E {
    E {
        ty,
        name: EdgeName::Str(name),
        to,
    }
}

fn parsed(nodes: &[N]) -> Snapshot {
    parse(&build(Layout::Node24, nodes)).expect("valid synthetic snapshot")
}

/// V8's own node types, and the class names the classic grouping gives them.
fn own_type(ty: &str) -> bool {
    matches!(
        ty,
        "code" | "object shape" | "hidden" | "synthetic" | "array"
    )
}

fn classic_name(node: &N) -> String {
    match node.ty {
        "object" => node.name.to_owned(),
        "array" => "Array".into(),
        "code" => "Code".into(),
        "string" => "String".into(),
        "native" => "Native".into(),
        other => panic!("no classic name in this test for {other}"),
    }
}

/// (class, count, retained size, internal) in the order the report should read: `after`'s
/// nodes whose ids `before` lacks are the survivors (the test keeps s2 = s3).
fn reference(before: &[N], after: &[N]) -> Vec<(String, u64, u64, bool)> {
    let old: Vec<u64> = before.iter().map(|n| n.id).collect();
    let mut survivors: Vec<usize> = (1..after.len())
        .filter(|&i| !old.contains(&after[i].id))
        .collect();
    // A node of V8's own types that a survivor of the program's types dominates is part of it.
    let folded: Vec<usize> = survivors
        .iter()
        .copied()
        .filter(|&i| {
            own_type(after[i].ty)
                && survivors
                    .iter()
                    .any(|&d| !own_type(after[d].ty) && dominates(after, d, i))
        })
        .collect();
    survivors.retain(|i| !folded.contains(i));
    let mut names: Vec<String> = survivors.iter().map(|&i| classic_name(&after[i])).collect();
    names.sort();
    names.dedup();
    let members = |c: &str| -> Vec<usize> {
        survivors
            .iter()
            .copied()
            .filter(|&i| classic_name(&after[i]) == c)
            .collect()
    };
    // The nearest strict dominator among the survivors of another class.
    let holder = |i: usize| -> Option<String> {
        let c = classic_name(&after[i]);
        let mut doms: Vec<usize> = (0..after.len())
            .filter(|&d| dominates(after, d, i))
            .collect();
        // Nearest first: the one every other dominator of `i` dominates.
        doms.sort_by_key(|&d| std::cmp::Reverse(doms_count(after, d)));
        doms.into_iter()
            .filter(|d| survivors.contains(d))
            .map(|d| classic_name(&after[d]))
            .find(|k| *k != c)
    };
    let owner = |c: &str| -> Option<String> {
        let ms: Vec<usize> = members(c)
            .into_iter()
            .filter(|&i| reachable(after, &[])[i])
            .collect();
        let holders: Vec<Option<String>> = ms.iter().map(|&i| holder(i)).collect();
        names
            .iter()
            .find(|k| 2 * holders.iter().filter(|h| h.as_deref() == Some(k)).count() > ms.len())
            .cloned()
    };
    let mut rows: Vec<(String, u64, u64, bool)> = names
        .iter()
        .map(|c| {
            let m = members(c);
            let internal = m.iter().all(|&i| own_type(after[i].ty));
            (c.clone(), m.len() as u64, freed(after, &m), internal)
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.3, std::cmp::Reverse(a.2), std::cmp::Reverse(a.1), &a.0).cmp(&(
            b.3,
            std::cmp::Reverse(b.2),
            std::cmp::Reverse(b.1),
            &b.0,
        ))
    });
    // Owners before parts: a program class that outranks its owner (a program class too, not
    // in a cycle of owners with it) reads directly behind it; repeated until nothing moves.
    let owners: Vec<Option<String>> = rows.iter().map(|r| owner(&r.0)).collect();
    let in_cycle = |c: &String| {
        let mut v = c.clone();
        for _ in 0..rows.len() {
            match rows
                .iter()
                .position(|r| r.0 == v)
                .and_then(|k| owners[k].clone())
            {
                Some(o) if o == *c => return true,
                Some(o) => v = o,
                None => return false,
            }
        }
        false
    };
    let program = |c: &String| rows.iter().any(|r| r.0 == *c && !r.3);
    let moves: Vec<(String, String)> = rows
        .iter()
        .zip(&owners)
        .filter(|(r, o)| !r.3 && o.as_ref().is_some_and(&program) && !in_cycle(&r.0))
        .map(|(r, o)| (r.0.clone(), o.clone().unwrap()))
        .collect();
    let mut order: Vec<(String, u64, u64, bool)> = Vec::new();
    let size_rank = |c: &String| rows.iter().position(|r| r.0 == *c).unwrap();
    fn place(
        c: &String,
        rows: &[(String, u64, u64, bool)],
        moved: &[(String, String)],
        order: &mut Vec<(String, u64, u64, bool)>,
    ) {
        order.push(rows.iter().find(|r| r.0 == *c).unwrap().clone());
        for (part, _) in moved.iter().filter(|(_, o)| o == c) {
            place(part, rows, moved, order);
        }
    }
    // Where each class is read: its size rank, or its owner's place once that is below it. An
    // owner may move too, so this is repeated until no place changes.
    let mut places: Vec<usize> = (0..rows.len()).collect();
    loop {
        let mut changed = false;
        for (p, o) in &moves {
            let (p, o) = (size_rank(p), size_rank(o));
            let want = if places[o] > p { places[o] } else { p };
            if places[p] != want {
                places[p] = want;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let moved: Vec<(String, String)> = moves
        .into_iter()
        .filter(|(p, _)| places[size_rank(p)] != size_rank(p))
        .collect();
    for r in rows.iter().filter(|r| !r.3) {
        if !moved.iter().any(|(p, _)| *p == r.0) {
            place(&r.0, &rows, &moved, &mut order);
        }
    }
    order.extend(rows.iter().filter(|r| r.3).cloned());
    order
}

/// How many nodes strictly dominate `d`: its depth in the dominator tree.
fn doms_count(nodes: &[N], d: usize) -> usize {
    (0..nodes.len()).filter(|&x| dominates(nodes, x, d)).count()
}

/// s1 is a root and a global; s2 = s3 add what `leak` adds. The report's classes must read in
/// the reference's order, with its counts, retained sizes and internal marks.
fn assert_reads_as_reference(leak: impl Fn(&mut Vec<N>), want: &[&str]) {
    let nodes = |leaked: bool| {
        let mut v = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
        v[0].edges.push(named("shortcut", "g", 1));
        if leaked {
            leak(&mut v);
        }
        v
    };
    let (before, after) = (nodes(false), nodes(true));
    let (s1, s3) = (parsed(&before), parsed(&after));
    let report = find_survivors(&s1, &s3, &s3, &SurvivorOptions::default()).unwrap();
    let got: Vec<(String, u64, u64, bool)> = report
        .classes
        .iter()
        .map(|c| {
            (
                c.what.clone(),
                c.count,
                c.retained_size.unwrap(),
                c.internal,
            )
        })
        .collect();
    let expected = reference(&before, &after);
    assert_eq!(got, expected, "against the reference");
    let names: Vec<&str> = got.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, want, "the order this test was written for");
}

/// Adds a node and returns its index.
fn add(v: &mut Vec<N>, ty: &'static str, name: &'static str, size: u64) -> usize {
    let id = 101 + 2 * v.len() as u64;
    v.push(n(ty, name, id, size));
    v.len() - 1
}

fn hold(v: &mut [N], from: usize, name: &'static str, to: usize) {
    v[from].edges.push(named("property", name, to));
}

/// A `Store` (1,000 bytes) holds three small `Tag`s; an unrelated `Big` (500) lies between
/// them by size. The tags read after `Big`: owners before parts never lifts a small class.
#[test]
fn a_big_owner_does_not_lift_its_small_parts() {
    let leak = |v: &mut Vec<N>| {
        let s = add(v, "object", "Store", 1000);
        hold(v, 1, "store", s);
        for name in ["a", "b", "c"] {
            let t = add(v, "object", "Tag", 8);
            hold(v, s, name, t);
        }
        let b = add(v, "object", "Big", 500);
        hold(v, 1, "big", b);
    };
    assert_reads_as_reference(leak, &["Store", "Big", "Tag"]);
}

/// V8's own survivors read after every program class, however large: compiled code (5,000
/// bytes) and the new store (2,000) of an old collection, beside ten `Leak`s of 16 bytes it
/// holds. A new `Holder`'s own properties store is its part, not a class of its own.
#[test]
fn v8_internals_read_after_the_program_classes() {
    let old = |v: &mut Vec<N>| {
        // The old collection: in s1 already (same id), so only its store is new.
        v.push(n("object", "Registry", 51, 40));
        let r = v.len() - 1;
        hold(v, 1, "registry", r);
        r
    };
    let leak = |v: &mut Vec<N>| {
        let r = old(v);
        let store = add(v, "array", "(object elements)", 2000);
        v[r].edges.push(named("internal", "elements", store));
        for k in 0..10 {
            let l = add(v, "object", "Leak", 16);
            v[store].edges.push(E {
                ty: "element",
                name: EdgeName::Idx(k),
                to: l,
            });
        }
        let code = add(v, "code", "(code for f)", 5000);
        v[1].edges.push(named("internal", "code", code));
        let h = add(v, "object", "Holder", 24);
        hold(v, 1, "holder", h);
        let props = add(v, "array", "(object properties)", 300);
        v[h].edges.push(named("internal", "properties", props));
    };
    let nodes = |leaked: bool| {
        let mut v = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
        v[0].edges.push(named("shortcut", "g", 1));
        if leaked {
            leak(&mut v);
        } else {
            old(&mut v);
        }
        v
    };
    let (before, after) = (nodes(false), nodes(true));
    let (s1, s3) = (parsed(&before), parsed(&after));
    let report = find_survivors(&s1, &s3, &s3, &SurvivorOptions::default()).unwrap();
    let got: Vec<(String, u64, u64, bool)> = report
        .classes
        .iter()
        .map(|c| {
            (
                c.what.clone(),
                c.count,
                c.retained_size.unwrap(),
                c.internal,
            )
        })
        .collect();
    assert_eq!(got, reference(&before, &after));
    let want = [
        ("Holder", 1, 324, false),
        ("Leak", 10, 160, false),
        ("Code", 1, 5000, true),
        ("Array", 1, 2160, true),
    ];
    let want: Vec<(String, u64, u64, bool)> = want
        .iter()
        .map(|&(c, n, r, i)| (c.to_owned(), n, r, i))
        .collect();
    assert_eq!(got, want);
    assert_eq!(report.leaked, 14, "every survivor counts in the total");
}

/// A chain of owners whose parts outweigh them (each class also has an unowned instance off
/// the global): `A` holds the `B`s, each `B` holds a `C`. Each part reads right behind its owner.
#[test]
fn a_chain_of_owners_reads_owner_first() {
    let leak = |v: &mut Vec<N>| {
        let a = add(v, "object", "A", 10);
        hold(v, 1, "a", a);
        for name in ["x", "y", "z"] {
            let b = add(v, "object", "B", 20);
            hold(v, a, name, b);
            let c = add(v, "object", "C", 40);
            hold(v, b, "c", c);
        }
        let spare_b = add(v, "object", "B", 150);
        hold(v, 1, "b", spare_b);
        let spare_c = add(v, "object", "C", 400);
        hold(v, 1, "c", spare_c);
    };
    // Retained: A 190, B 330, C 520.
    assert_reads_as_reference(leak, &["A", "B", "C"]);
}

/// A Buffer leak as V8 draws it: a `Store` holds three `Buffer`s, each `Buffer` its
/// `ArrayBuffer`, each `ArrayBuffer` its 64 KiB backing store (a `native` node); one more
/// `Buffer` hangs off the global. The parts each outrank the `Store`, but only the `Buffer`s'
/// owner ranks below them: the `ArrayBuffer`s' owner is read where the `Buffer`s moved to.
#[test]
fn a_holder_of_buffers_reads_before_its_buffers_and_their_stores() {
    let buffer = |v: &mut Vec<N>, from: usize, name: &'static str| {
        let b = add(v, "object", "Buffer", 100);
        hold(v, from, name, b);
        let ab = add(v, "object", "ArrayBuffer", 80);
        hold(v, b, "buffer", ab);
        let store = add(v, "native", "system / JSArrayBufferData", 65536);
        hold(v, ab, "backing_store", store);
    };
    let leak = |v: &mut Vec<N>| {
        let s = add(v, "object", "Store", 50);
        hold(v, 1, "store", s);
        for name in ["x", "y", "z"] {
            buffer(v, s, name);
        }
        buffer(v, 1, "spare");
    };
    // Retained: Store 197,198; Buffer 262,864; ArrayBuffer 262,464; Native 262,144.
    assert_reads_as_reference(leak, &["Store", "Buffer", "ArrayBuffer", "Native"]);
}

/// A cycle of owners (`P` and `Q` alternate down one chain, so each holds most of the other's
/// instances): neither is the other's owner, and they read by size.
#[test]
fn a_cycle_of_owners_reads_by_size() {
    let leak = |v: &mut Vec<N>| {
        let mut at = 1;
        for (k, name) in ["p", "q", "p", "q", "p", "q"].into_iter().enumerate() {
            let class = if k % 2 == 0 { "P" } else { "Q" };
            let x = add(v, "object", class, 10);
            hold(v, at, name, x);
            at = x;
        }
        let spare_q = add(v, "object", "Q", 500);
        hold(v, 1, "spare", spare_q);
    };
    // Retained: P 60 (the whole chain), Q 550.
    assert_reads_as_reference(leak, &["Q", "P"]);
}
