//! Shortest retaining paths from the root, grouped by shape.
//!
//! A diff says which class grew; the question that follows is "what still holds these
//! objects?". One breadth-first search from the root gives every node its shortest retaining
//! path; instances that hang off the same structure (the same Map, the same listener array)
//! share a path *shape* (node classes and edge names, element indices ignored), so thousands
//! of leaked objects collapse into a few lines with counts.
//!
//! A string's own parts are not a retaining structure anyone wrote: `s += x` run a thousand
//! times is one string to the program, but a chain of a thousand cons strings to V8, and each
//! part would get a path one hop longer than the last (one group per depth). Paths stop at the
//! outermost string instead (see `StringParts`), so every part of one string shares its path.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::{edges_of, EdgeRule, GraphError, NONE};
use crate::classes::devtools_object_class;
use crate::snapshot::{EdgeName, EdgeTable, Snapshot};

/// One hop of a retaining path: the edge taken and the node it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    /// Edge name (`cache`, `[12]`); `None` for the first step, reached from the synthetic root.
    pub edge: Option<String>,
    /// Edge type (`property`, `element`, `context`, `internal`, ...); `None` like `edge`.
    pub edge_type: Option<String>,
    /// The node's label: constructor or node name, `(string)`, `(number)`, or `(type)`.
    pub node: String,
    /// V8's node type (`object`, `closure`, `string`, ...).
    pub node_type: String,
    /// V8's object id, stable across snapshots of one process.
    pub id: u64,
    /// Node index in the snapshot.
    pub index: usize,
    /// The edge is one key of a keyed store (`Keys`): a shape holds it whatever its name.
    pub keyed: bool,
}

/// Targets that share one path shape, with the concrete path of the first of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGroup {
    /// One concrete path of the shape: the hops from the root to an example target.
    pub steps: Vec<PathStep>,
    /// Targets whose path has this shape.
    pub count: u64,
    /// The shape: `global.cache → Map.table → (object elements)[·] → LeakingClass`, a key of a
    /// keyed store as `[·]`.
    pub text: String,
    /// The keys of a few targets of the group (`[KmlOoEBbXp]`, `[12]`; one `[…]` per keyed
    /// step), for the reader; empty when the shape has no keyed step.
    pub keys: Vec<String>,
}

/// Example keys kept per path group, from at most `EXAMPLE_TRIES` of its targets (a long
/// string's parts all show its one path).
const EXAMPLE_KEYS: usize = 3;
const EXAMPLE_TRIES: u32 = 64;

/// Which edges are keys of a keyed store, so that a path shape takes any of them: an element
/// index, a slot of a `Map`'s or `Set`'s hash table (V8 names those with decimal strings on
/// `internal` edges), and a property of an object in dictionary mode. V8 keeps an object's
/// properties in a hash table (snapshot: an `internal` edge `properties` to an `array` node
/// named `(object properties)`; a fast object's goes to `system / PropertyArray` or nowhere)
/// once its keys stop looking like a fixed shape: many of them, added at run time, or deleted.
/// That is how `store[sessionId] = …` is kept, and each leaked session would be a path of its
/// own by name. Named properties of ordinary objects keep their names, and so do those of the
/// global objects (a `global`, a `Window`: the root's shortcut edges reach them, and they hold
/// their `native_context` or `global_proxy`), which V8 keeps as dictionaries too.
struct Keys {
    globals: Vec<u32>,
    property_type: Option<u8>,
    internal_type: Option<u8>,
    array_type: Option<u8>,
    synthetic_type: Option<u8>,
    dictionary: HashMap<u32, bool>,
}

impl Keys {
    fn new(snap: &Snapshot) -> Self {
        let edge_type = |n: &str| {
            snap.edge_type_names()
                .iter()
                .position(|t| t == n)
                .map(|k| k as u8)
        };
        let node_type = |n: &str| {
            snap.node_type_names()
                .iter()
                .position(|t| t == n)
                .map(|k| k as u8)
        };
        let shortcut = edge_type("shortcut");
        let globals = snap
            .edges()
            .map(|t| {
                t.range(0)
                    .filter(|&e| Some(t.types[e]) == shortcut)
                    .map(|e| t.to_node[e])
                    .collect()
            })
            .unwrap_or_default();
        Keys {
            globals,
            property_type: edge_type("property"),
            internal_type: edge_type("internal"),
            array_type: node_type("array"),
            synthetic_type: node_type("synthetic"),
            dictionary: HashMap::new(),
        }
    }

