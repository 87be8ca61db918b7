//! Time to parse and summarize a saved live profile (JSON): `cargo run --release --example
//! live_cost -- profile.json [interval]`. Each figure is per call, over 11 batches of 50 calls:
//! the median batch and the fastest (on a shared machine the fastest is the least disturbed).
use std::time::Instant;

/// Median and minimum µs per call of `f` over 11 batches of 50 calls.
fn time(mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut batches: Vec<f64> = (0..11)
        .map(|b| {
            let t = Instant::now();
            for i in 0..50 {
                f(b * 50 + i);
            }
            t.elapsed().as_secs_f64() / 50.0 * 1e6
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    (batches[5], batches[0])
}

fn main() {
    let mut args = std::env::args().skip(1);
    let text = std::fs::read_to_string(args.next().expect("a profile JSON file")).unwrap();
    let interval: f64 = args.next().map_or(524288.0, |s| s.parse().unwrap());
    let (parse, parse_min) = time(|_| {
        std::hint::black_box(heapprof::live::parse_json(&text).unwrap());
    });
    let p = heapprof::live::parse_json(&text).unwrap();
    let mut r = heapprof::live::SiteRecorder::new(Vec::new(), 10);
    let (summarize, summarize_min) = time(|i| r.observe(&p, interval, i as f64));
    println!(
        "parse {parse:.0} us (fastest batch {parse_min:.0}), summarize {summarize:.0} us \
         (fastest batch {summarize_min:.0}); {} nodes, {} samples, {} bytes",
        p.nodes.len(),
        p.samples.len(),
        text.len()
    );
}
