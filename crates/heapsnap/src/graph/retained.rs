//! Retained size of a group of objects (all new instances of one class, say).
//!
//! Summing each instance's retained size would count twice an instance held by another
//! instance of the same class (a linked list of `Node`s retains itself). As DevTools does for
//! its per-class "Retained Size", only instances that no other instance of the same class
//! dominates are counted; their retained sizes already include the rest.

use std::collections::HashMap;

use super::dominators::DominatorTree;
use super::NONE;

/// For `targets` given as `(node, class)` with classes numbered `0..classes`, the retained
/// size of each class's targets. Unreachable targets add nothing.
pub fn class_retained_sizes(
    dom: &DominatorTree,
    targets: &[(u32, u32)],
    classes: usize,
) -> Vec<u64> {
    class_tree(dom, targets, classes).sizes
}

/// What one walk of the dominator tree tells of classes of targets.
pub(crate) struct ClassTree {
    /// `class_retained_sizes`.
    pub(crate) sizes: Vec<u64>,
    /// Per class: the class whose targets are the nearest dominators of other classes above
    /// more than half of its reachable targets (a leaked `Session`'s `Array` payloads have the
    /// `Session` class as owner), or `None`.
    pub(crate) owners: Vec<Option<u32>>,
}

pub(crate) fn class_tree(dom: &DominatorTree, targets: &[(u32, u32)], classes: usize) -> ClassTree {
    let mut sums = vec![0u64; classes];
    let mut reached = vec![0u64; classes];
    // (class, owner class) → targets of the first whose nearest other-class target above is
    // of the second.
    let mut under: HashMap<(u32, u32), u64> = HashMap::new();
    if targets.is_empty() {
        return ClassTree {
            sizes: sums,
            owners: vec![None; classes],
        };
    }
    let class_of: HashMap<u32, u32> = targets.iter().copied().collect();
    let (first, kids) = children(dom);
    // Depth-first over the dominator tree with, per class, how many instances are on the
    // current root path: an instance counts only when it is the first of its class there.
    let mut active = vec![0u32; classes];
    // The classes of the targets on the current root path, as runs of one class (a linked
    // list of a million nodes is one run), so the nearest one of another class is at hand.
    let mut path: Vec<(u32, u32)> = Vec::new();
    // Entries are node indices; bit 32 marks "leaving this node" (node indices are u32).
    const EXIT: u64 = 1 << 32;
    let mut stack: Vec<u64> = vec![0];
    while let Some(top) = stack.pop() {
        let v = top as u32;
        if top & EXIT != 0 {
            if let Some(&c) = class_of.get(&v) {
                active[c as usize] -= 1;
                let run = path.last_mut().expect("entered before left");
                run.1 -= 1;
                if run.1 == 0 {
                    path.pop();
                }
            }
            continue;
        }
        if let Some(&c) = class_of.get(&v) {
            if active[c as usize] == 0 {
                sums[c as usize] += dom.retained_size(v as usize);
            }
            active[c as usize] += 1;
            reached[c as usize] += 1;
            let other = match path.as_slice() {
                [.., below, (k, _)] if *k == c => Some(below.0),
                [.., (k, _)] if *k == c => None,
                [.., (k, _)] => Some(*k),
                [] => None,
            };
            if let Some(k) = other {
                *under.entry((c, k)).or_default() += 1;
            }
            match path.last_mut() {
                Some(run) if run.0 == c => run.1 += 1,
                _ => path.push((c, 1)),
            }
            stack.push(top | EXIT);
        }
        let range = first[v as usize] as usize..first[v as usize + 1] as usize;
        stack.extend(kids[range].iter().map(|&k| u64::from(k)));
    }
    let mut owners = vec![None; classes];
    for ((c, k), n) in under {
        if 2 * n > reached[c as usize] {
            owners[c as usize] = Some(k);
        }
    }
    ClassTree {
        sizes: sums,
        owners,
    }
}

/// The dominator tree's child lists, in compressed form (offsets per node, then children).
pub(super) fn children(dom: &DominatorTree) -> (Vec<u32>, Vec<u32>) {
    let order = dom.preorder();
    let n = dom.node_count();
    let mut first = vec![0u32; n + 1];
    for &v in &order[1.min(order.len())..] {
        let d = dom
            .idom(v as usize)
            .expect("reachable non-root nodes have a dominator");
        first[d + 1] += 1;
    }
    for i in 1..=n {
        first[i] += first[i - 1];
    }
    let mut fill = first[..n].to_vec();
    let mut kids = vec![NONE; first[n] as usize];
    for &v in &order[1.min(order.len())..] {
        let d = dom
            .idom(v as usize)
            .expect("reachable non-root nodes have a dominator");
        kids[fill[d] as usize] = v;
        fill[d] += 1;
    }
    (first, kids)
}