    /// Whether edge `e`, leaving node `from`, is a key of a keyed store.
    fn is_key(&mut self, snap: &Snapshot, table: &EdgeTable, from: usize, e: usize) -> bool {
        let ty = table.types[e];
        if !table.named_type[ty as usize] || is_index(snap.name_by_index(table.name_value(e))) {
            return true;
        }
        Some(ty) == self.property_type && self.is_dictionary(snap, table, from)
    }

    /// Whether node `v` is one of V8's root lists (`(GC roots)`, `(Stack roots)`, ...): their
    /// slots are anonymous in a shape as a store's keys are, but not a store the reader keeps,
    /// so a path shows its own slots there.
    fn is_root_list(&self, snap: &Snapshot, v: usize) -> bool {
        Some(snap.node_type_index(v)) == self.synthetic_type
    }

    fn is_dictionary(&mut self, snap: &Snapshot, table: &EdgeTable, v: usize) -> bool {
        let (internal, array) = (self.internal_type, self.array_type);
        let global = self.globals.contains(&(v as u32));
        *self.dictionary.entry(v as u32).or_insert_with(|| {
            let internal_edge = |e: usize, name: &str| {
                Some(table.types[e]) == internal && snap.name_by_index(table.name_value(e)) == name
            };
            !global
                && !table
                    .range(v)
                    .any(|e| internal_edge(e, "native_context") || internal_edge(e, "global_proxy"))
                && table.range(v).any(|e| {
                    let to = table.to_node(e);
                    internal_edge(e, "properties")
                        && Some(snap.node_type_index(to)) == array
                        && snap.node_name(to) == "(object properties)"
                })
        })
    }
}

/// Which edges lead from a string to one of its parts: V8 keeps `a + b` as a cons string with
/// internal edges `first` and `second` to its halves (cons strings again after repeated `+=`),
/// a slice as a sliced string with a `parent`, a string internalised after the fact as a thin
/// string with its `actual` copy. The program only ever holds the outermost string, so a path
/// reads up to it and no further: `Session.payload → (concatenated string)` for the whole
/// chain, not one path per depth.
#[derive(Debug, Clone)]
struct StringParts {
    /// Per node type index: whether nodes of that type are strings.
    is_string: Vec<bool>,
    /// The `internal` edge type's index, if the snapshot has one.
    internal: Option<u8>,
}

impl StringParts {
    fn new(snap: &Snapshot) -> Self {
        StringParts {
            is_string: snap
                .node_type_names()
                .iter()
                .map(|t| is_string(t))
                .collect(),
            internal: snap
                .edge_type_names()
                .iter()
                .position(|t| t == "internal")
                .map(|k| k as u8),
        }
    }

    /// Whether edge `e`, leaving node `from`, goes from a string to a part of it.
    fn is_part(&self, snap: &Snapshot, table: &EdgeTable, from: usize, e: usize) -> bool {
        let string = |i: usize| self.is_string[snap.node_type_index(i) as usize];
        Some(table.types[e]) == self.internal && string(from) && string(table.to_node(e))
    }
}

fn is_string(type_name: &str) -> bool {
    matches!(
        type_name,
        "string" | "concatenated string" | "sliced string"
    )
}

/// Breadth-first parents of every node reachable from the root.
#[derive(Debug, Clone)]
pub struct ShortestPaths {
    /// Per node: the edge through which the search first reached it; `NONE` for the root and
    /// unreachable nodes.
    parent_edge: Vec<u32>,
    parts: StringParts,
}

