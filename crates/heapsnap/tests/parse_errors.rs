//! Malformed, foreign, truncated and random input: clear errors, never a panic.

mod common;

use common::*;
use heapsnap::{parse_file, ParseError, ParseOptions};

fn small() -> String {
    let mut root = n("synthetic", "", 1, 0);
    root.edges = vec![prop("a", 1), elem(0, 2)];
    let mut obj = n("object", "Obj", 3, 16);
    obj.edges = vec![prop("s", 2)];
    build(
        Layout::Node20,
        &[root, obj, n("string", "hello \"world\"", 5, 24)],
    )
}

fn err(doc: &str) -> String {
    parse(doc).expect_err("should fail").to_string()
}

#[test]
fn the_small_document_is_valid() {
    let s = parse(&small()).unwrap();
    assert_eq!(s.node_count(), 3);
}

#[test]
fn truncation_names_the_section_and_offset() {
    let doc = small();
    let cut = doc.find("\"edges\":[").unwrap() + 12;
    let e = parse(&doc[..cut]).unwrap_err();
    assert!(matches!(e, ParseError::Truncated { .. }));
    assert_eq!(
        e.to_string(),
        format!("truncated heap snapshot: input ended inside the `edges` array at byte {cut}")
    );
    let cut = doc.find("\"strings\"").unwrap() - 2;
    assert_eq!(
        err(&doc[..cut]),
        format!("truncated heap snapshot: input ended after the `locations` value at byte {cut}")
    );
    let cut = doc.find("\"strings\"").unwrap() + 14;
    assert!(err(&doc[..cut]).contains("inside the `strings` array"));
    assert!(err(&doc[..30]).contains("inside the `snapshot` object"));
    assert_eq!(
        err(&doc[..doc.len() - 2]),
        format!(
            "truncated heap snapshot: input ended after the `strings` value at byte {}",
            doc.len() - 2
        )
    );
}

#[test]
fn truncation_at_every_position_fails_cleanly() {
    let doc = small();
    let full_end = doc.trim_end().len();
    for cut in 0..full_end {
        for chunk in [1, 3, 4096] {
            let r = parse_chunked(&doc.as_bytes()[..cut], chunk, true);
            assert!(r.is_err(), "cut at {cut} parsed");
        }
    }
    assert!(parse(&doc[..full_end]).is_ok());
}

#[test]
fn foreign_files_are_not_snapshots() {
    let pkg = r#"{"name": "demo", "version": "1.0.0", "dependencies": {}}"#;
    assert_eq!(
        err(pkg),
        "not a V8 heap snapshot: expected top-level key `snapshot`, found `name`"
    );
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let e = parse_chunked(png, 4096, false).unwrap_err();
    assert!(matches!(e, ParseError::NotASnapshot { offset: 0, .. }));
    assert_eq!(
        e.to_string(),
        "not a V8 heap snapshot: expected a JSON object, found byte 0x89 at byte 0"
    );
    assert_eq!(err(""), "not a V8 heap snapshot: the input is empty");
    assert_eq!(err("  \n"), "not a V8 heap snapshot: the input is empty");
    assert_eq!(
        err("{}"),
        "not a V8 heap snapshot: the top-level object is empty"
    );
    assert!(err("[1,2,3]").starts_with("not a V8 heap snapshot"));
    assert!(err("{\"nodes\":[]}").contains("found `nodes`"));
    assert!(err("{1:2}").starts_with("not a V8 heap snapshot"));
}

#[test]
fn bad_bytes_in_arrays_name_the_offset() {
    let doc = small();
    let at = doc.find("\"nodes\":[").unwrap() + 11;
    let mut bad = doc.clone().into_bytes();
    bad[at] = b'x';
    let e = parse_chunked(&bad, 7, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "corrupt heap snapshot: unexpected byte 'x' at byte {at} in the `nodes` array \
             (expected a non-negative integer)"
        )
    );
    assert_eq!(e.offset(), Some(at as u64));
    assert!(err(&doc.replacen("\"edges\":[", "\"edges\":[-", 1)).contains("in the `edges` array"));
    assert!(err(&doc.replacen("\"edges\":[", "\"edges\":{", 1)).contains("is not an array"));
    assert!(err(&doc.replacen("\"strings\":[", "\"strings\":[7,", 1)).contains("`strings` array"));
}

