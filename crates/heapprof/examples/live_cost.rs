//! Time to parse and summarize a saved live profile (JSON): `cargo run --release --example
//! live_cost -- profile.json [interval]`.
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let text = std::fs::read_to_string(args.next().expect("a profile JSON file")).unwrap();
    let interval: f64 = args.next().map_or(524288.0, |s| s.parse().unwrap());
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(heapprof::live::parse_json(&text).unwrap());
    }
    let parse = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    let p = heapprof::live::parse_json(&text).unwrap();
    let mut r = heapprof::live::SiteRecorder::new(Vec::new(), 10);
    let t = Instant::now();
    for i in 0..n {
        r.observe(&p, interval, i as f64);
    }
    let summarize = t.elapsed().as_secs_f64() / n as f64 * 1e6;
    println!("parse {parse:.0} us, summarize {summarize:.0} us");
}
