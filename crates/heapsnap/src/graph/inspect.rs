//! Questions about one snapshot that a reader (or a coding agent) asks before and after a diff:
//! what is in it by class, what one object holds and what holds it, and why the instances of one
//! class are alive. Each answer is bounded by the caller's limit and says how much it left out,
//! so that a 1 GB snapshot's answer still fits a page.

use super::dominators::DominatorTree;
use super::paths::{node_label, PathGroup, ShortestPaths};
use super::retained::children;
use super::{EdgeRule, GraphError};
use crate::classes::{ClassRules, Grouping};
use crate::snapshot::{EdgeName, Snapshot};

/// One class's figures in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassFigures {
    /// The class, named by the grouping asked for.
    pub what: String,
    /// Its instances.
    pub count: u64,
    /// Their own sizes.
    pub self_size: u64,
    /// What freeing them all would free, as DevTools counts a class's retained size: the
    /// instances that no other instance of the class dominates, with all they retain.
    pub retained_size: u64,
}

/// The figures of a whole snapshot, and its largest classes two ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Nodes and edges in the file.
    pub node_count: u64,
    /// Edges in the file.
    pub edge_count: u64,
    /// Summed self sizes of every node.
    pub total_size: u64,
    /// Classes with at least one counted instance.
    pub class_count: u64,
    /// The classes with most instances, most first (ties by name).
    pub by_count: Vec<ClassFigures>,
    /// The classes with the largest retained size, largest first (ties by name).
    pub by_retained_size: Vec<ClassFigures>,
}

/// Every class of `snap` under `grouping`, with the `top` largest by count and by retained size.
pub fn summarize(
    snap: &Snapshot,
    grouping: Grouping,
    top: usize,
) -> Result<SnapshotSummary, GraphError> {
    let dom = DominatorTree::compute(snap)?;
    let rules = ClassRules::new(snap, grouping);
    let slots = rules.slot_count();
    let (mut count, mut self_size, mut retained) =
        (vec![0u64; slots], vec![0u64; slots], vec![0u64; slots]);
    for i in 0..snap.node_count() {
        if let Some(s) = rules.slot(snap, i) {
            count[s as usize] += 1;
            self_size[s as usize] += snap.self_size(i);
        }
    }
    // Depth-first over the dominator tree, counting per class the instances on the current
    // root path: an instance adds its retained size only when it is the first of its class there.
    let (first, kids) = children(&dom);
    let mut active = vec![0u32; slots];
    const EXIT: u64 = 1 << 32;
    let mut stack: Vec<u64> = vec![0];
    while let Some(top_of) = stack.pop() {
        let v = top_of as u32 as usize;
        let slot = rules.slot(snap, v);
        if top_of & EXIT != 0 {
            if let Some(s) = slot {
                active[s as usize] -= 1;
            }
            continue;
        }
        if let Some(s) = slot {
            if active[s as usize] == 0 {
                retained[s as usize] += dom.retained_size(v);
            }
            active[s as usize] += 1;
            stack.push(top_of | EXIT);
        }
        let range = first[v] as usize..first[v + 1] as usize;
        stack.extend(kids[range].iter().map(|&k| u64::from(k)));
    }
    let classes: Vec<ClassFigures> = (0..slots)
        .filter(|&s| count[s] > 0)
        .map(|s| ClassFigures {
            what: rules.name(snap, s as u32).into_owned(),
            count: count[s],
            self_size: self_size[s],
            retained_size: retained[s],
        })
        .collect();
    let largest = |key: fn(&ClassFigures) -> u64| {
        let mut v = classes.clone();
        v.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.what.cmp(&b.what)));
        v.truncate(top);
        v
    };
    Ok(SnapshotSummary {
        node_count: snap.node_count() as u64,
        edge_count: snap.edge_count() as u64,
        total_size: snap.total_self_size(),
        class_count: classes.len() as u64,
        by_count: largest(|c| c.count),
        by_retained_size: largest(|c| c.retained_size),
    })
}

/// A node as a reader names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef {
    /// V8's object id (`@id` in DevTools), stable across snapshots of one process.
    pub id: u64,
    /// V8's node type (`object`, `closure`, `string`, ...).
    pub node_type: String,
    /// Its label: constructor or node name, `(string)`, `(number)`, or `(type)`.
    pub what: String,
    /// Its own size.
    pub self_size: u64,
}

/// An edge from or to the object being inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeRef {
    /// `property`, `element`, `context`, `internal`, `weak`, ...
    pub edge_type: String,
    /// The property name, or `[index]` for elements and hidden edges.
    pub name: String,
    /// Whether the edge keeps its target alive (weak edges do not; shortcuts only from the root).
    pub retains: bool,
    /// The node at the other end.
    pub node: NodeRef,
}

/// One object with what it holds and what holds it, each list cut at a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectView {
    /// The object itself.
    pub node: NodeRef,
    /// What freeing it would free (0 when unreachable).
    pub retained_size: u64,
    /// Its shortest retaining path from the root, as text; empty when unreachable.
    pub path: String,
    /// Its edges, in the snapshot's order, at most the limit.
    pub edges: Vec<EdgeRef>,
    /// All its edges, shown or not.
    pub edge_count: u64,
    /// The edges that point at it, retaining ones first, at most the limit.
    pub retainers: Vec<EdgeRef>,
    /// All edges that point at it, shown or not.
    pub retainer_count: u64,
}