#[test]
fn header_problems() {
    let doc = small();
    assert_eq!(
        err(&doc.replacen("\"id\",", "", 1)),
        "corrupt heap snapshot: meta.node_fields lacks `id`"
    );
    assert!(err(&doc.replacen("\"to_node\"", "\"target\"", 1))
        .contains("meta.edge_fields lacks `to_node`"));
    assert!(err(&doc.replacen("\"meta\"", "\"mesa\"", 1)).contains("lacks a `meta` object"));
    assert!(err(&doc.replacen("{\"meta\"", "[{\"meta\"", 1).replacen(
        ",\n\"nodes\"",
        "],\n\"nodes\"",
        1
    ))
    .contains("not an object"));
}

#[test]
fn counts_must_agree() {
    let doc = small();
    assert_eq!(
        err(&doc.replacen("\"node_count\":3", "\"node_count\":4", 1)),
        "corrupt heap snapshot: snapshot.node_count is 4 but the `nodes` array holds 3 nodes"
    );
    assert_eq!(
        err(&doc.replacen("\"edge_count\":3", "\"edge_count\":2", 1)),
        "corrupt heap snapshot: snapshot.edge_count is 2 but the `edges` array holds 3 edges"
    );
    // Root claims 3 edges instead of 2: the sum no longer matches the edges array.
    let bad = doc.replacen("[9,1,1,0,2,", "[9,1,1,0,3,", 1);
    assert_ne!(bad, doc);
    assert_eq!(
        err(&bad),
        "corrupt heap snapshot: the nodes' edge_count fields add up to 4 but the `edges` array holds 3 edges"
    );
    // A node record cut short.
    let bad = doc.replacen("[9,1,1,0,2,0,0", "[9,1,1,0,2,0", 1);
    assert!(
        err(&bad).contains("not a multiple of the 7 node fields"),
        "{}",
        err(&bad)
    );
}

#[test]
fn references_must_be_in_range() {
    let doc = small();
    let edges_at = doc.find("\"edges\":[").unwrap();
    let (head, tail) = doc.split_at(edges_at);
    // First edge: property "a" to node 1 (offset 7). Offset 8 is not a node start.
    let bad = format!("{head}{}", tail.replacen(",7\n", ",8\n", 1));
    assert!(err(&bad).contains("to_node 8, which is not a multiple of the node field count 7"));
    let bad = format!("{head}{}", tail.replacen(",7\n", ",70\n", 1));
    assert_eq!(
        err(&bad),
        format!(
            "corrupt heap snapshot: edge #0 points to node #10, but snapshot.node_count is 3 \
             (number ending at byte {})",
            edges_at + 14
        )
    );
    let bad = format!("{head}{}", tail.replacen("[2,", "[9,", 1));
    assert!(
        err(&bad).contains("edge #0 has type index 9, but meta.edge_types[0] lists only 7 types")
    );
    // Node names and node types.
    let bad = doc.replacen("[9,1,1,", "[9,99,1,", 1);
    assert_eq!(
        err(&bad),
        "corrupt heap snapshot: string index out of range: a node name refers to string #99, \
         but the `strings` array holds 6 strings"
    );
    let bad = doc.replacen("[9,1,1,", "[16,1,1,", 1);
    assert!(
        err(&bad).contains("node #0 has type index 16, but meta.node_types[0] lists only 16 types")
    );
    let bad = format!("{head}{}", tail.replacen("[2,2,7", "[2,42,7", 1));
    assert!(
        err(&bad).contains("edge #0 is named by string #42"),
        "{}",
        err(&bad)
    );
}

#[test]
fn numbers_that_overflow() {
    let doc = small();
    assert!(
        err(&doc.replacen("[9,1,1,", "[9,1,123456789012345678901,", 1))
            .contains("number too large")
    );
    assert!(err(&doc.replacen("[9,1,1,", "[9,4294967296,1,", 1))
        .contains("name index 4294967296 (overflow)"));
}

#[test]
fn structure_problems() {
    let doc = small();
    assert!(err(&format!("{doc}x")).contains("after the end of the snapshot"));
    let dup = doc.replacen("\"samples\":[]", "\"nodes\":[]", 1);
    assert!(err(&dup).contains("duplicate top-level key `nodes`"));
    let missing = doc.replacen("\"edges\":[", "\"edgez\":[", 1);
    assert!(
        err(&missing).contains("has no `edges` array"),
        "{}",
        err(&missing)
    );
    assert!(err(&doc.replacen("\"samples\":[]", "\"samples\":[}", 1))
        .contains("in the `samples` value"));
}

