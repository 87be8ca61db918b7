//! Snapshots of two processes: their ids overlap, but a shared id names a different object, in a
//! diff of two snapshots and in the three-snapshot technique alike.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{build, elem, n, parse, Layout, N};
use heapsnap::{
    explained_diff, find_survivors, id_pairing, parse_file, DiffOptions, ParseOptions, Snapshot,
    SurvivorOptions,
};

const NAMES: [&str; 4] = ["Order", "Session", "Buffer", "Map"];

/// `count` objects with odd ids from 1; the k-th named `NAMES[(k + shift) % 4]`.
fn heap(count: u64, shift: u64, first_id: u64) -> Vec<N> {
    (0..count)
        .map(|k| {
            n(
                "object",
                NAMES[((k + shift) % 4) as usize],
                first_id + 2 * k,
                16,
            )
        })
        .collect()
}

#[test]
fn one_process_pairs_two_do_not() {
    let before = parse(&build(Layout::Node24, &heap(300, 0, 1))).unwrap();
    // The same objects, and 100 new ones.
    let grown = parse(&build(Layout::Node24, &heap(400, 0, 1))).unwrap();
    let p = id_pairing(&before, &grown);
    assert_eq!((p.shared, p.agreeing), (300, 300), "{p:?}");
    assert!(p.same_process());
    // The same ids, other objects behind them: another process.
    let other = parse(&build(Layout::Node24, &heap(400, 1, 1))).unwrap();
    let p = id_pairing(&before, &other);
    assert_eq!((p.shared, p.agreeing), (300, 0), "{p:?}");
    assert!(!p.same_process());
    // No id in common at all.
    let apart = parse(&build(Layout::Node24, &heap(300, 0, 10_001))).unwrap();
    assert!(!id_pairing(&before, &apart).same_process());
    // Too small to judge: a hand-written pair stays a diff.
    let (a, b) = (heap(20, 0, 1), heap(20, 1, 1));
    let (a, b) = (
        parse(&build(Layout::Node24, &a)),
        parse(&build(Layout::Node24, &b)),
    );
    assert!(id_pairing(&a.unwrap(), &b.unwrap()).same_process());
    // explained_diff carries it.
    let e = explained_diff(&before, &other, &DiffOptions::default(), None).unwrap();
    assert!(!e.pairing.same_process());
}

/// `heap(count, shift, 1)` under a root holding every object: a graph the three-snapshot
/// technique can rank.
fn rooted(count: u64, shift: u64) -> Snapshot {
    let mut nodes = vec![n("synthetic", "", 0, 0)];
    nodes.extend(heap(count, shift, 1));
    nodes[0].edges = (0..count as u32).map(|k| elem(k, k as usize + 1)).collect();
    parse(&build(Layout::Node24, &nodes)).unwrap()
}

#[test]
fn survivors_carry_the_pairing_of_both_pairs() {
    let opts = SurvivorOptions::default();
    let s1 = rooted(300, 0);
    // One process: 100 objects allocated after s1, all still alive.
    let s2 = rooted(400, 0);
    let r = find_survivors(&s1, &s2, &s2, &opts).unwrap();
    assert!(r.same_process(), "{:?}", r.pairing);
    assert_eq!((r.allocated, r.leaked), (100, 100));
    assert_eq!(r.pairing[0].shared, 300);
    // s2 (and s3) from another process: the same ids, other objects behind them.
    let other = rooted(400, 1);
    let r = find_survivors(&s1, &other, &other, &opts).unwrap();
    assert!(!r.pairing[0].same_process(), "{:?}", r.pairing);
    assert!(r.pairing[1].same_process(), "{:?}", r.pairing);
    assert!(!r.same_process());
    // Only s3 from another process.
    let r = find_survivors(&s1, &s2, &other, &opts).unwrap();
    assert!(r.pairing[0].same_process(), "{:?}", r.pairing);
    assert!(!r.pairing[1].same_process(), "{:?}", r.pairing);
    assert!(!r.same_process());
    // Too small to judge: a hand-written triple stays a report.
    let (a, b) = (rooted(20, 0), rooted(30, 1));
    assert!(find_survivors(&a, &b, &b, &opts).unwrap().same_process());
}

/// Even ids are the embedder's, renumbered in every snapshot: not evidence either way.
#[test]
fn embedder_ids_are_not_sampled() {
    let even = |shift| -> Vec<N> {
        (0..300)
            .map(|k| n("native", NAMES[((k + shift) % 4) as usize], 2 + 2 * k, 16))
            .collect()
    };
    let before = parse(&build(Layout::Node24, &even(0))).unwrap();
    let after = parse(&build(Layout::Node24, &even(1))).unwrap();
    let p = id_pairing(&before, &after);
    assert_eq!(p.sampled, 0);
    assert!(p.same_process());
}

