//! The comparison Chrome DevTools' Memory tab shows, row for row, from two snapshots with edges:
//! here each snapshot's view (rules 1 to 3), in `devtools_diff.rs` the comparison of two views
//! (rule 4).
//!
//! Users check a diff's first rows against DevTools, so `Grouping::DevTools` follows the rules of
//! its snapshot worker (as packaged in heap-snapshot-toolkit), each of which needs the graph:
//!
//! 1. **Detached DOM state** spreads from the embedder nodes that know their state: through
//!    native nodes only, attached first, then detached to what attached did not reach. Detached
//!    nodes are named `Detached <name>`.
//! 2. **Backing stores belong to their owner.** A hidden or array node (or a native external
//!    string payload) reached, through non-weak edges, from exactly one other node that is
//!    neither of those has its self size moved to that owner and, at size 0, leaves every count.
//!    Skipped for snapshots without user roots (taken with internals exposed), as DevTools does.
//! 3. **Plain objects are named by their properties**: `{a, b}` for each property set shared by
//!    at least 2 objects and by a thousandth of all plain objects, the most popular first; each
//!    object takes the definition with the most properties it has all of.
//! 4. **Rows are classes, matched by id within a class**: an object that changed class (gained
//!    properties, became detached) or size 0 counts as deleted from one row and new in another.
//!
//! One rule is not followed: DevTools splits an object class by its constructor's source
//! location, so two classes of one name are two rows; here they are one (see the README).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::snapshot::{DevToolsFacts, SizeColumn, Snapshot, SHARED, UNSEEN};

/// A node DevTools leaves out of every row (self size 0 once stores moved to their owners).
pub(crate) const NONE: u32 = u32::MAX;

/// `MIN_OBJECT_COUNT_PER_INTERFACE`: a property set needs this many objects to name them.
const MIN_OBJECTS_PER_INTERFACE: f64 = 2.0;
/// `MIN_OBJECT_PROPORTION_PER_INTERFACE`: … and a thousandth of all plain objects.
const MIN_OBJECT_PROPORTION: f64 = 1000.0;
/// `MAX_INTERFACE_NAME_LENGTH`, in UTF-16 units as JavaScript counts them.
const MAX_INTERFACE_NAME: usize = 120;

/// One snapshot as DevTools sees it: each node's class (or `NONE`) and its size after the
/// backing-store transfer.
#[derive(Debug, Clone)]
pub(crate) struct DevToolsView {
    pub(crate) class: Vec<u32>,
    /// Sizes after the transfer, 4 bytes a node as the snapshot keeps its own.
    pub(crate) size: SizeColumn,
    pub(crate) names: Vec<String>,
}

/// Node type indices by role, `None` where the snapshot's header lacks the type.
struct Types {
    hidden: Option<u8>,
    array: Option<u8>,
    object: Option<u8>,
    native: Option<u8>,
    synthetic: Option<u8>,
}

impl Types {
    fn of(snap: &Snapshot) -> Types {
        let find = |name: &str| {
            snap.node_type_names()
                .iter()
                .position(|t| t == name)
                .map(|k| k as u8)
        };
        Types {
            hidden: find("hidden"),
            array: find("array"),
            object: find("object"),
            native: find("native"),
            synthetic: find("synthetic"),
        }
    }
}

fn edge_type(snap: &Snapshot, name: &str) -> Option<u8> {
    snap.edge_type_names()
        .iter()
        .position(|t| t == name)
        .map(|k| k as u8)
}

impl DevToolsView {
    /// Node `i`'s class as DevTools names it, or `None` where DevTools leaves the node out.
    pub(crate) fn class_name(&self, i: usize) -> Option<&str> {
        match self.class[i] {
            NONE => None,
            k => Some(&self.names[k as usize]),
        }
    }