impl ShortestPaths {
    /// Searches from the root over retaining edges. The root's shortcut edges (user roots such
    /// as `global`) go first, so that among equally short paths the one a developer recognises
    /// (through their globals and modules) wins over one through V8's internal root lists.
    pub fn compute(snap: &Snapshot) -> Result<Self, GraphError> {
        let table = edges_of(snap)?;
        let rule = EdgeRule::new(snap);
        let n = snap.node_count();
        let mut parent_edge = vec![NONE; n];
        let mut seen = vec![false; n];
        seen[0] = true;
        let mut queue: Vec<u32> = Vec::new();
        let mut visit = |e: usize, queue: &mut Vec<u32>| {
            let w = table.to_node[e] as usize;
            if !seen[w] {
                seen[w] = true;
                parent_edge[w] = e as u32;
                queue.push(w as u32);
            }
        };
        visit_root_first(&mut visit, &mut queue, table, &rule);
        let mut head = 0;
        while head < queue.len() {
            let v = queue[head] as usize;
            head += 1;
            for e in table.range(v) {
                if rule.retains(table, v, e) {
                    visit(e, &mut queue);
                }
            }
        }
        Ok(ShortestPaths {
            parent_edge,
            parts: StringParts::new(snap),
        })
    }

    /// Whether node `i` has a retaining path (the root has the empty one).
    pub fn is_reachable(&self, i: usize) -> bool {
        i == 0 || self.parent_edge[i] != NONE
    }

    /// Edge indices from the root to node `i`, root first; `None` if `i` is unreachable. The
    /// whole path, through a string's parts too (`path_steps` stops at the outermost string).
    pub fn path_edges(&self, snap: &Snapshot, i: usize) -> Option<Vec<usize>> {
        let table = snap.edges()?;
        if !self.is_reachable(i) {
            return None;
        }
        let mut out = Vec::new();
        let mut v = i;
        while v != 0 {
            let e = self.parent_edge[v] as usize;
            out.push(e);
            v = source_of(table, e);
        }
        out.reverse();
        Some(out)
    }

    /// The steps from the root to node `i`, as `PathGroup::steps` shows them. Hops into a
    /// string's parts are left out: a part of a string reads as the path to the outermost
    /// string that holds it, whose step (with its id) stands for the whole run.
    pub fn path_steps(&self, snap: &Snapshot, i: usize) -> Option<Vec<PathStep>> {
        self.steps_with(snap, i, &mut Keys::new(snap))
    }

    fn steps_with(&self, snap: &Snapshot, i: usize, keys: &mut Keys) -> Option<Vec<PathStep>> {
        let edges = self.path_edges(snap, i)?;
        let table = snap.edges()?;
        let mut steps = Vec::with_capacity(edges.len());
        let mut from = 0;
        for (k, &e) in edges.iter().enumerate() {
            let to = table.to_node(e);
            if !self.parts.is_part(snap, table, from, e) {
                let (edge, edge_type) = if k == 0 {
                    (None, None)
                } else {
                    (
                        Some(edge_label(snap, e)),
                        Some(snap.edge_type_names()[table.types[e] as usize].clone()),
                    )
                };
                steps.push(PathStep {
                    edge,
                    edge_type,
                    node: node_label(snap, to),
                    node_type: snap.node_type_name(to).to_owned(),
                    id: snap.node_id(to),
                    index: to,
                    keyed: k > 0
                        && keys.is_key(snap, table, from, e)
                        && !keys.is_root_list(snap, from),
                });
            }
            from = to;
        }
        Some(steps)
    }

    /// The rendered path to node `i` (`global.cache → Map`), or `None` if it is unreachable.
    pub fn path_text(&self, snap: &Snapshot, i: usize) -> Option<String> {
        self.path_steps(snap, i).map(|s| render(&s, false))
    }

    /// The node whose path `path_steps` shows for node `i`: `i`, or the outermost string of
    /// which `i` is a part.
    fn outermost(&self, snap: &Snapshot, table: &EdgeTable, i: usize) -> usize {
        let mut v = i;
        while v != 0 {
            let e = self.parent_edge[v] as usize;
            let from = source_of(table, e);
            if !self.parts.is_part(snap, table, from, e) {
                break;
            }
            v = from;
        }
        v
    }