#[test]
fn missing_file_error_names_the_path() {
    let path = std::path::Path::new("/nonexistent/dir/x.heapsnapshot");
    let e = parse_file(path, ParseOptions::default(), &mut |_, _| {}).unwrap_err();
    assert!(matches!(e, ParseError::Io { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with("cannot read heap snapshot /nonexistent/dir/x.heapsnapshot: "),
        "{msg}"
    );
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn random_damage_never_panics() {
    let doc = small().into_bytes();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let noise = b"0123456789,[]{}\":\\u \n-.eEtrufalsn\x00\xff\xc3";
    for round in 0..4000 {
        let mut bad = doc.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bad.len());
            match rng.below(3) {
                0 => bad[at] = noise[rng.below(noise.len())],
                1 => {
                    bad.remove(at);
                }
                _ => bad.insert(at, noise[rng.below(noise.len())]),
            }
        }
        let chunk = 1 + rng.below(16);
        // Damage may happen to keep the document valid (e.g. a digit swapped); only panics and
        // hangs are failures here.
        if let Ok(s) = parse_chunked(&bad, chunk, round % 2 == 0) {
            let _ = fingerprint(&s);
        }
    }
}

#[test]
fn random_garbage_is_rejected() {
    let mut rng = XorShift(12345);
    for _ in 0..2000 {
        let len = rng.below(300);
        let mut junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            // Give half of them a plausible start, to get past the first byte.
            let mut start = b"{\"snapshot\":".to_vec();
            start.append(&mut junk);
            junk = start;
        }
        assert!(parse_chunked(&junk, 1 + rng.below(64), true).is_err());
    }
}

/// Without kept edges the `edges` array is checked but not stored (most of it a window at a
/// time). Damage there must give the same verdict and message as when edges are kept: a
/// corrupt file never passes for a good one, whatever the command.
#[test]
fn checked_edges_agree_with_kept_edges_on_damage() {
    let mut nodes = vec![n("synthetic", "", 1, 0)];
    for i in 1..400usize {
        let mut o = n("object", "Obj", 1 + 2 * i as u64, 16 + i as u64);
        o.edges = vec![
            prop("next", (i + 1) % 400),
            elem(i as u32 * 1000, (i * 7) % 400),
        ];
        nodes.push(o);
    }
    nodes[0].edges = (1..400).map(|i| elem(i as u32, i)).collect();
    let doc = build(Layout::Node20, &nodes).into_bytes();
    let start = doc.windows(9).position(|w| w == b"\"edges\":[").unwrap() + 9;
    let end = doc.windows(10).position(|w| w == b"\"strings\":").unwrap() - 2;
    let mut rng = XorShift(0x51ED_270B_2F4A_7C15);
    let noise = b"0123456789,]\n x-";
    let mut agreed_errors = 0;
    for round in 0..3000 {
        let mut bad = doc.clone();
        for _ in 0..1 + rng.below(2) {
            let at = start + rng.below(end - start);
            match rng.below(3) {
                0 => bad[at] = noise[rng.below(noise.len())],
                1 => {
                    bad.remove(at);
                }
                _ => bad.insert(at, noise[rng.below(noise.len())]),
            }
        }
        let chunk = [7, 64, 65, 200, 1 << 20][round % 5];
        let kept = parse_chunked(&bad, chunk, true);
        let counted = parse_chunked(&bad, chunk, false);
        match (&kept, &counted) {
            (Ok(k), Ok(c)) => {
                assert_eq!(
                    (k.node_count(), k.edge_count()),
                    (c.node_count(), c.edge_count())
                )
            }
            (Err(k), Err(c)) if k.to_string() == c.to_string() => agreed_errors += 1,
            (k, c) => panic!("round {round}: kept {k:?} / checked {c:?}"),
        }
    }
    assert!(agreed_errors > 600, "{agreed_errors}");
    assert_eq!(
        parse_chunked(&doc, 4096, false).unwrap().edge_count(),
        399 * 3
    );
}