    /// `snap`'s view: the one made when it was loaded (`settle`), or one made now from its
    /// DevTools facts or its edges; `None` when it has none of them.
    pub(crate) fn of(snap: &Snapshot) -> Option<Cow<'_, DevToolsView>> {
        match &snap.devtools_view {
            Some(view) => Some(Cow::Borrowed(view)),
            None => DevToolsView::new(snap).map(Cow::Owned),
        }
    }

    /// Whether `of` has a view to give.
    pub(crate) fn available(snap: &Snapshot) -> bool {
        snap.devtools_view.is_some() || snap.devtools_facts.is_some() || snap.edges().is_some()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.class.capacity() * size_of::<u32>()
            + self.size.heap_bytes()
            + self
                .names
                .iter()
                .map(|s| s.capacity() + size_of::<String>())
                .sum::<usize>()
    }

    /// `None` when the snapshot was parsed without its edges or DevTools' facts of them.
    fn new(snap: &Snapshot) -> Option<DevToolsView> {
        let facts = match &snap.devtools_facts {
            Some(f) => (**f).clone(),
            None => facts_from_edges(snap)?,
        };
        Some(DevToolsView::build(snap, facts))
    }

    /// The view from `facts`, which it uses up: the owners of rule 2 are worked out in place.
    fn build(snap: &Snapshot, mut facts: DevToolsFacts) -> DevToolsView {
        let n = snap.node_count();
        let types = Types::of(snap);
        let is = |i: usize, t: Option<u8>| t == Some(snap.node_type_index(i));
        let hidden_edge = edge_type(snap, "hidden");

        let detached = detached_nodes(snap, &facts, &types, hidden_edge);
        let raw_name = |i: usize| -> String {
            let name = snap.node_name(i);
            if detached.get(i) {
                format!("Detached {name}")
            } else {
                name.to_owned()
            }
        };
        // 2. Backing stores' sizes to their owners, in a copy of the snapshot's 4-byte column.
        let mut size = snap.self_sizes.clone();
        let root_has_user_roots = facts.root_targets.iter().any(|&t| {
            let t = t as usize;
            !is(t, types.synthetic) || snap.node_name(t) == "(Document DOM trees)"
        });
        if root_has_user_roots {
            let store = owners(snap, &mut facts, &types, &detached);
            for i in 0..n {
                let o = facts.slot[i];
                if !store(i) || o == UNSEEN || o == SHARED {
                    continue;
                }
                let o = o as usize;
                if is(o, types.synthetic) || o == 0 {
                    continue;
                }
                // Owners are never stores themselves, so no size moves twice.
                size.set(o, size.get(o) + size.get(i));
                size.set(i, 0);
            }
        }
        // 3. and the classes of every node.
        let interfaces = Interfaces::infer(snap, &facts, &types);
        let mut names: Vec<String> = Vec::new();
        let mut name_ids: HashMap<String, u32> = HashMap::new();
        let mut intern = |s: String| -> u32 {
            if let Some(&k) = name_ids.get(&s) {
                return k;
            }
            names.push(s.clone());
            name_ids.insert(s, names.len() as u32 - 1);
            names.len() as u32 - 1
        };
        // Per type: a fixed class, or by name (objects and natives). Per name index (and
        // detached state): its class, so strings are built once per class, not per node.
        enum ByType {
            Fixed(u32),
            Named,
            PlainOr,
        }
        let by_type: Vec<ByType> = snap
            .node_type_names()
            .iter()
            .map(|t| match t.as_str() {
                "hidden" => ByType::Fixed(intern("(system)".into())),
                "code" => ByType::Fixed(intern("(compiled code)".into())),
                "closure" => ByType::Fixed(intern("Function".into())),
                "regexp" => ByType::Fixed(intern("RegExp".into())),
                "object" => ByType::PlainOr,
                "native" => ByType::Named,
                other => ByType::Fixed(intern(format!("({other})"))),
            })
            .collect();
        let object_name =
            (0..snap.name_count() as u32).find(|&k| snap.name_by_index(k) == "Object");
        // Class by (name, detached), a slot each: a hash lookup per node took most of the time.
        const UNSET: u32 = u32::MAX;
        let mut by_name: Vec<u32> = vec![UNSET; 2 * snap.name_count()];
        // Class by property sequence, a slot each.
        let mut by_sequence: Vec<u32> = vec![UNSET; facts.sequences.len()];
        let mut props: Vec<u32> = Vec::new();
        // Each node's class goes where its slot was, read just before: the column is reused,
        // not a second one allocated (and its pages faulted in) beside it.
        let (mut class, sequences) = (facts.slot, facts.sequences);
        for i in 0..n {
            if size.get(i) == 0 {
                class[i] = NONE;
                continue;
            }
            let name = snap.name_index(i);
            let k = match by_type[snap.node_type_index(i) as usize] {
                ByType::Fixed(k) => k,
                ByType::PlainOr if Some(name) == object_name && !interfaces.defs.is_empty() => {
                    let seq = class[i] as usize;
                    if by_sequence[seq] == UNSET {
                        // Its property names (`__proto__` included, as DevTools matches them),
                        // sorted: the key its class depends on.
                        props.clear();
                        props.extend_from_slice(&sequences[seq]);
                        props.sort_unstable();
                        by_sequence[seq] = intern(
                            interfaces
                                .best(&props)
                                .map_or_else(|| "Object".to_owned(), str::to_owned),
                        );
                    }
                    by_sequence[seq]
                }
                ByType::PlainOr | ByType::Named => {
                    let slot = &mut by_name[2 * name as usize + usize::from(detached.get(i))];
                    if *slot == UNSET {
                        *slot = intern(fold_tag(&raw_name(i)));
                    }
                    *slot
                }
            };
            class[i] = k;
        }
        DevToolsView { class, size, names }
    }
}

