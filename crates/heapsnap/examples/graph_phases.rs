//! Time and memory of each graph phase on one snapshot file, for tuning the analyses:
//! `cargo run --release -p heapsnap --example graph_phases -- FILE`.

use std::time::Instant;

use heapsnap::{parse_file, ParseOptions};
use heapsnap::{DominatorTree, ShortestPaths};

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: graph_phases FILE");
    let t = Instant::now();
    let report = |phase: &str| {
        println!(
            "{phase:<12} {:>7.2} s  rss {:>7.0} MB  peak {:>7.0} MB",
            t.elapsed().as_secs_f64(),
            rss_mb("VmRSS:"),
            rss_mb("VmHWM:")
        )
    };
    let snap = parse_file(
        std::path::Path::new(&path),
        ParseOptions {
            keep_edges: true,
            devtools_edges: false,
        },
        &mut |_, _| {},
    )
    .expect("parse");
    println!(
        "{} nodes, {} edges, tables {} MB",
        snap.node_count(),
        snap.edge_count(),
        snap.heap_bytes_estimate() >> 20
    );
    report("parsed");
    let paths = ShortestPaths::compute(&snap).expect("paths");
    report("paths");
    drop(paths);
    let dom = DominatorTree::compute(&snap).expect("dominators");
    report("dominators");
    println!("reachable {}", dom.reachable_count());
}
