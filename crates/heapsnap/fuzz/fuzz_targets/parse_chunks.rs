//! The streaming parser fed one document in pieces of random sizes, with and without kept
//! edges, and gathering DevTools' facts of the edges instead: it must never panic, and every way
//! of feeding must reach the same verdict (the same snapshot or the same message) as one whole
//! piece with edges kept; DevTools' comparison must come out the same from the facts as from all
//! edges. The first two bytes of the input choose the piece sizes; the rest is the document.
#![no_main]

use heapsnap::{diff, DiffOptions, Grouping, ParseOptions, Snapshot, SnapshotParser};
use libfuzzer_sys::fuzz_target;

fn parse(
    doc: &[u8],
    (keep_edges, devtools_edges): (bool, bool),
    mut piece: impl FnMut() -> usize,
) -> Result<Snapshot, String> {
    let mut p = SnapshotParser::new(ParseOptions { keep_edges, devtools_edges });
    let mut at = 0;
    while at < doc.len() {
        let end = (at + piece()).min(doc.len());
        p.feed(&doc[at..end]).map_err(|e| e.to_string())?;
        at = end;
    }
    p.finish().map_err(|e| e.to_string())
}

/// What both parses must agree on; the edge table itself only exists when kept.
fn summary(s: &Snapshot) -> (usize, usize, u64, Vec<(u64, u64, String)>) {
    let nodes = (0..s.node_count())
        .map(|i| (s.node_id(i), s.self_size(i), s.node_name(i).to_owned()))
        .collect();
    (s.node_count(), s.edge_count(), s.total_self_size(), nodes)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, doc) = (u16::from_le_bytes([data[0], data[1]]), &data[2..]);
    let full = parse(doc, (true, false), || usize::MAX);
    let whole = full.as_ref().map(summary).map_err(Clone::clone);
    // Piece sizes from a small generator seeded by the input: 1 to 4096 bytes, often tiny.
    let mut x = u32::from(seed) | 1;
    let pieces = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        1 + (x as usize % if x & 0x100 != 0 { 8 } else { 4096 })
    };
    for keep in [false, true] {
        let split = parse(doc, (keep, false), pieces.clone()).map(|s| summary(&s));
        assert_eq!(split, whole, "keep_edges={keep} in pieces");
    }
    let unsplit = parse(doc, (false, false), || usize::MAX).map(|s| summary(&s));
    assert_eq!(unsplit, whole, "edges not kept");
    let facts = parse(doc, (false, true), pieces);
    assert_eq!(facts.as_ref().map(summary).map_err(Clone::clone), whole, "DevTools' facts");
    if let (Ok(full), Ok(facts)) = (&full, &facts) {
        let opts = DiffOptions {
            grouping: Grouping::DevTools,
            ..Default::default()
        };
        assert_eq!(diff(full, full, &opts), diff(facts, facts, &opts), "DevTools' rows");
        assert_eq!(diff(full, full, &opts), diff(facts, full, &opts), "DevTools' rows");
    }
});
