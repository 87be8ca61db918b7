//! The bitset matching and the sorted fallback against a plain model of the diff, on random
//! snapshots whose ids are dense (as V8 writes them), carry far-off native ids, exceed 32 bits,
//! are sparse or repeat, with and without excluded ids.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use common::*;
use heapsnap::{diff_with, Strategy};
use heapsnap::{ClassChange, Diff, DiffOptions, Grouping, Snapshot};

const NAMES: [&str; 5] = ["Order", "Session", "Map", "x", ""];

#[derive(Clone, Copy, Debug)]
enum Ids {
    /// Odd ids below about twice the node count, unique: what V8 writes.
    Dense,
    /// Dense plus a few huge even ids, as V8 gives embedder (native) nodes.
    NativeOutliers,
    /// Some ids above 32 bits.
    Wide,
    /// Ids spread over 40 bits: no bitset fits.
    Sparse,
    /// Dense with repeats (foreign writers).
    Duplicates,
}

fn random_nodes(rng: &mut XorShift, count: usize, ids: Ids, pool: &[u64]) -> Vec<N> {
    let types = ["object", "object", "object", "hidden", "string", "native"];
    (0..count)
        .map(|_| {
            // Half the ids come from the shared pool, so that both snapshots overlap.
            let id = if rng.below(2) == 0 {
                pool[rng.below(pool.len())]
            } else {
                match ids {
                    Ids::Sparse => rng.next() % (1 << 40),
                    Ids::Wide if rng.below(4) == 0 => (1 << 33) + 2 * rng.below(50) as u64 + 1,
                    Ids::NativeOutliers if rng.below(20) == 0 => {
                        (1 << 30) + 2 * rng.below(1 << 20) as u64
                    }
                    _ => 2 * rng.below(count * 2) as u64 + 1,
                }
            };
            n(
                types[rng.below(types.len())],
                NAMES[rng.below(NAMES.len())],
                id,
                rng.below(1000) as u64,
            )
        })
        .collect()
}

/// Makes ids unique (except for `Ids::Duplicates`) by bumping repeats past every id in use.
fn dedup_ids(nodes: &mut [N], ids: Ids) {
    if matches!(ids, Ids::Duplicates) {
        return;
    }
    // Fresh odd ids just above the dense range, so that repeats do not become far-off ids.
    let all: HashSet<u64> = nodes.iter().map(|n| n.id).collect();
    let mut seen = HashSet::new();
    let mut next = 4 * nodes.len() as u64 + 1;
    for node in nodes.iter_mut() {
        if !seen.insert(node.id) {
            while all.contains(&next) || seen.contains(&next) {
                next += 2;
            }
            node.id = next;
            seen.insert(next);
        }
    }
}

/// The classic class of a node straight from its type and name (memwatch's rule), or `None`
/// when left out.
fn classic_class(n: &N) -> Option<String> {
    memwatch::memwatch_what(n.ty, n.name)
}

/// The diff by its definition: per id, the k-th occurrence before (in node order) matches the
/// k-th after, whatever their types; occurrences without a partner are freed or allocated, and
/// count if their type is counted.
fn model(before: &[N], after: &[N], exclude: &[u64]) -> Diff {
    let exclude: HashSet<u64> = exclude.iter().copied().collect();
    let members = |nodes: &[N]| -> Vec<(u64, Option<String>, u64)> {
        nodes
            .iter()
            .filter(|n| !exclude.contains(&n.id))
            .map(|n| (n.id, classic_class(n), n.size))
            .collect()
    };
    let (mb, ma) = (members(before), members(after));
    let count = |m: &[(u64, Option<String>, u64)]| {
        let mut c: HashMap<u64, usize> = HashMap::new();
        for (id, ..) in m {
            *c.entry(*id).or_default() += 1;
        }
        c
    };
    let (cb, ca) = (count(&mb), count(&ma));
    let mut rows: BTreeMap<String, ClassChange> = BTreeMap::new();
    let mut d = Diff::default();
    // Walks one side; occurrences past the other side's count of that id are unmatched.
    let mut side = |m: &[(u64, Option<String>, u64)], other: &HashMap<u64, usize>, freed: bool| {
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for (id, class, size) in m {
            let k = seen.entry(*id).or_default();
            *k += 1;
            let Some(class) = class else {
                continue;
            };
            if *k > other.get(id).copied().unwrap_or(0) {
                let row = rows.entry(class.clone()).or_default();
                row.what = class.clone();
                if freed {
                    row.freed += 1;
                    row.freed_bytes += size;
                    d.freed_nodes += 1;
                } else {
                    row.allocated += 1;
                    row.allocated_bytes += size;
                    d.allocated_nodes += 1;
                }
            }
        }
    };
    side(&mb, &ca, true);
    side(&ma, &cb, false);
    d.details = rows
        .into_values()
        .map(|mut r| {
            r.size_bytes = r.allocated_bytes as i64 - r.freed_bytes as i64;
            r
        })
        .collect();
    let counted = |m: &[(u64, Option<String>, u64)]| {
        let c: Vec<u64> = m.iter().filter(|x| x.1.is_some()).map(|x| x.2).collect();
        (c.len() as u64, c.iter().sum())
    };
    (d.before.nodes, d.before.size_bytes) = counted(&mb);
    (d.after.nodes, d.after.size_bytes) = counted(&ma);
    d.size_bytes = d.after.size_bytes as i64 - d.before.size_bytes as i64;
    d
}