/// What is read as JSON is JSON, in the skipped sections, the string table and the keys too.
#[test]
fn strict_json_everywhere() {
    let doc = small();
    let cases: &[(&str, &str, &str)] = &[
        (
            "\"locations\":[0,1,2,3]",
            "\"locations\":[0032]",
            "no leading zeros",
        ),
        (
            "\"locations\":[0,1,2,3]",
            "\"locations\":[2x]",
            "the rest of a number",
        ),
        (
            "\"locations\":[0,1,2,3]",
            "\"locations\":[tru,1]",
            "`true`, `false` or `null`",
        ),
        (
            "\"locations\":[0,1,2,3]",
            "\"locations\":[1 2]",
            "`,` or `]`",
        ),
        (
            "\"samples\":[]",
            "\"samples\":[\"a\tb\"]",
            "raw control character",
        ),
        ("\"samples\":[]", "\"samples\":[\"\\q\"]", "JSON escape"),
        ("\"hello", "\"hel\u{1}lo", "raw control character"),
        ("\"hello", "\"hel\\xlo", "JSON escape"),
        ("\"<dummy>\"", "\"<dum\nmy>\"", "raw control character"),
        // Found by fuzzing: a bad escape in a string no node names was only noticed when the
        // string was decoded, i.e. with kept edges naming it, so the verdicts differed.
        ("\"<dummy>\"", "\"<dum\\imy>\"", "JSON escape"),
        ("\"samples\"", "\"sam\nples\"", "raw control character"),
        ("\"nodes\":[9,", "\"nodes\":[09,", "no leading zeros"),
        ("\"edges\":[", "\"edges\":[00", "no leading zeros"),
    ];
    for (from, to, why) in cases {
        let bad = doc.replacen(from, to, 1);
        assert_ne!(bad, doc, "{from}");
        for keep in [false, true] {
            for chunk in [1 << 20, 5] {
                let e = parse_chunked(bad.as_bytes(), chunk, keep)
                    .unwrap_err()
                    .to_string();
                assert!(e.contains(why), "{to}: {e}");
                assert!(e.contains("unexpected byte"), "{to}: {e}");
            }
        }
    }
    // Deliberately lenient: invalid UTF-8 and lone surrogates, which V8 writes for JS strings
    // holding them; both become U+FFFD in names.
    let lenient = doc
        .replacen("\"hello", "\"hel\\ud800lo", 1)
        .into_bytes()
        .into_iter()
        .flat_map(|b| if b == b'O' { vec![b'O', 0xff] } else { vec![b] })
        .collect::<Vec<u8>>();
    let s = parse_chunked(&lenient, 3, true).unwrap();
    assert_eq!(s.node_name(1), "O\u{fffd}bj");
    assert!(
        s.node_name(2).starts_with("hel\u{fffd}lo"),
        "{}",
        s.node_name(2)
    );
}

/// A header announcing more nodes or edges than the file can hold is refused before anything is
/// allocated for them (a plain file's size bounds it, a gzip file's times deflate's 1032:1).
#[test]
fn impossible_counts_are_refused_up_front() {
    let doc = small();
    let dir = std::env::temp_dir().join(format!("heapsnap-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lying.heapsnapshot");
    for (from, to, want) in [
        (
            "\"node_count\":3",
            "\"node_count\":4000000000",
            "the header announces 4000000000 nodes and 3 edges, which take at least 56000000016 bytes, but only",
        ),
        (
            "\"edge_count\":3",
            "\"edge_count\":100000",
            "the header announces 3 nodes and 100000 edges, which take at least 600040 bytes, but only",
        ),
    ] {
        let bad = doc.replacen(from, to, 1);
        std::fs::write(&path, &bad).unwrap();
        for keep in [false, true] {
            let e = parse_file(&path, ParseOptions { keep_edges: keep, devtools_edges: false }, &mut |_, _| {})
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
        // Streamed input has no size to compare with: the counts are checked at the end.
        let e = parse_chunked(bad.as_bytes(), 64, false).unwrap_err().to_string();
        assert!(e.contains("but the `nodes` array holds") || e.contains("but the `edges` array holds"), "{e}");
    }
    let e = err(&doc.replacen("\"node_count\":3", "\"node_count\":4294967296", 1));
    assert_eq!(
        e,
        "unsupported heap snapshot: snapshot.node_count is 4294967296; at most 4294967295 nodes are supported"
    );
    let e = err(&doc.replacen("\"edge_count\":3", "\"edge_count\":4294967296", 1));
    assert!(
        e.contains("keeping edges supports at most 4294967295"),
        "{e}"
    );
    // A gzip file: 1032 bytes of document per compressed byte at most.
    let gz = dir.join("lying.heapsnapshot.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(
        &mut enc,
        doc.replacen("\"node_count\":3", "\"node_count\":900000000", 1)
            .as_bytes(),
    )
    .unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let e = parse_file(&gz, ParseOptions::default(), &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("the header announces 900000000 nodes"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A string kept as a name is limited (V8 writes at most 1024 characters of one by default);
/// a string nobody references may be any length.
#[test]
fn kept_strings_are_limited() {
    let doc = small();
    let huge = "y".repeat(65 << 20);
    let named = doc.replacen("\"Obj\"", &format!("\"{huge}\""), 1);
    let e = parse_chunked(named.as_bytes(), 1 << 20, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("longer than 64 MiB, the longest name heapdiff keeps"),
        "{e}"
    );
    let unnamed = doc.replacen("\"<dummy>\"", &format!("\"{huge}\""), 1);
    parse_chunked(unnamed.as_bytes(), 1 << 20, false).unwrap();
}