    /// Groups `targets` by the shape of their shortest retaining path, largest group first,
    /// at most `max_groups` groups (the rest are dropped; their targets are not counted).
    /// Unreachable targets are skipped. The parts of a string share its shape, as they share
    /// its path in `path_steps`, and the entries of a keyed store share one whatever their key
    /// (`Keys`).
    pub fn group(&self, snap: &Snapshot, targets: &[u32], max_groups: usize) -> Vec<PathGroup> {
        let Some(table) = snap.edges() else {
            return Vec::new();
        };
        let mut keys = Keys::new(snap);
        let mut shapes = ShapeInterner::default();
        // Per shape: targets, the first few distinct objects the reader would see (a string's
        // parts are their outermost string), and how many targets were looked at for those.
        let mut counts: HashMap<u32, (u64, Vec<u32>, u32)> = HashMap::new();
        let mut climb: Vec<u32> = Vec::new();
        for &t in targets {
            let t = t as usize;
            if !self.is_reachable(t) || t == 0 {
                continue;
            }
            // Climb until a node whose shape is known (or the root), then intern back down:
            // targets under one structure share all but the last few steps.
            climb.clear();
            let mut v = t;
            let mut shape = ROOT_SHAPE;
            while v != 0 {
                if let Some(&s) = shapes.of_node.get(&(v as u32)) {
                    shape = s;
                    break;
                }
                climb.push(v as u32);
                v = source_of(table, self.parent_edge[v] as usize);
            }
            // `v` is where the climb stopped: the parent of the first node interned below.
            let mut from = v;
            for &u in climb.iter().rev() {
                let e = self.parent_edge[u as usize] as usize;
                if !self.parts.is_part(snap, table, from, e) {
                    let keyed = keys.is_key(snap, table, from, e);
                    shape = shapes.intern(shape, step_key(snap, table, e, keyed));
                }
                shapes.of_node.insert(u, shape);
                from = u as usize;
            }
            let c = counts.entry(shape).or_default();
            c.0 += 1;
            if c.1.len() < EXAMPLE_KEYS && c.2 < EXAMPLE_TRIES {
                c.2 += 1;
                let shown = self.outermost(snap, table, t) as u32;
                if !c.1.contains(&shown) {
                    c.1.push(shown);
                }
            }
        }
        let mut groups: Vec<(u64, Vec<u32>)> =
            counts.into_values().map(|(n, x, _)| (n, x)).collect();
        groups.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
        groups.truncate(max_groups);
        groups
            .into_iter()
            .filter_map(|(count, examples)| {
                let steps = self.steps_with(snap, examples[0] as usize, &mut keys)?;
                let mut shown = Vec::new();
                if steps.iter().any(|s| s.keyed) {
                    for &x in &examples {
                        let key: String = match x == examples[0] {
                            true => example_keys(&steps),
                            false => example_keys(&self.steps_with(snap, x as usize, &mut keys)?),
                        };
                        if !shown.contains(&key) {
                            shown.push(key);
                        }
                    }
                }
                Some(PathGroup {
                    text: render(&steps, true),
                    steps,
                    count,
                    keys: shown,
                })
            })
            .collect()
    }
}

/// The root's own edges: shortcuts (user roots) first, then the rest.
fn visit_root_first(
    visit: &mut impl FnMut(usize, &mut Vec<u32>),
    queue: &mut Vec<u32>,
    table: &EdgeTable,
    rule: &EdgeRule,
) {
    for shortcuts in [true, false] {
        for e in table.range(0) {
            if rule.is_shortcut(table.types[e]) == shortcuts && rule.retains(table, 0, e) {
                visit(e, queue);
            }
        }
    }
}

const ROOT_SHAPE: u32 = u32::MAX;

/// Path shapes as a trie: (parent shape, step) → shape id.
#[derive(Default)]
struct ShapeInterner {
    ids: HashMap<(u32, u64), u32>,
    of_node: HashMap<u32, u32>,
}

impl ShapeInterner {
    fn intern(&mut self, parent: u32, step: u64) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry((parent, step)).or_insert(next)
    }
}

