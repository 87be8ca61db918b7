//! Measures parse throughput and table size for a snapshot file:
//!
//!     cargo run --release --example parse_file -- FILE.heapsnapshot [--edges] [--diff OTHER]
//!
//! With `--diff OTHER`, also parses OTHER and times a classic diff of FILE (before) to OTHER.
//! With `--repeat N`, parses FILE N times and prints the fastest parse, the figure that moves
//! least on a shared machine (for comparing two builds of the parser).
//!
//! A pair of ~600 MB snapshots (7.5M nodes each) for measuring, from one Node process:
//!
//!     node --max-old-space-size=8000 -e "const v8 = require('v8'); class Rec { constructor(i) {
//!       this.id = i; this.name = 'rec' + i; this.tags = [i, i + 1]; this.child = { v: i }; } }
//!       const keep = []; for (let i = 0; i < 1.5e6; i++) keep.push(new Rec(i));
//!       v8.writeHeapSnapshot('a.heapsnapshot'); for (let i = 0; i < 1.5e5; i++) keep.push(new Rec(i));
//!       keep.splice(0, 75000); v8.writeHeapSnapshot('b.heapsnapshot');"

use std::path::{Path, PathBuf};
use std::time::Instant;

use heapsnap::{diff, parse_file, DiffOptions, ParseOptions, Snapshot};

fn load(path: &Path, opts: ParseOptions) -> Snapshot {
    let start = Instant::now();
    let mut size = 0;
    let snap = parse_file(path, opts, &mut |_, total| size = total).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}: {:.1} MB in {:.3} s = {:.0} MB/s; {} nodes, {} edges; tables {:.1} MB ({:.1} bytes/node)",
        path.display(),
        size as f64 / 1e6,
        secs,
        size as f64 / 1e6 / secs,
        snap.node_count(),
        snap.edge_count(),
        snap.heap_bytes_estimate() as f64 / 1e6,
        snap.heap_bytes_estimate() as f64 / snap.node_count().max(1) as f64,
    );
    snap
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut other = None;
    let mut opts = ParseOptions::default();
    let mut repeat = 1usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--edges" => opts.keep_edges = true,
            "--repeat" => repeat = args.next().and_then(|n| n.parse().ok()).unwrap_or(1),
            "--diff" => other = args.next().map(PathBuf::from),
            _ => file = Some(PathBuf::from(a)),
        }
    }
    let Some(file) = file else {
        eprintln!("usage: parse_file FILE.heapsnapshot [--edges] [--diff OTHER] [--repeat N]");
        std::process::exit(2);
    };
    let mut fastest = f64::INFINITY;
    for _ in 1..repeat {
        let start = Instant::now();
        drop(load(&file, opts));
        fastest = fastest.min(start.elapsed().as_secs_f64());
    }
    let start = Instant::now();
    let before = load(&file, opts);
    if repeat > 1 {
        fastest = fastest.min(start.elapsed().as_secs_f64());
        println!("fastest of {repeat} parses: {fastest:.4} s");
    }
    if let Some(other) = other {
        let after = load(&other, opts);
        let start = Instant::now();
        let d = diff(&before, &after, &DiffOptions::default());
        println!(
            "diff: {:.3} s; +{} -{} nodes, {} bytes, {} classes",
            start.elapsed().as_secs_f64(),
            d.allocated_nodes,
            d.freed_nodes,
            d.size_bytes,
            d.details.len()
        );
        for row in d
            .details
            .iter()
            .filter(|r| r.allocated + r.freed > 1000)
            .take(20)
        {
            println!(
                "  {:<40} +{:<8} -{:<8} {:>12} bytes",
                row.what, row.allocated, row.freed, row.size_bytes
            );
        }
    }
}
