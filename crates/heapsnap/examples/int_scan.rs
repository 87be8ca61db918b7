//! The floor for reading snapshots: one pass over the given files that parses every decimal
//! integer in them (every run of ASCII digits, wherever it is) and does nothing else with it.
//!
//!     cargo run --release --example int_scan -- FILE...
//!
//! The benchmark sets heapdiff's times against this. It reads sequentially on one thread in
//! large pieces, and the digit loop is the plainest fast form: no per-number branching beyond
//! "digit or not", no allocation, a sum and a count so the work cannot be optimised away.
//! Prints one JSON line like the benchmark's other tools: wall ms, peak RSS in MB, the count of
//! integers and their sum.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::time::Instant;

/// Large enough that syscall overhead vanishes, small enough to stay in L2/L3.
const PIECE: usize = 1 << 20;

#[derive(Default)]
struct Scan {
    /// The number being read; carries across pieces.
    cur: u64,
    in_number: bool,
    count: u64,
    sum: u64,
}

impl Scan {
    #[inline(always)]
    fn feed(&mut self, buf: &[u8]) {
        let (mut cur, mut in_number, mut count, mut sum) =
            (self.cur, self.in_number, self.count, self.sum);
        for &b in buf {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                cur = cur.wrapping_mul(10).wrapping_add(u64::from(d));
                in_number = true;
            } else if in_number {
                sum = sum.wrapping_add(cur);
                count += 1;
                cur = 0;
                in_number = false;
            }
        }
        (self.cur, self.in_number, self.count, self.sum) = (cur, in_number, count, sum);
    }

    /// Ends the current file: a number running up to its end counts too.
    fn end_file(&mut self) {
        self.feed(b" ");
    }
}

/// Peak resident set size in MB, from `/proc/self/status` (Linux; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> std::io::Result<()> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: int_scan FILE...");
        std::process::exit(2);
    }
    let start = Instant::now();
    let mut buf = vec![0u8; PIECE];
    let mut scan = Scan::default();
    let mut bytes = 0u64;
    for path in &files {
        let mut f = File::open(path)?;
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            bytes += n as u64;
            scan.feed(&buf[..n]);
        }
        scan.end_file();
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{{\"ms\":{ms:.1},\"rssMb\":{:.1},\"bytes\":{bytes},\"ints\":{},\"sum\":{}}}",
        peak_rss_mb(),
        scan.count,
        scan.sum
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_numbers_across_piece_boundaries() {
        let text = b"[12,3,\n45]\"a7b\"x99";
        for split in 0..=text.len() {
            let mut s = Scan::default();
            s.feed(&text[..split]);
            s.feed(&text[split..]);
            s.end_file();
            assert_eq!((s.count, s.sum), (5, 12 + 3 + 45 + 7 + 99), "split {split}");
        }
    }
}