fn both(b: &Snapshot, a: &Snapshot, opts: &DiffOptions) -> [Diff; 2] {
    [
        diff_with(b, a, opts, Strategy::Auto),
        diff_with(b, a, opts, Strategy::Sorted),
    ]
}

#[test]
fn bitsets_and_sorting_agree_with_the_model() {
    let mut rng = XorShift(0x5eed_1234_abcd);
    for round in 0..60 {
        let ids = [
            Ids::Dense,
            Ids::NativeOutliers,
            Ids::Wide,
            Ids::Sparse,
            Ids::Duplicates,
        ][round % 5];
        let count = 1 + rng.below(400);
        let pool: Vec<u64> = (0..1 + count / 2)
            .map(|_| match ids {
                Ids::Sparse => rng.next() % (1 << 40),
                _ => 2 * rng.below(count * 2) as u64 + 1,
            })
            .collect();
        let mut before = random_nodes(&mut rng, count, ids, &pool);
        let after_count = 1 + rng.below(400);
        let mut after = random_nodes(&mut rng, after_count, ids, &pool);
        dedup_ids(&mut before, ids);
        dedup_ids(&mut after, ids);
        let mut exclude: Vec<u64> = (0..rng.below(6))
            .map(|_| {
                let from = if rng.below(2) == 0 { &before } else { &after };
                from[rng.below(from.len())].id
            })
            .collect();
        exclude.push(u64::MAX);
        let layout = [Layout::Node20, Layout::Node24][round % 2];
        let b = parse(&build(layout, &before)).unwrap();
        let a = parse(&build(layout, &after)).unwrap();
        for exclude_ids in [vec![], exclude] {
            let want = model(&before, &after, &exclude_ids);
            let opts = DiffOptions {
                grouping: Grouping::Classic,
                exclude_ids: exclude_ids.clone(),
                ..Default::default()
            };
            for (got, how) in both(&b, &a, &opts).into_iter().zip(["auto", "sorted"]) {
                assert_eq!(
                    got, want,
                    "round {round} ({ids:?}), {how}, exclude {exclude_ids:?}"
                );
            }
        }
    }
}

#[test]
fn v8_like_ids_with_native_outliers_match() {
    // Ids as V8 numbers them: odd and dense for heap objects, huge and even for embedder nodes.
    let big = (1u64 << 31) + 6;
    let before = vec![
        n("object", "Order", 1, 10),
        n("native", "n", big, 7),
        n("object", "Order", 5, 20),
        n("native", "n", big + 2, 9),
    ];
    let after = vec![
        n("object", "Order", 5, 20),
        n("native", "n", big + 2, 9),
        n("native", "n", big + 4, 11),
        n("object", "Session", 7, 30),
    ];
    let b = parse(&build(Layout::Node24, &before)).unwrap();
    let a = parse(&build(Layout::Node24, &after)).unwrap();
    let opts = DiffOptions {
        grouping: Grouping::Classic,
        exclude_ids: vec![big + 4],
        ..Default::default()
    };
    for d in both(&b, &a, &opts) {
        let got: Vec<(&str, u64, u64)> = d
            .details
            .iter()
            .map(|r| (r.what.as_str(), r.allocated, r.freed))
            .collect();
        assert_eq!(got, [("Native", 0, 1), ("Order", 0, 1), ("Session", 1, 0)]);
        assert_eq!((d.before.nodes, d.after.nodes), (4, 3));
        assert_eq!(d.after.size_bytes, 20 + 9 + 30);
    }
}
