//! The graph analyses on whatever the parser accepts: the diff of the snapshot with itself and
//! with its first half of nodes, dominators and retained sizes, shortest retaining paths, the
//! top-retainers report and the three-snapshot survivors. Never a panic; a few invariants.
#![no_main]

use heapsnap::{
    diff, find_survivors, top_retainer_report, DiffOptions, DominatorTree, ParseOptions,
    ShortestPaths, SnapshotParser, SurvivorOptions, TopRetainerOptions,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut p = SnapshotParser::new(ParseOptions { keep_edges: true, devtools_edges: false });
    if p.feed(data).is_err() {
        return;
    }
    let Ok(s) = p.finish() else {
        return;
    };
    let d = diff(&s, &s, &DiffOptions::default());
    assert_eq!((d.allocated_nodes, d.freed_nodes), (0, 0));
    if let Ok(dom) = DominatorTree::compute(&s) {
        let mut reachable_self = 0u64;
        for i in 0..s.node_count() {
            if dom.is_reachable(i) {
                reachable_self += s.self_size(i);
                assert!(dom.retained_size(i) >= s.self_size(i));
            }
        }
        if s.node_count() > 0 && dom.is_reachable(0) {
            assert_eq!(dom.retained_size(0), reachable_self);
        }
    }
    if let Ok(paths) = ShortestPaths::compute(&s) {
        for i in 0..s.node_count().min(64) {
            let _ = paths.path_text(&s, i);
        }
        let targets: Vec<u32> = (0..s.node_count().min(64) as u32).collect();
        let _ = paths.group(&s, &targets, 5);
    }
    let _ = top_retainer_report(&s, &TopRetainerOptions::default());
    let _ = find_survivors(&s, &s, &s, &SurvivorOptions::default());
});
