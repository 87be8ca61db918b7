//! The analyses as the native module runs them: a diff explained by retention, the file loads
//! behind the file analyses (parallel, with progress, first error reported), the largest
//! retainers report, the class-id query and the options' ranges. Expected values are worked out
//! by hand from small synthetic heaps.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use heapsnap::{
    diff, diff_files, explained_diff, find_survivors, find_survivors_in_files, load_files,
    top_retainer_report, top_retainers_in_file, DiffOptions, FileToLoad, LoadError, OptionField,
    ParseOptions, Progress, RetentionOptions, Snapshot, SurvivorOptions, TopRetainerOptions,
};

fn named(ty: &'static str, name: &'static str, to: usize) -> E {
    E {
        ty,
        name: common::EdgeName::Str(name),
        to,
    }
}

/// The synthetic root and `global` (ids 1, 3), in every snapshot.
fn base() -> Vec<N> {
    let mut nodes = vec![n("synthetic", "", 1, 0), n("object", "global", 3, 10)];
    nodes[0].edges.push(named("shortcut", "g", 1));
    nodes
}

/// `base` plus, held by `global`: three `Foo` (16 bytes) each holding a `Blob` (100 bytes), two
/// `Bar` (8), one `Baz` (4); and a string and a closure that are also named `Foo`.
fn grown() -> Vec<N> {
    grown_with(true)
}

/// `grown`, with only the Foos and their Blobs unless `rest`.
fn grown_with(rest: bool) -> Vec<N> {
    let mut nodes = base();
    let hold = |nodes: &mut Vec<N>, node: N| {
        let k = nodes.len();
        let slot = nodes[1].edges.len() as u32;
        nodes.push(node);
        nodes[1].edges.push(elem(slot, k));
        k
    };
    for i in 0..3u64 {
        let owner = hold(&mut nodes, n("object", "Foo", 101 + 10 * i, 16));
        let blob = nodes.len();
        nodes.push(n("object", "Blob", 103 + 10 * i, 100));
        nodes[owner].edges.push(named("property", "blob", blob));
    }
    if !rest {
        return nodes;
    }
    for i in 0..2u64 {
        hold(&mut nodes, n("object", "Bar", 201 + 2 * i, 8));
    }
    hold(&mut nodes, n("object", "Baz", 301, 4));
    hold(&mut nodes, n("string", "Foo", 401, 24));
    hold(&mut nodes, n("closure", "Foo", 403, 32));
    nodes
}

fn snap(nodes: &[N]) -> Snapshot {
    parse(&build(Layout::Node24, nodes)).unwrap()
}

#[test]
fn the_most_grown_classes_get_retention_on_their_own_rows_owners_first() {
    let (before, after) = (snap(&base()), snap(&grown()));
    let opts = DiffOptions::default();
    let r = RetentionOptions {
        classes: 2,
        max_paths: 5,
    };
    let e = explained_diff(&before, &after, &opts, Some(&r)).unwrap();
    assert_eq!(
        e.diff,
        diff(&before, &after, &opts),
        "the diff itself is unchanged"
    );
    let whats: Vec<&str> = e.diff.details.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(whats, ["Bar", "Baz", "Blob", "Closure", "Foo", "String"]);

    let retention = e.retention.expect("asked for");
    // Most new instances: Blob and Foo (3 each; Closure and String have 1). Foo's instances
    // retain their Blobs (3 × 116) and so come before them (3 × 100).
    assert_eq!(retention.order, ["Foo", "Blob"]);
    assert_eq!(retention.rows.len(), whats.len());
    for (k, what) in whats.iter().enumerate() {
        let row = retention.rows[k].as_ref();
        match *what {
            "Foo" | "Blob" => {
                let c = row.unwrap();
                assert_eq!(c.what, *what);
                assert_eq!(c.count, 3);
                let (own, retained) = if *what == "Foo" {
                    (16, 116)
                } else {
                    (100, 100)
                };
                assert_eq!(c.size_bytes, 3 * own);
                assert_eq!(c.retained_size, Some(3 * retained));
                assert_eq!(c.paths.iter().map(|p| p.count).sum::<u64>(), 3);
            }
            _ => assert!(row.is_none(), "{what} was not explained"),
        }
    }

    let plain = explained_diff(&before, &after, &opts, None).unwrap();
    assert_eq!(plain.retention, None);
    assert_eq!(plain.diff, e.diff);
}

