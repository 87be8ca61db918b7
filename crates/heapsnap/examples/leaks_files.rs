//! Time and peak memory of the three-snapshot report on files, as `heapdiff leaks` runs it, for
//! comparing builds side by side:
//! `cargo run --release -p heapsnap --example leaks_files -- S1 S2 S3 [ROUNDS]`.

use std::path::Path;
use std::time::Instant;

use heapsnap::{find_survivors_in_files, Grouping, Progress, SurvivorOptions};

fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: leaks_files S1 S2 S3 [ROUNDS]");
        std::process::exit(2);
    }
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1);
    let opts = SurvivorOptions {
        grouping: Grouping::DevTools,
        ..SurvivorOptions::default()
    };
    for _ in 0..rounds {
        let progress: [Progress; 3] = Default::default();
        let t = Instant::now();
        let r = find_survivors_in_files(
            [
                Path::new(&args[0]),
                Path::new(&args[1]),
                Path::new(&args[2]),
            ],
            &opts,
            &progress,
        )
        .expect("analysis");
        let first = r.classes.first().map_or("-", |c| c.what.as_str());
        println!(
            "{:.3} s  peak {:.0} MB  {} survivors, {} classes, first {first}",
            t.elapsed().as_secs_f64(),
            peak_mb(),
            r.leaked,
            r.classes.len()
        );
    }
}