fn node(major: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .join(format!("node_modules/node{major}/bin/node"))
}

fn write(node: &Path, script: &str, files: &[&Path]) {
    let out = Command::new(node)
        .arg("-e")
        .arg(script)
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const LOAD: &str = "const v8 = require('v8'); const [a, b] = process.argv.slice(1);";
const LEAK: &str = "globalThis.kept = Array.from({ length: 5000 }, (_, i) => ({ i }));";
/// What V8 changes in place: concatenated strings flattened, strings internalised as keys,
/// functions optimised and deoptimised, properties deleted.
const CHURN: &str = "globalThis.s = Array.from({ length: 5000 }, (_, i) => 'k' + i + 'x'.repeat(i % 30));
  globalThis.c = s.map((x, i) => x + s[(i + 1) % s.length]);
  globalThis.o = s.map((x, i) => ({ a: i, b: x }));
  v8.writeHeapSnapshot(a);
  const keys = {}; for (const x of s) keys[x] = 1; for (const x of c) x.charCodeAt(3);
  const hot = (x) => x.a + x.b.length; let t = 0; for (let r = 0; r < 100; r++) for (const x of o) t += hot(x);
  hot({ a: 1, b: [] }); for (let i = 0; i < o.length; i += 3) delete o[i].a;
  v8.writeHeapSnapshot(b);";

/// Real pairs: one process before and after 5,000 objects, and before and after V8 changed
/// strings and code in place; the same program run twice; and the
/// natural first try, a snapshot of one run and one of a second run that leaked.
#[test]
fn real_snapshots_of_one_and_of_two_processes_skipped_without_node() {
    for major in ["20", "22", "24", "26"] {
        let bin = node(major);
        if !bin.exists() {
            eprintln!("SKIPPED: {} is missing (npm install)", bin.display());
            continue;
        }
        let dir =
            std::env::temp_dir().join(format!("heapsnap-origin-{}-{major}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = |name: &str| dir.join(name);
        let (s1, s2, p1, p2, q) = (f("s1"), f("s2"), f("p1"), f("p2"), f("q"));
        let (c1, c2) = (f("c1"), f("c2"));
        write(&bin, &format!("{LOAD} {CHURN}"), &[&c1, &c2]);
        write(
            &bin,
            &format!("{LOAD} v8.writeHeapSnapshot(a); {LEAK} v8.writeHeapSnapshot(b)"),
            &[&s1, &s2],
        );
        write(&bin, &format!("{LOAD} v8.writeHeapSnapshot(a)"), &[&p1]);
        write(&bin, &format!("{LOAD} v8.writeHeapSnapshot(a)"), &[&q]);
        write(
            &bin,
            &format!("{LOAD} {LEAK} v8.writeHeapSnapshot(a)"),
            &[&p2],
        );
        let load = |p: &Path| parse_file(p, ParseOptions::default(), &mut |_, _| {}).unwrap();
        let pairing = |a: &Path, b: &Path| id_pairing(&load(a), &load(b));
        let graph = |p: &Path| {
            let parse = ParseOptions {
                keep_edges: true,
                ..ParseOptions::default()
            };
            parse_file(p, parse, &mut |_, _| {}).unwrap()
        };
        // Three snapshots: s2 as the third, of one process; then the leaked run's snapshot as
        // the second and third, another process than the first's.
        let opts = SurvivorOptions::default();
        let (one, s2g) = (load(&s1), graph(&s2));
        let r = find_survivors(&one, &load(&s2), &s2g, &opts).unwrap();
        assert!(
            r.same_process(),
            "Node {major}, one process: {:?}",
            r.pairing
        );
        assert!(r.leaked >= 5000, "Node {major}: {r:?}");
        let r = find_survivors(&one, &load(&p2), &graph(&p2), &opts).unwrap();
        assert!(!r.same_process(), "Node {major}, two: {:?}", r.pairing);
        assert!(!r.pairing[0].same_process() && r.pairing[1].same_process());
        for (what, a, b) in [
            ("5,000 new objects", &s1, &s2),
            ("strings flattened, code churned", &c1, &c2),
        ] {
            let same = pairing(a, b);
            assert!(
                same.same_process(),
                "Node {major}, one process, {what}: {same:?}"
            );
            assert!(same.shared > 1000, "{same:?}");
            assert_eq!(
                same.agreeing, same.shared,
                "Node {major}, one process, {what}"
            );
        }
        for (what, a, b) in [
            ("one program twice", &p1, &q),
            ("a second run that leaked", &p1, &p2),
        ] {
            let two = pairing(a, b);
            assert!(!two.same_process(), "Node {major}, {what}: {two:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