/// Makes the view of a snapshot loaded for DevTools' comparison now, on the thread that parsed
/// it (a file diff parses its two files in parallel, so one file's view is made while the other
/// is still read), and drops the facts it was made from: the comparison needs the view alone.
pub(crate) fn settle(snap: &mut Snapshot) {
    let facts = snap.devtools_facts.take();
    if snap.devtools_view.is_none() {
        let facts = facts.map(|f| *f).or_else(|| facts_from_edges(snap));
        snap.devtools_view = facts.map(|f| Box::new(DevToolsView::build(snap, f)));
    }
}

/// DevTools' facts from a snapshot's full edge table (`None` without one), as the parser
/// gathers them from the edges streaming past.
fn facts_from_edges(snap: &Snapshot) -> Option<DevToolsFacts> {
    let edges = snap.edges()?;
    let mut facts = DevToolsFacts::new(&snap.types, snap.node_type_names(), snap.edge_type_names());
    for from in 0..snap.node_count() {
        let run = edges.range(from).map(|e| {
            (
                edges.edge_type_index(e),
                edges.name_value(e),
                edges.to_node(e),
            )
        });
        facts.node_edges(&snap.types, from, run, &mut |_| {});
    }
    facts.end_edges(&mut |_| {});
    facts.finish(|k| k);
    Some(facts)
}

/// Rule 2's owners, worked out in `facts.slot` for the nodes that turn out to be stores (the
/// predicate returned): the one node that is not a store whose non-weak edges reach the store
/// through stores alone, or `UNSEEN`, `SHARED`. The least fixpoint of a monotone lattice
/// (`UNSEEN`, one owner, `SHARED`): the slots hold each store's direct retainers among other
/// nodes already, and the few store-to-store edges carry owners on from there.
fn owners<'a>(
    snap: &'a Snapshot,
    facts: &mut DevToolsFacts,
    types: &'a Types,
    detached: &'a Bits,
) -> impl Fn(usize) -> bool + 'a {
    let is = move |i: usize, t: Option<u8>| t == Some(snap.node_type_index(i));
    let external = (0..snap.name_count() as u32)
        .find(|&k| snap.name_by_index(k) == "system / ExternalStringData");
    let store = move |i: usize| {
        is(i, types.hidden)
            || is(i, types.array)
            || (is(i, types.native) && Some(snap.name_index(i)) == external && !detached.get(i))
    };
    let join = |o: u32, mine: u32| match o {
        UNSEEN => mine,
        o if o == mine || o == SHARED => o,
        _ => SHARED,
    };
    let slot = &mut facts.slot;
    // Native nodes that turned out not to be stores reach stores as owners of their own.
    let mut from_stores: Vec<(u32, u32)> = Vec::new();
    for &(from, to, _) in &facts.between {
        let (f, t) = (from as usize, to as usize);
        if !store(t) {
            continue;
        }
        if store(f) {
            from_stores.push((from, to));
        } else {
            slot[t] = join(slot[t], from);
        }
    }
    from_stores.sort_unstable();
    let mut work: Vec<u32> = from_stores.iter().map(|&(f, _)| f).collect();
    work.dedup();
    while let Some(f) = work.pop() {
        let mine = slot[f as usize];
        if mine == UNSEEN {
            continue;
        }
        for t in targets_of(&from_stores, f) {
            let joined = join(slot[t as usize], mine);
            if joined != slot[t as usize] {
                slot[t as usize] = joined;
                work.push(t);
            }
        }
    }
    store
}