#[test]
fn ties_in_growth_are_broken_by_name_and_classes_cap_the_explained_rows() {
    let (before, after) = (snap(&base()), snap(&grown()));
    let r = RetentionOptions {
        classes: 1,
        max_paths: 1,
    };
    let e = explained_diff(&before, &after, &DiffOptions::default(), Some(&r)).unwrap();
    let retention = e.retention.unwrap();
    // Blob and Foo both have three new instances; Blob sorts first.
    assert_eq!(retention.order, ["Blob"]);
    assert_eq!(retention.rows.iter().flatten().count(), 1);
    let blob = retention.rows.iter().flatten().next().unwrap();
    assert!(blob.paths.len() <= 1);
}

#[test]
fn own_objects_are_found_by_class_among_objects_only() {
    let nodes = grown();
    let s = snap(&nodes);
    let want: Vec<u64> = nodes
        .iter()
        .filter(|n| n.ty == "object" && n.name == "Foo")
        .map(|n| n.id)
        .collect();
    assert_eq!(want, [101, 111, 121]);
    assert_eq!(s.object_ids_of_class("Foo"), want);
    assert!(s.object_ids_of_class("Nothing").is_empty());
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(label: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("heapsnap-analyses-{}-{label}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Files { dir }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn progress<const N: usize>() -> [Progress; N] {
    std::array::from_fn(|_| Progress::default())
}

#[test]
fn files_load_in_order_with_edges_where_asked_and_report_their_progress() {
    let f = Files::new("load");
    let docs = [
        build(Layout::Node24, &base()),
        build(Layout::Node20, &grown()),
        build(Layout::Node24, &grown()),
    ];
    let paths: Vec<PathBuf> = (0..3)
        .map(|k| f.write(&format!("s{k}.heapsnapshot"), &docs[k]))
        .collect();
    let progress = progress::<3>();
    let files: Vec<FileToLoad> = (0..3)
        .map(|k| FileToLoad {
            path: &paths[k],
            parse: ParseOptions {
                keep_edges: k == 2,
                devtools_edges: false,
            },
            progress: &progress[k],
        })
        .collect();
    let snaps = load_files(&files).unwrap();
    assert_eq!(snaps.len(), 3);
    for (k, s) in snaps.iter().enumerate() {
        let want = parse_chunked(docs[k].as_bytes(), 1 << 20, k == 2).unwrap();
        assert_eq!(fingerprint(s), fingerprint(&want), "file {k}");
        assert_eq!(s.edges().is_some(), k == 2, "file {k}");
    }
    let bytes: u64 = docs.iter().map(|d| d.len() as u64).sum();
    assert_eq!(Progress::sum(&progress), (bytes, bytes));
    assert_eq!(
        Progress::sum(&progress[..1]),
        (docs[0].len() as u64, docs[0].len() as u64)
    );
    assert!(load_files(&[]).unwrap().is_empty());
}

fn snap_of(doc: &str) -> Snapshot {
    parse(doc).unwrap()
}

#[test]
fn the_first_bad_file_in_order_is_reported_with_its_path() {
    let f = Files::new("errors");
    let good = f.write("good.heapsnapshot", &build(Layout::Node24, &base()));
    let corrupt = f.write("corrupt.heapsnapshot", "{\"snapshot\": [1,2");
    let missing = f.dir.join("missing.heapsnapshot");
    let p = progress::<3>();
    let load = |paths: [&Path; 3]| {
        let files: Vec<FileToLoad> = (0..3)
            .map(|k| FileToLoad {
                path: paths[k],
                parse: ParseOptions::default(),
                progress: &p[k],
            })
            .collect();
        load_files(&files).map(|_| ()).unwrap_err()
    };
    // The last file parses on this thread and fails first in time, but the order decides.
    match load([&good, &missing, &corrupt]) {
        LoadError::Parse { path, .. } => assert_eq!(path, missing),
        other => panic!("{other}"),
    }
    let e = load([&good, &corrupt, &missing]);
    assert!(
        e.to_string()
            .starts_with(&format!("{}: ", corrupt.display())),
        "{e}"
    );
    // An I/O error names the file itself, once.
    let e = load([&missing, &good, &good]).to_string();
    assert_eq!(e.matches("missing.heapsnapshot").count(), 1, "{e}");
}

#[test]
fn file_analyses_equal_the_analyses_of_the_parsed_files() {
    let f = Files::new("analyses");
    let (d1, d2) = (
        build(Layout::Node24, &base()),
        build(Layout::Node24, &grown()),
    );
    let d3 = build(Layout::Node24, &grown_with(false));
    let (p1, p2, p3) = (
        f.write("1.heapsnapshot", &d1),
        f.write("2.heapsnapshot", &d2),
        f.write("3.heapsnapshot", &d3),
    );
    let (s1, s2, s3) = (snap_of(&d1), snap_of(&d2), snap_of(&d3));

    let opts = DiffOptions::default();
    let r = RetentionOptions::default();
    let got = diff_files([&p1, &p2], &opts, Some(&r), &progress()).unwrap();
    assert_eq!(got, explained_diff(&s1, &s2, &opts, Some(&r)).unwrap());
    let got = diff_files([&p1, &p2], &opts, None, &progress()).unwrap();
    assert_eq!(got, explained_diff(&s1, &s2, &opts, None).unwrap());

    let o = SurvivorOptions::default();
    let got = find_survivors_in_files([&p1, &p2, &p3], &o, &progress()).unwrap();
    let want = find_survivors(&s1, &s2, &s3, &o).unwrap();
    assert_eq!(got, want);
    // Foo and Blob survived (3 each); Bar, Baz and the rest are gone.
    assert_eq!(want.leaked, 6);

    let t = TopRetainerOptions { count: 2 };
    let got = top_retainers_in_file(&p2, &t, &Progress::default()).unwrap();
    assert_eq!(got, top_retainer_report(&s2, &t).unwrap());
}

#[test]
fn the_largest_retainers_come_with_sizes_and_paths() {
    let s = snap(&grown());
    let top = top_retainer_report(&s, &TopRetainerOptions { count: 2 }).unwrap();
    assert_eq!(top.len(), 2);
    // global holds everything: 10 + 3 × (16 + 100) + 2 × 8 + 4 + 24 + 32.
    assert_eq!((top[0].id, top[0].what.as_str()), (3, "global"));
    assert_eq!(top[0].retained_size, 10 + 348 + 16 + 4 + 24 + 32);
    assert_eq!(top[0].path, "global");
    // Then any Foo (116): the lowest id among equals.
    assert_eq!((top[1].id, top[1].retained_size), (101, 116));
    assert_eq!(
        (top[1].node_type.as_str(), top[1].self_size),
        ("object", 16)
    );
    assert_eq!(top[1].path, "global[0] → Foo");
}

#[test]
fn option_ranges_are_checked_and_name_the_field() {
    assert_eq!(RetentionOptions::default().validate(), Ok(()));
    assert_eq!(SurvivorOptions::default().validate(), Ok(()));
    assert_eq!(TopRetainerOptions::default().validate(), Ok(()));
    let field = |e: heapsnap::OptionError| (e.option, e.requirement, e.got);
    let r = RetentionOptions {
        classes: 0,
        ..Default::default()
    };
    assert_eq!(
        field(r.validate().unwrap_err()),
        (OptionField::RetentionClasses, "at least 1", "0".into())
    );
    let r = RetentionOptions {
        max_paths: 0,
        ..Default::default()
    };
    assert_eq!(
        r.validate().unwrap_err().option,
        OptionField::RetentionMaxPaths
    );
    for (o, want) in [
        (
            SurvivorOptions {
                max_paths: 0,
                ..Default::default()
            },
            OptionField::SurvivorMaxPaths,
        ),
        (
            SurvivorOptions {
                max_classes: 0,
                ..Default::default()
            },
            OptionField::SurvivorMaxClasses,
        ),
        (
            SurvivorOptions {
                min_count: 0,
                ..Default::default()
            },
            OptionField::SurvivorMinCount,
        ),
    ] {
        assert_eq!(o.validate().unwrap_err().option, want);
    }
    let e = TopRetainerOptions { count: 0 }.validate().unwrap_err();
    assert_eq!(e.option, OptionField::TopCount);
    assert_eq!(e.to_string(), "TopCount must be at least 1, got 0");
}
