//! Dominator tree and retained sizes, by the Semi-NCA algorithm.
//!
//! An object's retained size is what the GC would free if that object went away: its own size
//! plus everything it dominates (every path from the root to those objects passes through it).
//! Snapshots reach tens of millions of nodes, so the algorithm is chosen for memory and for
//! being linear in practice: Semi-NCA (Georgiadis and Tarjan) needs four `u32` arrays over the
//! reachable nodes plus predecessor lists, runs without recursion (object graphs are deep, e.g.
//! long linked lists), and has no per-node allocation. All working arrays are indexed by DFS
//! preorder number, which makes "is `v` before `w`" a plain integer comparison.

use super::{edges_of, EdgeRule, GraphError, NONE};
use crate::snapshot::{EdgeTable, Snapshot};

/// Immediate dominators and retained sizes of every node of one snapshot.
#[derive(Debug, Clone)]
pub struct DominatorTree {
    /// Per node: its immediate dominator; `NONE` for the root and for unreachable nodes.
    idom: Vec<u32>,
    /// Per node: retained size; 0 for unreachable nodes.
    retained: Vec<u64>,
    /// Reachable nodes in DFS preorder; every node comes after its immediate dominator.
    order: Vec<u32>,
}

impl DominatorTree {
    /// Builds the tree from the root (node 0) over retaining edges (see the module docs).
    ///
    /// Memory is what limits this on big snapshots, so the working set is kept to four `u32`
    /// per reachable node plus the stored predecessors, reusing arrays as phases end: the
    /// semidominator seed lives in `label` until its node is processed, a processed node's
    /// semidominator goes into the predecessor offset slot that just went dead, `parent` turns
    /// into `idom` in place, and the preorder itself is dropped during the heavy phase and
    /// recomputed afterwards (a second DFS costs less than holding it).
    pub fn compute(snap: &Snapshot) -> Result<Self, GraphError> {
        let table = edges_of(snap)?;
        let rule = EdgeRule::new(snap);
        let n = snap.node_count();

        let Dfs {
            order,
            parent,
            node_pre,
        } = dfs(table, &rule, n);
        let r = order.len();
        drop(order);

        // Predecessors that come earlier in preorder only lower a semidominator candidate to
        // their own number, so they are folded into the seed right away; only later ones (which
        // need an `eval` over the forest) are stored.
        let mut label = parent.clone();
        let (mut first, preds) = later_predecessors(table, &rule, &node_pre, &mut label);
        drop(node_pre);

        let mut ancestor = vec![NONE; r];
        let mut path: Vec<u32> = Vec::new();
        for w in (1..r).rev() {
            let mut s = label[w];
            for &v in &preds[first[w] as usize..first[w + 1] as usize] {
                s = s.min(eval(v, &mut ancestor, &mut label, &mut path));
            }
            label[w] = s;
            ancestor[w] = parent[w];
            // `first[w + 1]` ended `w`'s range and no one reads it again: it keeps semi(w).
            first[w + 1] = s;
        }
        drop((preds, label, ancestor));

        // Nearest common ancestor step: the idom of `w` is the deepest dominator of its DFS
        // parent that is not below its semidominator. Dominators of earlier nodes are final
        // when `w` is reached, so `parent` becomes `idom` in place.
        let mut idom_pre = parent;
        for w in 1..r {
            let semi = first[w + 1];
            let mut x = idom_pre[w];
            while x > semi {
                x = idom_pre[x as usize];
            }
            idom_pre[w] = x;
        }
        drop(first);

        let Dfs { order, .. } = dfs(table, &rule, n);
        debug_assert_eq!(order.len(), r);
        let mut idom = vec![NONE; n];
        let mut retained = vec![0u64; n];
        for (p, &v) in order.iter().enumerate() {
            retained[v as usize] = snap.self_size(v as usize);
            if p > 0 {
                idom[v as usize] = order[idom_pre[p] as usize];
            }
        }
        drop(idom_pre);
        // Children come after their dominator in preorder, so a reverse sweep adds every
        // subtree into its parent exactly once.
        for p in (1..r).rev() {
            let v = order[p] as usize;
            let d = idom[v] as usize;
            retained[d] += retained[v];
        }
        Ok(DominatorTree {
            idom,
            retained,
            order,
        })
    }

    /// The immediate dominator of node `i`; `None` for the root and unreachable nodes.
    pub fn idom(&self, i: usize) -> Option<usize> {
        match self.idom[i] {
            NONE => None,
            d => Some(d as usize),
        }
    }

    /// Bytes freed if node `i` were released: its self size plus all it dominates.
    pub fn retained_size(&self, i: usize) -> u64 {
        self.retained[i]
    }