fn node_ref(snap: &Snapshot, i: usize) -> NodeRef {
    NodeRef {
        id: snap.node_id(i),
        node_type: snap.node_type_name(i).to_owned(),
        what: node_label(snap, i),
        self_size: snap.self_size(i),
    }
}

fn edge_name(snap: &Snapshot, e: usize) -> String {
    match snap.edge_name(e) {
        Some(EdgeName::Name(n)) => n.to_owned(),
        Some(EdgeName::Index(k)) => format!("[{k}]"),
        None => String::new(),
    }
}

/// The node with V8 object id `id`, if the snapshot has one.
pub fn node_index(snap: &Snapshot, id: u64) -> Option<usize> {
    (0..snap.node_count()).find(|&i| snap.node_id(i) == id)
}

/// The object with id `id` (`None` when the snapshot has none), its edges and its retainers,
/// each list cut at `limit`.
pub fn inspect_object(
    snap: &Snapshot,
    id: u64,
    limit: usize,
) -> Result<Option<ObjectView>, GraphError> {
    let table = snap.edges().ok_or(GraphError::NoEdges)?;
    let Some(i) = node_index(snap, id) else {
        return Ok(None);
    };
    let rule = EdgeRule::new(snap);
    let edge_type = |e: usize| snap.edge_type_names()[table.edge_type_index(e) as usize].clone();
    let edge_ref = |from: usize, e: usize, other: usize| EdgeRef {
        edge_type: edge_type(e),
        name: edge_name(snap, e),
        retains: rule.retains(table, from, e),
        node: node_ref(snap, other),
    };
    let out = table.range(i);
    let edge_count = out.len() as u64;
    let edges = out
        .take(limit)
        .map(|e| edge_ref(i, e, table.to_node(e)))
        .collect();
    // Every edge into `i`: one pass over the table.
    let mut retainers: Vec<EdgeRef> = Vec::new();
    let mut retainer_count = 0u64;
    for from in 0..snap.node_count() {
        for e in table.range(from) {
            if table.to_node(e) == i {
                retainer_count += 1;
                retainers.push(edge_ref(from, e, from));
            }
        }
    }
    retainers.sort_by_key(|r| !r.retains);
    retainers.truncate(limit);
    let dom = DominatorTree::compute(snap)?;
    let retained_size = if dom.is_reachable(i) {
        dom.retained_size(i)
    } else {
        0
    };
    drop(dom);
    let path = ShortestPaths::compute(snap)?
        .path_text(snap, i)
        .unwrap_or_default();
    Ok(Some(ObjectView {
        node: node_ref(snap, i),
        retained_size,
        path,
        edges,
        edge_count,
        retainers,
        retainer_count,
    }))
}

/// Why the instances of one class (or one object) are alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retainers {
    /// The class asked for, or the object's label.
    pub what: String,
    /// Its instances (1 for an object).
    pub count: u64,
    /// Their retained size, counted as `ClassFigures::retained_size` does.
    pub retained_size: u64,
    /// Their shortest retaining paths, grouped by shape, largest group first; at most the
    /// number asked for.
    pub paths: Vec<PathGroup>,
    /// Path groups left out by that limit.
    pub paths_left_out: u64,
}

/// The retaining paths of every instance of `class` (named as `grouping` names classes), at most
/// `groups` groups; `None` when no node is of that class.
pub fn class_retainers(
    snap: &Snapshot,
    grouping: Grouping,
    class: &str,
    groups: usize,
) -> Result<Option<Retainers>, GraphError> {
    let rules = ClassRules::new(snap, grouping);
    let members: Vec<u32> = (0..snap.node_count())
        .filter(|&i| {
            rules
                .slot(snap, i)
                .is_some_and(|s| rules.name(snap, s) == class)
        })
        .map(|i| i as u32)
        .collect();
    if members.is_empty() {
        return Ok(None);
    }
    Ok(Some(retainers_of(
        snap,
        class.to_owned(),
        &members,
        groups,
    )?))
}

/// The retaining path of the object with id `id`; `None` when the snapshot has none.
pub fn object_retainers(snap: &Snapshot, id: u64) -> Result<Option<Retainers>, GraphError> {
    let Some(i) = node_index(snap, id) else {
        return Ok(None);
    };
    Ok(Some(retainers_of(
        snap,
        node_label(snap, i),
        &[i as u32],
        1,
    )?))
}

fn retainers_of(
    snap: &Snapshot,
    what: String,
    members: &[u32],
    groups: usize,
) -> Result<Retainers, GraphError> {
    let dom = DominatorTree::compute(snap)?;
    let targets: Vec<(u32, u32)> = members.iter().map(|&i| (i, 0)).collect();
    let retained_size = super::class_retained_sizes(&dom, &targets, 1)[0];
    drop(dom);
    let paths = ShortestPaths::compute(snap)?;
    let all = paths.group(snap, members, usize::MAX);
    let left_out = all.len().saturating_sub(groups) as u64;
    Ok(Retainers {
        what,
        count: members.len() as u64,
        retained_size,
        paths: all.into_iter().take(groups).collect(),
        paths_left_out: left_out,
    })
}
