//! Snapshots written by real Node.js processes, checked against an independent reading.
//!
//! The reference side parses the whole file with serde_json and diffs with hash maps: slow and
//! simple, sharing no code with the crate; its classic labels come from memwatch's rules
//! (`common/memwatch.rs`). One test per supported Node (the `node20` .. `node26` packages in the
//! workspace's node_modules), plus the `node` on PATH when it is another version.
//!
//! What a test does when its Node is not there: under `CI` (set, and not `false` or `0`: GitHub
//! Actions and `.ci/run` set `CI=true`) it fails, naming the missing runtime; elsewhere it passes
//! with a SKIPPED note written straight to the terminal (cargo has no skip, and it hides what a
//! passing test prints), which is what the `_skipped_if_absent_outside_ci` in its name says. A
//! Node that is there but cannot run or write its snapshots fails everywhere.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use heapsnap::{diff, parse_file, ClassChange, DiffOptions, Grouping, ParseOptions, Snapshot};
use serde_json::Value;

const SCRIPT: &str = r#"
const v8 = require('v8');
const [before, after] = process.argv.slice(1);
class LeakyThing { constructor(i) { this.i = i; } }
globalThis.keep = [];
globalThis.temp = Array.from({ length: 500 }, (_, i) => ({ i, label: 'temp' + i }));
globalThis.odd = ['\ud800 lone', 'emoji \u{1F600}', 'quote " back \\ nl \n'].map(s => s + Math.random());
v8.writeHeapSnapshot(before);
globalThis.temp = null;
for (let i = 0; i < 1234; i++) keep.push(new LeakyThing(i));
v8.writeHeapSnapshot(after);
"#;

/// The Node majors heapdiff supports, each from its `node<major>` dev dependency.
const SUPPORTED: [&str; 4] = ["20", "22", "24", "26"];

/// Whether this is a CI run, where every supported Node must be present: `CI` set to anything
/// but empty, `false` or `0` (GitHub Actions and `.ci/run` set `CI=true`).
fn in_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
}

/// A note the terminal shows even for a passing test: cargo's harness captures `eprintln!` but
/// not writes to the process's stderr itself.
fn loud(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n{msg}");
}

/// `node --version` of `bin`, or why it could not be run.
fn version_of(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn packaged_node(major: &str) -> PathBuf {
    // The workspace root: two levels above this crate's manifest.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .join("node_modules")
        .join(format!("node{major}"))
        .join("bin/node")
}

/// The test of one supported Node: required under CI, a loud skip elsewhere when absent, a
/// failure everywhere when present and broken.
fn check_packaged(major: &str) {
    let bin = packaged_node(major);
    if !bin.exists() {
        let what = format!(
            "Node {major} ({} is missing: the `node{major}` dev dependency, installed by `npm install`)",
            bin.display()
        );
        assert!(
            !in_ci(),
            "CI: the real-snapshot tests require every supported Node ({}), and {what}",
            SUPPORTED.join(", ")
        );
        loud(&format!(
            "SKIPPED (not CI): real snapshots of {what}; nothing was checked for Node {major}. Under CI=true this fails."
        ));
        return;
    }
    let version = version_of(&bin).unwrap_or_else(|e| {
        panic!(
            "Node {major} at {} is there but does not run: {e}",
            bin.display()
        )
    });
    assert!(
        version.starts_with(&format!("v{major}.")),
        "{} is {version}, not Node {major}",
        bin.display()
    );
    check_real_snapshots(&version, &bin);
}

/// Writes the before/after snapshots with one Node; a Node that cannot is a failure.
fn write_pair(label: &str, node: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("heapsnap-real-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (b, a) = (
        dir.join("before.heapsnapshot"),
        dir.join("after.heapsnapshot"),
    );
    let out = Command::new(node)
        .arg("-e")
        .arg(SCRIPT)
        .arg(&b)
        .arg(&a)
        .output()
        .unwrap_or_else(|e| panic!("{label} ({}) could not be started: {e}", node.display()));
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        out.status.success(),
        "{label} ({}) failed to write its snapshots ({}): {}",
        node.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, b, a)
}

