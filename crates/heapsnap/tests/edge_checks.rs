//! Every edge and node value is checked whatever the parse keeps: a plain diff reads the `edges`
//! array through a batched fast path, and a corrupt value there must be rejected with the same
//! message as when edges are kept (`--retainers`, `top`, `leaks`), in any chunking and in gzip.

mod common;

use std::io::Write;

use common::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use heapsnap::{parse_file, ParseOptions};

/// Enough nodes and edges that the `edges` array spans many 64-byte windows, so that damage in
/// its middle meets the batched path, not only the one-number-at-a-time one.
fn nodes(layout: Layout) -> (String, usize, usize) {
    let mut rng = XorShift(0x0ed9_e5ca_7e00);
    let count = 400usize;
    let mut nodes = vec![n("synthetic", "", 1, 0)];
    nodes[0].edges = (1..count).map(|i| elem(i as u32, i)).collect();
    for i in 1..count {
        let mut o = n("object", "Obj", 1 + 2 * i as u64, 16 + i as u64);
        o.edges = vec![
            prop("next", 1 + rng.below(count - 1)),
            elem(1000 * i as u32, rng.below(count)),
            prop("other", rng.below(count)),
        ];
        nodes.push(o);
    }
    let width = if layout == Layout::Node20 { 7 } else { 6 };
    (build(layout, &nodes), count, width)
}

/// The `[start, end)` byte range of a top-level array's contents.
fn array(doc: &str, key: &str) -> (usize, usize) {
    let start = doc.find(&format!("\"{key}\":[")).unwrap() + key.len() + 4;
    let end = start + doc[start..].find(']').unwrap();
    (start, end)
}

/// `doc` with number `k` of a top-level integer array replaced by `value`.
fn with_number(doc: &str, key: &str, k: usize, value: &str) -> String {
    let (start, end) = array(doc, key);
    let mut numbers: Vec<&str> = doc[start..end].split(',').collect();
    let old = numbers[k];
    // Keep V8's `\n` before the comma (it belongs to the previous number's text).
    let replaced = if old.ends_with('\n') {
        format!("{value}\n")
    } else {
        value.to_string()
    };
    numbers[k] = &replaced;
    format!("{}{}{}", &doc[..start], numbers.join(","), &doc[end..])
}