/// What makes two steps "the same" in a shape: edge type, edge name (unless it is a key of a
/// keyed store, `Keys`), and the target's type and name.
fn step_key(snap: &Snapshot, table: &EdgeTable, e: usize, keyed: bool) -> u64 {
    let to = table.to_node(e);
    let edge_name = if keyed {
        0
    } else {
        u64::from(table.name_value(e)) + 1
    };
    let node = (label_key(snap, to) << 8) | u64::from(snap.node_type_index(to));
    // Names and types fit well under these widths in any real snapshot; a collision would only
    // merge two groups' counts, never break a path.
    (edge_name << 40) ^ (u64::from(table.types[e]) << 36) ^ node
}

/// The part of a node's label that tells shapes apart, as `node_label` renders it: nothing for
/// strings and numbers (their names are their values), the tag for DOM elements (a hash of it,
/// above any real name index), the name otherwise.
fn label_key(snap: &Snapshot, i: usize) -> u64 {
    match snap.node_type_name(i) {
        "string" | "concatenated string" | "sliced string" | "number" => 0,
        "native" => match devtools_object_class(snap.node_name(i)) {
            Cow::Owned(tag) => {
                let mut h = DefaultHasher::new();
                tag.hash(&mut h);
                // The top of the u32 range: no snapshot has four billion distinct names.
                0xffff_ffff ^ (h.finish() & 0xff_ffff)
            }
            Cow::Borrowed(_) => u64::from(snap.name_index(i)),
        },
        _ => u64::from(snap.name_index(i)),
    }
}

/// The node whose edge range holds edge `e`: the last node whose first edge is at or before it.
pub(crate) fn source_of(table: &EdgeTable, e: usize) -> usize {
    table.first.partition_point(|&f| f as usize <= e) - 1
}

fn is_index(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

fn edge_label(snap: &Snapshot, e: usize) -> String {
    match snap.edge_name(e) {
        Some(EdgeName::Name(s)) if is_index(s) => format!("[{s}]"),
        Some(EdgeName::Name(s)) => s.to_owned(),
        Some(EdgeName::Index(i)) => format!("[{i}]"),
        None => String::new(),
    }
}

/// How a node reads in a path: strings by kind, `(string)`, `(concatenated string)` or
/// `(sliced string)` (their names are their contents; the kind is part of the path shape, so
/// two groups that differ only by it must not read alike), DOM elements
/// by tag (their names carry their attributes, which would split a group of 77 detached `<div>`s
/// into 77 paths), everything else by name (constructor, function or system name), or by type
/// when nameless.
pub(crate) fn node_label(snap: &Snapshot, i: usize) -> String {
    let ty = snap.node_type_name(i);
    match ty {
        "string" | "concatenated string" | "sliced string" | "number" => format!("({ty})"),
        _ => {
            let name = snap.node_name(i);
            if name.is_empty() {
                format!("({ty})")
            } else if ty == "native" {
                devtools_object_class(name).into_owned()
            } else {
                name.to_owned()
            }
        }
    }
}

/// `global.cache → Map.table → (object elements)[12] → LeakingClass`: each node followed by
/// the edge that leaves it. As a `shape`, keys of keyed stores read `[·]`.
pub(crate) fn render(steps: &[PathStep], shape: bool) -> String {
    let mut out = String::new();
    for (k, s) in steps.iter().enumerate() {
        if k > 0 {
            out.push_str(" → ");
        }
        out.push_str(&s.node);
        if let Some(next) = steps.get(k + 1) {
            let name = next.edge.as_deref().unwrap_or("");
            if shape && next.keyed {
                out.push_str("[·]");
                continue;
            }
            if !name.starts_with('[') {
                out.push('.');
            }
            out.push_str(name);
        }
    }
    out
}

/// One target's keys along its path: `[KmlOoEBbXp]`, `[12][3]`.
fn example_keys(steps: &[PathStep]) -> String {
    steps
        .iter()
        .filter(|s| s.keyed)
        .map(|s| {
            let name = s.edge.as_deref().unwrap_or("");
            match name.starts_with('[') {
                true => name.to_owned(),
                false => format!("[{name}]"),
            }
        })
        .collect()
}