/// serde_json rejects lone UTF-16 surrogates, which V8 writes for JS strings holding them; the
/// reference swaps them for U+FFFD (what heapsnap promises) before handing the text over.
fn replace_lone_surrogates(doc: &[u8]) -> Vec<u8> {
    let hex = |at: usize| -> Option<u32> {
        let s = std::str::from_utf8(doc.get(at..at + 4)?).ok()?;
        u32::from_str_radix(s, 16).ok()
    };
    let mut out = Vec::with_capacity(doc.len());
    let mut i = 0;
    while i < doc.len() {
        if doc[i] != b'\\' {
            out.push(doc[i]);
            i += 1;
            continue;
        }
        if doc.get(i + 1) != Some(&b'u') {
            out.extend_from_slice(&doc[i..(i + 2).min(doc.len())]);
            i += 2;
            continue;
        }
        let unit = hex(i + 2).unwrap();
        let pair_low = (doc.get(i + 6..i + 8) == Some(b"\\u".as_slice()))
            .then(|| hex(i + 8))
            .flatten()
            .filter(|l| (0xDC00..0xE000).contains(l));
        if (0xD800..0xDC00).contains(&unit) && pair_low.is_some() {
            out.extend_from_slice(&doc[i..i + 12]);
            i += 12;
        } else if (0xD800..0xE000).contains(&unit) {
            out.extend_from_slice(b"\\uFFFD");
            i += 6;
        } else {
            out.extend_from_slice(&doc[i..i + 6]);
            i += 6;
        }
    }
    out
}

struct RefNode {
    id: u64,
    ty: String,
    name: String,
    size: u64,
    edges: Vec<(String, String, usize)>,
    /// `detachedness` is 2 (DevTools: "detached"); Node marks some of its own objects so.
    detached: bool,
}