fn number(doc: &str, key: &str, k: usize) -> u64 {
    let (start, end) = array(doc, key);
    doc[start..end]
        .split(',')
        .nth(k)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Parses `doc` every way a command does: edges kept or not, in pieces of several sizes, and as
/// a gzip file. All must fail with one message (up to the gzip note), which is returned.
fn rejected(doc: &str) -> String {
    let kept = parse_chunked(doc.as_bytes(), 1 << 20, true)
        .err()
        .unwrap_or_else(|| panic!("the kept-edges parse accepted a corrupt file"))
        .to_string();
    for chunk in [1 << 20, 65_536, 4096, 100, 7] {
        for keep in [false, true] {
            let e = parse_chunked(doc.as_bytes(), chunk, keep)
                .err()
                .unwrap_or_else(|| panic!("keep_edges={keep}, pieces of {chunk}: accepted"))
                .to_string();
            assert_eq!(e, kept, "keep_edges={keep}, pieces of {chunk}");
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "heapsnap-edge-checks-{}-{:x}",
        std::process::id(),
        doc.len() ^ (kept.len() << 32)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("damaged.heapsnapshot.gz");
    std::fs::write(&path, gzip(doc.as_bytes())).unwrap();
    for keep in [false, true] {
        let e = parse_file(
            &path,
            ParseOptions {
                keep_edges: keep,
                devtools_edges: false,
            },
            &mut |_, _| {},
        )
        .err()
        .unwrap_or_else(|| panic!("gzip, keep_edges={keep}: accepted"))
        .to_string();
        let noted = format!("{kept} (byte offsets count the gzip file's inflated data)");
        assert!(e == kept || e == noted, "gzip: {e} / {kept}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    kept
}

#[test]
fn the_documents_are_valid_every_way() {
    for layout in [Layout::Node20, Layout::Node24] {
        let (doc, count, _) = nodes(layout);
        for chunk in [1 << 20, 4096, 7] {
            for keep in [false, true] {
                let s = parse_chunked(doc.as_bytes(), chunk, keep).unwrap();
                assert_eq!((s.node_count(), s.edge_count()), (count, 4 * (count - 1)));
            }
        }
    }
}

/// Edge `k` (of the middle of the array) with field `field` (0 type, 1 name_or_index,
/// 2 to_node) set to `value`.
fn edge(doc: &str, k: usize, field: usize, value: &str) -> String {
    with_number(doc, "edges", 3 * k + field, value)
}

#[test]
fn targets_past_the_last_node_or_between_nodes() {
    for layout in [Layout::Node20, Layout::Node24] {
        let (doc, count, width) = nodes(layout);
        let k = 700; // an element edge of an object, deep in the array
        let to = number(&doc, "edges", 3 * k + 2);
        let e = rejected(&edge(&doc, k, 2, &(to + 1).to_string()));
        assert!(
            e.contains(&format!(
                "edge #{k} has to_node {}, which is not a multiple of the node field count {width}",
                to + 1
            )),
            "{e}"
        );
        for past in [
            count as u64,
            count as u64 + 1,
            1 << 32,
            (1 << 32) + 1,
            1 << 53,
            (1 << 53) + 3,
            999_999_999_999_999_999 / width as u64,
        ] {
            let e = rejected(&edge(&doc, k, 2, &(past * width as u64).to_string()));
            assert!(
                e.contains(&format!(
                    "edge #{k} points to node #{past}, but snapshot.node_count is {count}"
                )),
                "{past}: {e}"
            );
        }
        // Not a multiple and far past the end: the multiple is checked first.
        let e = rejected(&edge(&doc, k, 2, "9007199254740993"));
        assert!(
            e.contains("to_node 9007199254740993, which is not a multiple"),
            "{e}"
        );
        let e = rejected(&edge(&doc, k, 2, "12345678901234567890"));
        assert!(e.contains("number too large"), "{e}");
    }
}

#[test]
fn edge_types_outside_the_list() {
    let (doc, _, _) = nodes(Layout::Node24);
    for (k, ty) in [
        (5, "7"),
        (700, "7"),
        (701, "255"),
        (702, "4294967296"),
        (1100, "9007199254740993"),
    ] {
        let e = rejected(&edge(&doc, k, 0, ty));
        assert!(
            e.contains(&format!(
                "edge #{k} has type index {ty}, but meta.edge_types[0] lists only 7 types"
            )),
            "{e}"
        );
    }
}

#[test]
fn names_of_named_edges_outside_the_strings() {
    let (doc, _, _) = nodes(Layout::Node20);
    // The strings array holds the dummy, "", "Obj", "next", "other": 5 strings.
    let strings = 5;
    let k = 699;
    assert_eq!(number(&doc, "edges", 3 * k), 2, "a property edge");
    for name in [strings, strings + 1, 65_536, u64::from(u32::MAX)] {
        let e = rejected(&edge(&doc, k, 1, &name.to_string()));
        assert_eq!(
            e,
            format!(
                "corrupt heap snapshot: string index out of range: edge #{k} is named by string \
                 #{name}, but the `strings` array holds {strings} strings"
            )
        );
    }
    for name in [1u64 << 32, (1 << 53) + 1, 9_999_999_999_999_999_999] {
        let e = rejected(&edge(&doc, k, 1, &name.to_string()));
        assert!(
            e.contains(&format!("edge #{k} has name_or_index {name} (overflow)")),
            "{e}"
        );
    }
    // Element edges carry an index, not a string: any u32 is fine, more is not.
    let el = 700;
    assert_eq!(number(&doc, "edges", 3 * el), 1, "an element edge");
    let ok = edge(&doc, el, 1, &u32::MAX.to_string());
    for keep in [false, true] {
        parse_chunked(ok.as_bytes(), 4096, keep).unwrap();
    }
    let e = rejected(&edge(&doc, el, 1, "4294967296"));
    assert!(
        e.contains(&format!(
            "edge #{el} has name_or_index 4294967296 (overflow)"
        )),
        "{e}"
    );
}

#[test]
fn node_fields_out_of_range() {
    let (doc, count, width) = nodes(Layout::Node24);
    let node = 250;
    let field = |f: usize| width * node + f; // type, name, id, self_size, edge_count, ...
    let e = rejected(&with_number(&doc, "nodes", field(0), "15"));
    assert!(
        e.contains(&format!(
            "node #{node} has type index 15, but meta.node_types[0] lists only 15 types"
        )),
        "{e}"
    );
    let e = rejected(&with_number(&doc, "nodes", field(0), "9999999999999999999"));
    assert!(e.contains("type index 9999999999999999999"), "{e}");
    let e = rejected(&with_number(&doc, "nodes", field(1), "5"));
    assert_eq!(
        e,
        "corrupt heap snapshot: string index out of range: a node name refers to string #5, \
         but the `strings` array holds 5 strings"
    );
    let e = rejected(&with_number(&doc, "nodes", field(1), "4294967296"));
    assert!(
        e.contains(&format!(
            "node #{node} has name index 4294967296 (overflow)"
        )),
        "{e}"
    );
    // One edge more or fewer than the edges array holds, or a count past u32.
    let edges = 4 * (count - 1);
    for (value, sum) in [("4", edges + 1), ("2", edges - 1), ("0", edges - 3)] {
        let e = rejected(&with_number(&doc, "nodes", field(4), value));
        assert_eq!(
            e,
            format!(
                "corrupt heap snapshot: the nodes' edge_count fields add up to {sum} but the \
                 `edges` array holds {edges} edges"
            )
        );
    }
    let e = rejected(&with_number(&doc, "nodes", field(4), "4294967300"));
    assert!(
        e.contains(&format!(
            "node #{node} has edge_count 4294967300 (overflow)"
        )),
        "{e}"
    );
    // Self sizes are free, but their total must fit 64 bits.
    let big = with_number(&doc, "nodes", field(3), "9999999999999999999");
    parse_chunked(big.as_bytes(), 4096, false).unwrap();
    let e = rejected(&with_number(
        &big,
        "nodes",
        field(3) + width,
        "9999999999999999999",
    ));
    assert!(
        e.contains(&format!(
            "node #{}: total self size overflows 64 bits",
            node + 1
        )),
        "{e}"
    );
}

/// Random damage to single edge values (in and out of range) gets the same verdict and message
/// whether edges are kept or only checked.
#[test]
fn random_edge_values_get_one_verdict() {
    let (doc, count, width) = nodes(Layout::Node24);
    let edges = 4 * (count - 1);
    let mut rng = XorShift(0xbad_ed9e);
    let mut rejected_ = 0;
    for round in 0..400 {
        let k = rng.below(edges);
        let f = rng.below(3);
        let v: u64 = match rng.below(6) {
            0 => rng.below(8) as u64,
            1 => rng.below(count * width + 2) as u64,
            2 => (rng.below(count + 2) * width) as u64,
            3 => 1 << (20 + rng.below(44)),
            4 => rng.below(8) as u64,
            _ => rng.next() >> rng.below(64),
        };
        let bad = edge(&doc, k, f, &v.to_string());
        let kept = parse_chunked(bad.as_bytes(), [4096, 1 << 20, 33][round % 3], true)
            .map(|s| (s.node_count(), s.edge_count()))
            .map_err(|e| e.to_string());
        let checked = parse_chunked(bad.as_bytes(), [1 << 20, 77, 4096][round % 3], false)
            .map(|s| (s.node_count(), s.edge_count()))
            .map_err(|e| e.to_string());
        assert_eq!(kept, checked, "round {round}: edge {k} field {f} = {v}");
        rejected_ += kept.is_err() as usize;
    }
    assert!(rejected_ > 150, "{rejected_}");
}