/// The targets of the edges from `from` among `edges`, sorted by source.
fn targets_of(edges: &[(u32, u32)], from: u32) -> impl Iterator<Item = u32> + '_ {
    let at = edges.partition_point(|&(f, _)| f < from);
    edges[at..]
        .iter()
        .take_while(move |&&(f, _)| f == from)
        .map(|&(_, t)| t)
}

/// DevTools groups DOM wrappers by tag: `<div id="a">` → `<div>`, `Detached <li x>` →
/// `Detached <li>`.
fn fold_tag(name: &str) -> String {
    crate::classes::devtools_object_class(name).into_owned()
}

/// A bitset of node indices.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
}

/// Rule 1: the native nodes DevTools shows as detached.
fn detached_nodes(
    snap: &Snapshot,
    facts: &DevToolsFacts,
    types: &Types,
    hidden: Option<u8>,
) -> Bits {
    let n = snap.node_count();
    let mut detached = Bits::new(n);
    if !snap.has_detachedness {
        return detached;
    }
    let native = |i: usize| types.native == Some(snap.node_type_index(i));
    let mut visited = Bits::new(n);
    let (mut attached_work, mut detached_work) = (Vec::new(), Vec::new());
    // Known states in node order, as DevTools visits them.
    let (mut a, mut d) = (
        snap.attached.iter().peekable(),
        snap.detached.iter().peekable(),
    );
    loop {
        let (i, is_detached) = match (a.peek(), d.peek()) {
            (Some(&&x), Some(&&y)) if x < y => (a.next().map(|_| x), false),
            (Some(_), Some(&&y)) => (d.next().map(|_| y), true),
            (Some(&&x), None) => (a.next().map(|_| x), false),
            (None, Some(&&y)) => (d.next().map(|_| y), true),
            (None, None) => break,
        };
        let i = i.expect("peeked") as usize;
        if visited.get(i) {
            continue;
        }
        visited.set(i);
        if !native(i) {
            continue;
        }
        if is_detached {
            detached.set(i);
            detached_work.push(i);
        } else {
            attached_work.push(i);
        }
    }
    // The state spreads over native-to-native edges, neither weak nor hidden, only (the sets
    // reached do not depend on the order of the walk), which the facts keep among their
    // non-weak store-to-store edges.
    let mut links: Vec<(u32, u32)> = facts
        .between
        .iter()
        .filter(|&&(f, t, ty)| Some(ty) != hidden && native(f as usize) && native(t as usize))
        .map(|&(f, t, _)| (f, t))
        .collect();
    links.sort_unstable();
    // From each node in `work`, every native not yet visited takes its state (`mark`) and
    // spreads it further; attached first, so the detached reach only what attached did not.
    let mut spread = |mut work: Vec<usize>, mut mark: Option<&mut Bits>| {
        while let Some(i) = work.pop() {
            for t in targets_of(&links, i as u32) {
                let t = t as usize;
                if visited.get(t) {
                    continue;
                }
                visited.set(t);
                if let Some(m) = mark.as_deref_mut() {
                    m.set(t);
                }
                work.push(t);
            }
        }
    };
    spread(attached_work, None);
    spread(detached_work, Some(&mut detached));
    detached
}

/// A property set seen while inferring interfaces.
struct Candidate {
    /// First-seen order, DevTools' tie-break.
    order: usize,
    /// Property ids in edge order.
    props: Vec<u32>,
    count: u64,
}

/// Rule 3: the property sets that name plain objects, most popular first.
struct Interfaces {
    /// (name, sorted property ids) in priority order.
    defs: Vec<(String, Vec<u32>)>,
}