fn reference_read(path: &Path) -> (Vec<RefNode>, usize) {
    let doc = replace_lone_surrogates(&std::fs::read(path).unwrap());
    let v: Value = serde_json::from_slice(&doc).unwrap();
    let meta = &v["snapshot"]["meta"];
    let names_of = |k: &str| -> Vec<String> {
        meta[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let nf = names_of("node_fields");
    let ef = names_of("edge_fields");
    let pos = |fields: &[String], f: &str| fields.iter().position(|x| x == f).unwrap();
    let types: Vec<String> = meta["node_types"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let etypes: Vec<String> = meta["edge_types"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let strings: Vec<&str> = v["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let nums = |k: &str| -> Vec<u64> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    let nodes = nums("nodes");
    let edges = nums("edges");
    let mut out = Vec::new();
    let mut e = 0;
    for rec in nodes.chunks(nf.len()) {
        let mut node = RefNode {
            id: rec[pos(&nf, "id")],
            ty: types[rec[pos(&nf, "type")] as usize].clone(),
            name: strings[rec[pos(&nf, "name")] as usize].to_string(),
            size: rec[pos(&nf, "self_size")],
            edges: Vec::new(),
            detached: nf
                .iter()
                .position(|f| f == "detachedness")
                .is_some_and(|k| rec[k] == 2),
        };
        for _ in 0..rec[pos(&nf, "edge_count")] {
            let er = &edges[e * ef.len()..(e + 1) * ef.len()];
            let et = etypes[er[pos(&ef, "type")] as usize].clone();
            let raw = er[pos(&ef, "name_or_index")];
            let name = if et == "element" || et == "hidden" {
                format!("#{raw}")
            } else {
                strings[raw as usize].to_string()
            };
            node.edges
                .push((et, name, (er[pos(&ef, "to_node")] as usize) / nf.len()));
            e += 1;
        }
        out.push(node);
    }
    (out, nf.len())
}

fn check_tables(s: &Snapshot, r: &[RefNode]) {
    assert_eq!(s.node_count(), r.len());
    let t = s.edges().expect("edges kept");
    let mut total = 0;
    for (i, n) in r.iter().enumerate() {
        assert_eq!(s.node_id(i), n.id, "node {i}");
        assert_eq!(s.node_type_name(i), n.ty, "node {i}");
        assert_eq!(s.node_name(i), n.name, "node {i}");
        assert_eq!(s.self_size(i), n.size, "node {i}");
        assert_eq!(s.node_edge_count(i), Some(n.edges.len() as u32), "node {i}");
        for (e, (ty, name, to)) in t.range(i).zip(&n.edges) {
            assert_eq!(&s.edge_type_names()[t.edge_type_index(e) as usize], ty);
            assert_eq!(t.to_node(e), *to);
            let got = match s.edge_name(e).unwrap() {
                heapsnap::EdgeName::Name(x) => x.to_string(),
                heapsnap::EdgeName::Index(k) => format!("#{k}"),
            };
            assert_eq!(&got, name);
        }
        total += n.size;
    }
    assert_eq!(s.total_self_size(), total);
    assert_eq!(
        s.edge_count(),
        r.iter().map(|n| n.edges.len()).sum::<usize>()
    );
}

fn reference_class(grouping: Grouping, ty: &str, name: &str, detached: bool) -> Option<String> {
    match grouping {
        Grouping::Classic => common::memwatch::memwatch_what(ty, name),
        Grouping::DevTools => Some(match ty {
            "hidden" => "(system)".to_string(),
            "object" | "native" => {
                // DevTools renames detached embedder nodes before it groups them.
                let renamed;
                let name = if ty == "native" && detached {
                    renamed = format!("Detached {name}");
                    renamed.as_str()
                } else {
                    name
                };
                let prefix = if name.starts_with("Detached <") {
                    10
                } else {
                    1
                };
                if name.starts_with('<') || name.starts_with("Detached <") {
                    match name[prefix..].find(' ') {
                        Some(k) => format!("{}>", &name[..prefix + k]),
                        None => name.to_string(),
                    }
                } else {
                    name.to_string()
                }
            }
            "code" => "(compiled code)".to_string(),
            "closure" => "Function".to_string(),
            "regexp" => "RegExp".to_string(),
            other => format!("({other})"),
        }),
    }
}

/// The diff by memwatch's definition: nodes are matched by id over ALL nodes of each snapshot
/// (memwatch built its id sets from every node, then classified), so a node counted in `after`
/// whose id belonged to an uncounted node in `before` (V8 writes some objects as `hidden` in one
/// snapshot and `code` in the next) is neither allocated nor freed. Only then are the unmatched
/// nodes counted, if their grouping counts them.
fn reference_diff(before: &[RefNode], after: &[RefNode], grouping: Grouping) -> heapsnap::Diff {
    // Every id, with the node's class and size when the grouping counts it.
    let index = |nodes: &[RefNode]| -> HashMap<u64, Option<(String, u64)>> {
        nodes
            .iter()
            .map(|n| {
                let counted = grouping == Grouping::Classic || n.size > 0;
                let class = counted
                    .then(|| reference_class(grouping, &n.ty, &n.name, n.detached))
                    .flatten();
                (n.id, class.map(|c| (c, n.size)))
            })
            .collect()
    };
    let (b, a) = (index(before), index(after));
    let mut rows: BTreeMap<String, ClassChange> = BTreeMap::new();
    let mut d = heapsnap::Diff::default();
    for (id, (class, size)) in a.iter().filter_map(|(id, c)| Some((id, c.as_ref()?))) {
        if !b.contains_key(id) {
            let r = rows.entry(class.clone()).or_default();
            r.allocated += 1;
            r.allocated_bytes += size;
            d.allocated_nodes += 1;
        }
    }
    for (id, (class, size)) in b.iter().filter_map(|(id, c)| Some((id, c.as_ref()?))) {
        if !a.contains_key(id) {
            let r = rows.entry(class.clone()).or_default();
            r.freed += 1;
            r.freed_bytes += size;
            d.freed_nodes += 1;
        }
    }
    d.details = rows
        .into_iter()
        .map(|(what, mut r)| {
            r.what = what;
            r.size_bytes = r.allocated_bytes as i64 - r.freed_bytes as i64;
            r
        })
        .collect();
    if grouping == Grouping::DevTools {
        d.details
            .sort_by(|x, y| y.size_bytes.cmp(&x.size_bytes).then(x.what.cmp(&y.what)));
    }
    let totals = |m: &HashMap<u64, Option<(String, u64)>>| {
        let counted = m.values().flatten();
        (counted.clone().count() as u64, counted.map(|v| v.1).sum())
    };
    (d.before.nodes, d.before.size_bytes) = totals(&b);
    (d.after.nodes, d.after.size_bytes) = totals(&a);
    d.size_bytes = d.after.size_bytes as i64 - d.before.size_bytes as i64;
    d
}

/// Parses both snapshots of one Node, checks the tables and the diffs against the reference.
fn check_real_snapshots(label: &str, bin: &Path) {
    let (dir, bp, ap) = write_pair(label, bin);
    let opts = ParseOptions {
        keep_edges: true,
        devtools_edges: false,
    };
    let before = parse_file(&bp, opts, &mut |_, _| {}).unwrap();
    let after = parse_file(&ap, opts, &mut |_, _| {}).unwrap();
    let (rb, width) = reference_read(&bp);
    let (ra, _) = reference_read(&ap);
    eprintln!(
        "{label}: {} node fields, {} -> {} nodes",
        width,
        rb.len(),
        ra.len()
    );
    check_tables(&before, &rb);
    check_tables(&after, &ra);

    // Chunked feeding gives the same tables as the file reader.
    let doc = std::fs::read(&ap).unwrap();
    for chunk in [4093, 65536] {
        let s = common::parse_chunked(&doc, chunk, true).unwrap();
        assert_eq!(
            common::fingerprint(&s),
            common::fingerprint(&after),
            "{label}"
        );
    }

    // DevTools' rules that need the graph (backing stores, property-set names) are checked
    // against DevTools' own worker in `__test__/devtools.spec.ts`; here, the id-only devtools
    // diff of snapshots parsed without edges (the in-process `HeapDiff`'s) against the reference.
    let (before_ids, after_ids) = (
        parse_file(&bp, ParseOptions::default(), &mut |_, _| {}).unwrap(),
        parse_file(&ap, ParseOptions::default(), &mut |_, _| {}).unwrap(),
    );
    for (grouping, b, a) in [
        (Grouping::Classic, &before, &after),
        (Grouping::DevTools, &before_ids, &after_ids),
    ] {
        let opts = DiffOptions {
            grouping,
            exclude_ids: vec![],
            ..Default::default()
        };
        let got = diff(b, a, &opts);
        let want = reference_diff(&rb, &ra, grouping);
        assert_eq!(got, want, "{label} {grouping:?}");
    }

    let classic = diff(&before, &after, &DiffOptions::default());
    let leaky = classic
        .details
        .iter()
        .find(|r| r.what == "LeakyThing")
        .expect("LeakyThing row");
    assert_eq!((leaky.allocated, leaky.freed), (1234, 0), "{label}");
    let temp = classic.details.iter().find(|r| r.what == "Object").unwrap();
    assert!(
        temp.freed >= 500,
        "{label}: the dropped temp objects show as freed"
    );
    let names: Vec<&str> = classic.details.iter().map(|r| r.what.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "classic details in byte order");

    // Excluding the LeakyThing ids removes exactly that row.
    let ids: Vec<u64> = (0..after.node_count())
        .filter(|&i| after.node_type_name(i) == "object" && after.node_name(i) == "LeakyThing")
        .map(|i| after.node_id(i))
        .collect();
    assert_eq!(ids.len(), 1234);
    let without = diff(
        &before,
        &after,
        &DiffOptions {
            grouping: Grouping::Classic,
            exclude_ids: ids,
            ..Default::default()
        },
    );
    assert!(without.details.iter().all(|r| r.what != "LeakyThing"));
    assert_eq!(without.allocated_nodes, classic.allocated_nodes - 1234);
    assert_eq!(without.after.nodes, classic.after.nodes - 1234);

    // DevTools' facts of the edges give the rows all edges give.
    common::assert_same_devtools_rows(&bp, &ap);

    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn node20_real_snapshots_match_an_independent_reading_skipped_if_absent_outside_ci() {
    check_packaged("20");
}

#[test]
fn node22_real_snapshots_match_an_independent_reading_skipped_if_absent_outside_ci() {
    check_packaged("22");
}

#[test]
fn node24_real_snapshots_match_an_independent_reading_skipped_if_absent_outside_ci() {
    check_packaged("24");
}

#[test]
fn node26_real_snapshots_match_an_independent_reading_skipped_if_absent_outside_ci() {
    check_packaged("26");
}

/// The `node` on PATH, when it is a version none of the packages is: extra coverage, never
/// required. Passes quietly when there is none or it repeats a packaged version.
#[test]
fn path_node_real_snapshots_match_an_independent_reading_if_another_version() {
    let Ok(version) = version_of(Path::new("node")) else {
        eprintln!("note: no `node` on PATH; the packaged runtimes are tested on their own");
        return;
    };
    let packaged: Vec<String> = SUPPORTED
        .iter()
        .filter_map(|m| version_of(&packaged_node(m)).ok())
        .collect();
    if packaged.contains(&version) {
        eprintln!("note: `node` on PATH is {version}, tested as a packaged runtime");
        return;
    }
    check_real_snapshots(&format!("path-{version}"), Path::new("node"));
}
