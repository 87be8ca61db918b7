//! One-snapshot questions (`summarize`, `inspect_object`, `class_retainers`) against a naive
//! reference on small random graphs: dominance by deleting a node and seeing what becomes
//! unreachable, retained size as what that deletion frees, retainers as every edge in.

mod common;

use common::*;
use heapsnap::{class_retainers, inspect_object, object_retainers, summarize, Grouping};

const CLASSES: [&str; 3] = ["Alpha", "Beta", "Gamma"];

/// A random graph: the synthetic root holds a few objects by element edges; objects hold each
/// other by property edges, some weak (which retain nothing).
fn graph(seed: u64, size: usize) -> Vec<N> {
    let mut rng = XorShift(seed);
    let mut v = vec![n("synthetic", "", 1, 0)];
    for k in 0..size {
        let class = CLASSES[rng.below(CLASSES.len())];
        v.push(n(
            "object",
            class,
            3 + 2 * k as u64,
            8 + rng.below(100) as u64,
        ));
    }
    for k in 0..3 {
        let to = 1 + rng.below(size);
        v[0].edges.push(elem(k, to));
    }
    const NAMES: [&str; 4] = ["a", "b", "c", "d"];
    for node in v.iter_mut().skip(1) {
        for _ in 0..rng.below(3) {
            let to = 1 + rng.below(size);
            let ty = if rng.below(5) == 0 {
                "weak"
            } else {
                "property"
            };
            node.edges.push(E {
                ty,
                name: EdgeName::Str(NAMES[rng.below(NAMES.len())]),
                to,
            });
        }
    }
    v
}

/// A class's retained size as DevTools counts it: the instances no other instance of the class
/// dominates, each with what deleting it alone frees.
fn class_retained(nodes: &[N], class: &str) -> u64 {
    let members: Vec<usize> = (1..nodes.len())
        .filter(|&i| nodes[i].name == class)
        .collect();
    members
        .iter()
        .filter(|&&i| !members.iter().any(|&d| dominates(nodes, d, i)))
        .map(|&i| freed(nodes, &[i]))
        .sum()
}

fn parsed(nodes: &[N]) -> heapsnap::Snapshot {
    parse(&build(Layout::Node24, nodes)).expect("valid synthetic snapshot")
}

#[test]
fn summary_counts_sizes_and_retained_sizes_as_the_reference() {
    for seed in 1..40 {
        let nodes = graph(seed, 12);
        let snap = parsed(&nodes);
        let s = summarize(&snap, Grouping::Classic, 10).unwrap();
        assert_eq!(s.node_count, nodes.len() as u64);
        assert_eq!(
            s.edge_count,
            nodes.iter().map(|v| v.edges.len() as u64).sum::<u64>()
        );
        assert_eq!(s.total_size, nodes.iter().map(|v| v.size).sum::<u64>());
        for c in &s.by_count {
            let members: Vec<&N> = nodes.iter().filter(|v| v.name == c.what).collect();
            assert_eq!(c.count, members.len() as u64, "seed {seed} {}", c.what);
            assert_eq!(c.self_size, members.iter().map(|v| v.size).sum::<u64>());
            assert_eq!(
                c.retained_size,
                class_retained(&nodes, &c.what),
                "seed {seed} {}",
                c.what
            );
        }
        // Both lists hold every class here (three, top 10), in their own order.
        assert_eq!(s.by_count.len() as u64, s.class_count);
        assert!(s.by_count.windows(2).all(|w| w[0].count >= w[1].count));
        assert!(s
            .by_retained_size
            .windows(2)
            .all(|w| w[0].retained_size >= w[1].retained_size));
        let top1 = summarize(&snap, Grouping::Classic, 1).unwrap();
        assert_eq!(top1.by_count, s.by_count[..1]);
    }
}

#[test]
fn an_object_shows_its_edges_its_retainers_and_what_it_retains() {
    for seed in 1..40 {
        let nodes = graph(seed, 12);
        let snap = parsed(&nodes);
        for (i, node) in nodes.iter().enumerate().skip(1) {
            let view = inspect_object(&snap, node.id, 100).unwrap().unwrap();
            assert_eq!(view.node.id, node.id);
            assert_eq!(view.node.what, node.name);
            assert_eq!(view.edge_count, node.edges.len() as u64);
            let outs: Vec<(u64, &str)> =
                node.edges.iter().map(|e| (nodes[e.to].id, e.ty)).collect();
            let got: Vec<(u64, &str)> = view
                .edges
                .iter()
                .map(|e| (e.node.id, e.edge_type.as_str()))
                .collect();
            assert_eq!(got, outs, "seed {seed} node {i}");
            let into: usize = nodes
                .iter()
                .map(|v| v.edges.iter().filter(|e| e.to == i).count())
                .sum();
            assert_eq!(view.retainer_count, into as u64);
            assert_eq!(view.retainers.len(), into);
            // Retaining edges are listed first.
            assert!(view
                .retainers
                .windows(2)
                .all(|w| w[0].retains || !w[1].retains));
            let alive = reachable(&nodes, &[])[i];
            let want = if alive { freed(&nodes, &[i]) } else { 0 };
            assert_eq!(view.retained_size, want, "seed {seed} node {i}");
            assert_eq!(view.path.is_empty(), !alive);
            // Cut at a limit, with the totals kept.
            let short = inspect_object(&snap, node.id, 1).unwrap().unwrap();
            assert!(short.edges.len() <= 1 && short.retainers.len() <= 1);
            assert_eq!(
                (short.edge_count, short.retainer_count),
                (view.edge_count, view.retainer_count)
            );
        }
        assert!(inspect_object(&snap, 999_999, 10).unwrap().is_none());
    }
}

#[test]
fn a_class_retainers_count_its_reachable_instances_and_group_their_paths() {
    for seed in 1..40 {
        let nodes = graph(seed, 12);
        let snap = parsed(&nodes);
        for class in CLASSES {
            let members: Vec<usize> = (1..nodes.len())
                .filter(|&i| nodes[i].name == class)
                .collect();
            let Some(r) = class_retainers(&snap, Grouping::Classic, class, 100).unwrap() else {
                assert!(members.is_empty());
                continue;
            };
            assert_eq!(r.count, members.len() as u64);
            assert_eq!(
                r.retained_size,
                class_retained(&nodes, class),
                "seed {seed} {class}"
            );
            let alive = reachable(&nodes, &[]);
            let paths: u64 = r.paths.iter().map(|g| g.count).sum();
            assert_eq!(paths, members.iter().filter(|&&i| alive[i]).count() as u64);
            assert_eq!(r.paths_left_out, 0);
            if r.paths.len() > 1 {
                let one = class_retainers(&snap, Grouping::Classic, class, 1)
                    .unwrap()
                    .unwrap();
                assert_eq!(one.paths.len(), 1);
                assert_eq!(one.paths_left_out, r.paths.len() as u64 - 1);
            }
        }
        assert!(class_retainers(&snap, Grouping::Classic, "Nope", 5)
            .unwrap()
            .is_none());
        let first = &nodes[nodes[0].edges[0].to];
        let one = object_retainers(&snap, first.id).unwrap().unwrap();
        assert_eq!((one.count, one.paths.len()), (1, 1));
        assert_eq!(one.paths[0].steps.last().unwrap().id, first.id);
    }
}