    /// Whether node `i` is reachable from the root over retaining edges.
    pub fn is_reachable(&self, i: usize) -> bool {
        (i == 0 && !self.order.is_empty()) || self.idom[i] != NONE
    }

    /// Number of nodes of the snapshot the tree was built from.
    pub fn node_count(&self) -> usize {
        self.idom.len()
    }

    /// Number of nodes reachable from the root.
    pub fn reachable_count(&self) -> usize {
        self.order.len()
    }

    /// Reachable nodes in an order where each comes after its immediate dominator.
    pub fn preorder(&self) -> &[u32] {
        &self.order
    }
}

struct Dfs {
    /// Preorder number -> node index.
    order: Vec<u32>,
    /// Preorder number -> DFS tree parent's preorder number (the root is its own parent).
    parent: Vec<u32>,
    /// Node index -> preorder number, `NONE` if unreachable.
    node_pre: Vec<u32>,
}

/// Depth-first preorder from the root. Iterative: object graphs are far deeper than a thread's
/// stack. The per-node edge cursor lives in an array indexed by preorder number, so the
/// explicit stack holds one `u32` per level.
fn dfs(table: &EdgeTable, rule: &EdgeRule, n: usize) -> Dfs {
    let mut node_pre = vec![NONE; n];
    let mut order: Vec<u32> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    let mut cursor: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();

    node_pre[0] = 0;
    order.push(0);
    parent.push(0);
    cursor.push(table.first[0]);
    stack.push(0);
    while let Some(&p) = stack.last() {
        let v = order[p as usize] as usize;
        let end = table.first[v + 1];
        let mut e = cursor[p as usize];
        let mut descended = false;
        while e < end {
            let ei = e as usize;
            e += 1;
            if !rule.retains(table, v, ei) {
                continue;
            }
            let w = table.to_node[ei] as usize;
            if node_pre[w] == NONE {
                let q = order.len() as u32;
                node_pre[w] = q;
                order.push(w as u32);
                parent.push(p);
                cursor.push(table.first[w]);
                cursor[p as usize] = e;
                stack.push(q);
                descended = true;
                break;
            }
        }
        if !descended {
            stack.pop();
        }
    }
    Dfs {
        order,
        parent,
        node_pre,
    }
}

/// Predecessor lists (in preorder numbers) holding only predecessors numbered after their
/// target; earlier ones are folded into `seed` as they are met. Returns the offsets (one per
/// reachable node plus one) and the lists. Sources are visited in node order, which walks the
/// edge table sequentially.
fn later_predecessors(
    table: &EdgeTable,
    rule: &EdgeRule,
    node_pre: &[u32],
    seed: &mut [u32],
) -> (Vec<u32>, Vec<u32>) {
    let r = seed.len();
    let mut first = vec![0u32; r + 1];
    let each_edge = |f: &mut dyn FnMut(u32, u32)| {
        for (v, &p) in node_pre.iter().enumerate() {
            if p == NONE {
                continue;
            }
            for e in table.range(v) {
                if rule.retains(table, v, e) {
                    f(p, node_pre[table.to_node[e] as usize]);
                }
            }
        }
    };
    each_edge(&mut |p, q| {
        if q == 0 || p == q {
            return;
        }
        if p < q {
            let s = &mut seed[q as usize];
            *s = (*s).min(p);
        } else {
            first[q as usize] += 1;
        }
    });
    // Inclusive sums make `first[q]` the end of q's range; filling downwards from there leaves
    // it at the start, with no separate cursor array.
    for i in 1..=r {
        first[i] += first[i - 1];
    }
    let mut preds = vec![0u32; first[r] as usize];
    each_edge(&mut |p, q| {
        if q != 0 && p > q {
            let at = &mut first[q as usize];
            *at -= 1;
            preds[*at as usize] = p;
        }
    });
    (first, preds)
}

/// The smallest semidominator on the forest path from `v` (already linked) up to, not
/// including, its tree's root; compresses the path on the way. `path` is scratch space.
#[inline]
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], path: &mut Vec<u32>) -> u32 {
    let a = ancestor[v as usize];
    if a == NONE || ancestor[a as usize] == NONE {
        return label[v as usize];
    }
    path.clear();
    let mut x = v;
    while ancestor[ancestor[x as usize] as usize] != NONE {
        path.push(x);
        x = ancestor[x as usize];
    }
    // From the node nearest the root down to `v`: each takes over its ancestor's minimum and
    // then points past it.
    while let Some(y) = path.pop() {
        let a = ancestor[y as usize] as usize;
        if label[a] < label[y as usize] {
            label[y as usize] = label[a];
        }
        ancestor[y as usize] = ancestor[a];
    }
    label[v as usize]
}