impl Interfaces {
    fn infer(snap: &Snapshot, facts: &DevToolsFacts, types: &Types) -> Interfaces {
        let find = |s: &str| (0..snap.name_count() as u32).find(|&k| snap.name_by_index(k) == s);
        let (proto, object) = (find("__proto__"), find("Object"));
        let mut total = 0u64;
        let mut candidates: Vec<(String, Candidate)> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        // Objects of one shape share a property sequence: its name is built once.
        // Per sequence: its candidate, not seen yet, or empty once `__proto__` is left out.
        const UNSEEN_SEQUENCE: usize = usize::MAX;
        const EMPTY: usize = usize::MAX - 1;
        let mut by_sequence: Vec<usize> = vec![UNSEEN_SEQUENCE; facts.sequences.len()];
        let mut seq: Vec<u32> = Vec::new();
        for i in 0..snap.node_count() {
            if types.object != Some(snap.node_type_index(i)) || Some(snap.name_index(i)) != object {
                continue;
            }
            total += 1;
            let sequence = facts.slot[i] as usize;
            match by_sequence[sequence] {
                UNSEEN_SEQUENCE => {}
                EMPTY => continue,
                k => {
                    candidates[k].1.count += 1;
                    continue;
                }
            }
            seq.clear();
            seq.extend(
                facts.sequences[sequence]
                    .iter()
                    .copied()
                    .filter(|&id| Some(id) != proto),
            );
            if seq.is_empty() {
                by_sequence[sequence] = EMPTY;
                continue;
            }
            let mut name = String::from("{");
            let mut len = 1usize; // UTF-16 units, as JavaScript's `length`
            let mut props = Vec::new();
            for &id in &seq {
                let formatted = format_property(snap.name_by_index(id));
                let flen = formatted.encode_utf16().count();
                if len > 1 && len + flen > MAX_INTERFACE_NAME {
                    break;
                }
                if len != 1 {
                    name.push_str(", ");
                    len += 2;
                }
                name.push_str(&formatted);
                len += flen;
                props.push(id);
            }
            name.push('}');
            let k = *by_name.entry(name.clone()).or_insert_with(|| {
                candidates.push((
                    name,
                    Candidate {
                        order: candidates.len(),
                        props,
                        count: 0,
                    },
                ));
                candidates.len() - 1
            });
            candidates[k].1.count += 1;
            by_sequence[sequence] = k;
        }
        let min = MIN_OBJECTS_PER_INTERFACE.max(total as f64 / MIN_OBJECT_PROPORTION);
        let mut sorted = candidates;
        // DevTools' stable sort by count over first-seen order.
        sorted.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.1.order.cmp(&b.1.order)));
        let defs = sorted
            .into_iter()
            .take_while(|(_, c)| c.count as f64 >= min)
            .map(|(name, mut c)| {
                c.props.sort_unstable();
                (name, c.props)
            })
            .collect();
        Interfaces { defs }
    }

    /// The definition with the most properties all of which the object has (the earliest on a
    /// tie), or `None` (the object stays `Object`).
    fn best(&self, props: &[u32]) -> Option<&str> {
        let mut best: Option<(usize, &str)> = None;
        for (name, def) in &self.defs {
            if best.is_some_and(|(count, _)| count >= def.len()) || !is_subset(def, props) {
                continue;
            }
            best = Some((def.len(), name));
        }
        best.map(|(_, name)| name)
    }
}

/// Whether sorted `small` is a sub-multiset of sorted `big`.
fn is_subset(small: &[u32], big: &[u32]) -> bool {
    let mut j = 0;
    for &x in small {
        while j < big.len() && big[j] < x {
            j += 1;
        }
        if j == big.len() || big[j] != x {
            return false;
        }
        j += 1;
    }
    true
}

/// DevTools' `formatPropertyName`: names with commas, quotes or braces are shown as JSON
/// strings, so that `{a, b}` stays readable.
fn format_property(name: &str) -> String {
    if !name.contains([',', '\'', '"', '{', '}']) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_format_as_devtools_does() {
        assert_eq!(format_property("plain"), "plain");
        assert_eq!(format_property("a,b"), "\"a,b\"");
        assert_eq!(format_property("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(format_property("{x}"), "\"{x}\"");
    }

    #[test]
    fn subsets_are_multisets() {
        assert!(is_subset(&[1, 3], &[1, 2, 3]));
        assert!(!is_subset(&[1, 4], &[1, 2, 3]));
        assert!(!is_subset(&[1, 1], &[1, 2]));
        assert!(is_subset(&[], &[1]));
    }
}
