//! Gzip-compressed snapshot files: read like plain ones, and damage is reported in terms of the
//! file the user has.

mod common;

use std::io::Write;
use std::path::PathBuf;

use common::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use heapsnap::{parse_file, ParseError, ParseOptions, Snapshot};

fn doc() -> String {
    let mut rng = XorShift(0x05ee_d0f9_a1b3);
    let mut nodes = vec![n("synthetic", "", 1, 0)];
    // Enough nodes that the compressed file spans many inflater reads.
    for k in 0..20_000usize {
        let mut o = n(
            "object",
            if k % 3 == 0 { "Widget" } else { "Gadget" },
            3 + 2 * k as u64,
            32,
        );
        if k > 0 {
            o.edges = vec![prop("next", 1 + rng.below(k))];
        }
        nodes.push(o);
    }
    nodes[0].edges = vec![prop("first", 1)];
    build(Layout::Node24, &nodes)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A file in the temp directory, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let p = std::env::temp_dir().join(format!("heapsnap-gz-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn read(t: &Temp, keep_edges: bool) -> Result<Snapshot, ParseError> {
    parse_file(
        &t.0,
        ParseOptions {
            keep_edges,
            devtools_edges: false,
        },
        &mut |_, _| {},
    )
}

#[test]
fn a_gzip_file_reads_exactly_like_the_plain_one() {
    let doc = doc();
    let plain = Temp::new("plain.heapsnapshot", doc.as_bytes());
    let packed = gzip(doc.as_bytes());
    assert!(
        packed.len() * 2 < doc.len(),
        "the test data should compress"
    );
    // The name says nothing: the magic bytes decide.
    let gz = Temp::new("renamed.heapsnapshot", &packed);
    for keep_edges in [false, true] {
        let a = read(&plain, keep_edges).unwrap();
        let b = read(&gz, keep_edges).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b), "keep_edges {keep_edges}");
    }
}

#[test]
fn multi_member_files_are_read_to_the_end() {
    // `cat head.gz tail.gz` (and pigz's output) is one file of several gzip members.
    let doc = doc();
    let cut = doc.len() / 3;
    let mut packed = gzip(&doc.as_bytes()[..cut]);
    packed.extend(gzip(&doc.as_bytes()[cut..]));
    let gz = Temp::new("members.heapsnapshot.gz", &packed);
    let want = fingerprint(&parse(&doc).unwrap());
    assert_eq!(fingerprint(&read(&gz, true).unwrap()), want);
}

#[test]
fn progress_counts_bytes_of_the_file() {
    let packed = gzip(doc().as_bytes());
    let gz = Temp::new("progress.heapsnapshot.gz", &packed);
    let mut seen = Vec::new();
    parse_file(&gz.0, ParseOptions::default(), &mut |a, b| {
        seen.push((a, b))
    })
    .unwrap();
    let total = packed.len() as u64;
    assert!(seen.iter().all(|&(a, b)| b == total && a <= total));
    assert_eq!(seen.last().map(|s| s.0), Some(total));
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn a_cut_gzip_file_is_reported_truncated_at_its_end() {
    let packed = gzip(doc().as_bytes());
    for cut in [packed.len() - 1, packed.len() - 9, packed.len() / 2, 11] {
        let gz = Temp::new("cut.heapsnapshot.gz", &packed[..cut]);
        let e = read(&gz, false).unwrap_err();
        assert!(
            matches!(e, ParseError::Truncated { offset, .. } if offset == cut as u64),
            "cut at {cut}: {e}"
        );
        assert_eq!(
            e.to_string(),
            format!("truncated heap snapshot: input ended inside the gzip data at byte {cut}")
        );
    }
}

#[test]
fn damaged_gzip_data_is_reported_never_a_panic() {
    let packed = gzip(doc().as_bytes());
    let mut rng = XorShift(77);
    let mut damaged = 0;
    for round in 0..60 {
        let mut bad = packed.clone();
        // Past the 10-byte header, so the file still looks like gzip.
        let at = 10 + rng.below(bad.len() - 10);
        bad[at] ^= 1 << (round % 8);
        let gz = Temp::new("damaged.heapsnapshot.gz", &bad);
        // A flipped bit almost always breaks the deflate stream or the CRC; either way the
        // answer is an error, not a snapshot with different content.
        match read(&gz, false) {
            Err(e) => {
                damaged += 1;
                let text = e.to_string();
                // Named as damage to the compression, even where the JSON broke first.
                assert!(
                    text.contains("the gzip data is damaged")
                        || text.contains("inside the gzip data"),
                    "round {round}, byte {at}: {text}"
                );
            }
            Ok(_) => panic!("round {round}: damage at byte {at} went unnoticed"),
        }
    }
    assert_eq!(damaged, 60);
}

#[test]
fn problems_in_the_inflated_json_say_where_they_count() {
    let doc = doc();
    let cut = doc.find("\"edges\":[").unwrap() + 20;
    let gz = Temp::new("json-cut.heapsnapshot.gz", &gzip(&doc.as_bytes()[..cut]));
    let e = read(&gz, false).unwrap_err();
    assert_eq!(e.offset(), Some(cut as u64));
    assert_eq!(
        e.to_string(),
        format!(
            "truncated heap snapshot: input ended inside the `edges` array at byte {cut} \
             (byte offsets count the gzip file's inflated data)"
        )
    );

    let foreign = Temp::new("foreign.json.gz", &gzip(br#"{"name": "not a snapshot"}"#));
    assert!(read(&foreign, false)
        .unwrap_err()
        .to_string()
        .starts_with("not a V8 heap snapshot"));

    let empty = Temp::new("empty.gz", &gzip(b""));
    assert!(read(&empty, false)
        .unwrap_err()
        .to_string()
        .contains("empty"));
}

#[test]
fn one_byte_that_looks_like_gzip_is_not_taken_for_it() {
    let t = Temp::new("one-byte", &[0x1f]);
    let e = read(&t, false).unwrap_err();
    assert!(matches!(e, ParseError::NotASnapshot { .. }), "{e}");
}
