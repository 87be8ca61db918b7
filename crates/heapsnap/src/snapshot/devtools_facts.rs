//! What Chrome DevTools' comparison rules (`devtools.rs`) read from a snapshot's edges, gathered
//! as the edges stream past so that a file loaded for them stores no edge at all.
//!
//! The rules walk the graph, but over few kinds of edges: into possible backing stores (to find
//! each one's owner), native to native (the detached state), the root's (its user-roots test)
//! and objects' property edges (their property names name plain objects). Per node that is one
//! number, the owner seen so far or the property sequence; the only edges that must be kept are
//! those from one possible store to another, about 7,000 of 33 million in a Node snapshot of
//! 11 million nodes. Keeping the selected edges instead cost 7 bytes each, over half the edges.

use std::collections::HashMap;

use super::table::Snapshot;

/// A possible backing store that no node of another type reaches (yet).
pub(crate) const UNSEEN: u32 = u32::MAX;
/// A possible backing store that several nodes of other types reach.
pub(crate) const SHARED: u32 = u32::MAX - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Other,
    /// Hidden, array and native nodes: which of them are backing stores depends on names and
    /// the detached state, known only once strings are read and the rules run.
    Store,
    Object,
}

/// See the module documentation; `DevToolsView::new` turns this into classes and sizes.
#[derive(Debug, Clone)]
pub(crate) struct DevToolsFacts {
    /// Per node: for a possible store, the one node of another type whose non-weak edges reach
    /// it (or `UNSEEN`, `SHARED`); for an object, the index of its property sequence.
    pub(crate) slot: Vec<u32>,
    /// Non-weak edges from one possible store to another, `(from, to, edge type)`.
    pub(crate) between: Vec<(u32, u32, u8)>,
    /// Where the root's edges lead.
    pub(crate) root_targets: Vec<u32>,
    /// Property-name sequences in edge order, `__proto__` included (string indices while
    /// gathering, names-table ids after `finish`); the first is the empty one.
    pub(crate) sequences: Vec<Box<[u32]>>,
    gathering: Option<Box<Gathering>>,
}

/// State needed only while edges stream past.
#[derive(Debug, Clone)]
struct Gathering {
    roles: [Role; 256],
    weak: Option<u8>,
    property: Option<u8>,
    ids: HashMap<Box<[u32]>, u32>,
    /// The object whose property names `current` holds, if any.
    object: Option<usize>,
    current: Vec<u32>,
}

impl DevToolsFacts {
    /// Ready for the edges of nodes of these types, in the snapshot's order.
    pub(crate) fn new(
        node_types: &[u8],
        type_names: &[String],
        edge_type_names: &[String],
    ) -> Self {
        let mut roles = [Role::Other; 256];
        for (k, t) in type_names.iter().enumerate().take(256) {
            roles[k] = match t.as_str() {
                "hidden" | "array" | "native" => Role::Store,
                "object" => Role::Object,
                _ => Role::Other,
            };
        }
        let edge_type = |name: &str| {
            edge_type_names
                .iter()
                .position(|t| t == name)
                .map(|k| k as u8)
        };
        let slot = node_types
            .iter()
            .map(|&t| match roles[t as usize] {
                Role::Store => UNSEEN,
                _ => 0,
            })
            .collect();
        let empty: Box<[u32]> = Box::new([]);
        DevToolsFacts {
            slot,
            between: Vec::new(),
            root_targets: Vec::new(),
            sequences: vec![empty.clone()],
            gathering: Some(Box::new(Gathering {
                roles,
                weak: edge_type("weak"),
                property: edge_type("property"),
                ids: HashMap::from([(empty, 0)]),
                object: None,
                current: Vec::new(),
            })),
        }
    }

    /// Takes edge `from → to` (type `ty`, name or index `name`), edges coming in the order of
    /// their source nodes. True when `name` is a property name the rules will read.
    #[inline]
    pub(crate) fn edge(&mut self, types: &[u8], from: usize, ty: u8, name: u32, to: usize) -> bool {
        let g = self.gathering.as_mut().expect("gathering until finish");
        if g.object.is_some_and(|o| o != from) {
            self.close_object();
        }
        let g = self.gathering.as_mut().expect("gathering until finish");
        if from == 0 {
            self.root_targets.push(to as u32);
        }
        let role = |i: usize| types.get(i).map_or(Role::Other, |&t| g.roles[t as usize]);
        let source = role(from);
        if Some(ty) != g.weak && role(to) == Role::Store {
            if source == Role::Store {
                self.between.push((from as u32, to as u32, ty));
            } else {
                let slot = &mut self.slot[to];
                *slot = match *slot {
                    UNSEEN => from as u32,
                    o if o == from as u32 => o,
                    _ => SHARED,
                };
            }
        }
        if source == Role::Object && Some(ty) == g.property {
            g.object = Some(from);
            g.current.push(name);
            return true;
        }
        false
    }

    /// Gives the object whose edges just ended its property sequence's index.
    fn close_object(&mut self) {
        let g = self.gathering.as_mut().expect("gathering until finish");
        let Some(object) = g.object.take() else {
            return;
        };
        // Objects of one shape tend to come together: the last sequence first.
        let last = self.sequences.len() - 1;
        let k = if *self.sequences[last] == *g.current {
            last as u32
        } else if let Some(&k) = g.ids.get(g.current.as_slice()) {
            k
        } else {
            let seq: Box<[u32]> = g.current.as_slice().into();
            self.sequences.push(seq.clone());
            g.ids.insert(seq, last as u32 + 1);
            last as u32 + 1
        };
        self.slot[object] = k;
        g.current.clear();
    }

    /// Ends gathering: property names become names-table ids (`name_id`).
    pub(crate) fn finish(&mut self, name_id: impl Fn(u32) -> u32) {
        self.close_object();
        self.gathering = None;
        for seq in &mut self.sequences {
            for k in seq.iter_mut() {
                *k = name_id(*k);
            }
        }
        self.between.shrink_to_fit();
        self.root_targets.shrink_to_fit();
    }

    /// The same facts from a snapshot's full edge table (`None` without one).
    pub(crate) fn from_edges(snap: &Snapshot) -> Option<Self> {
        let edges = snap.edges()?;
        let mut facts =
            DevToolsFacts::new(&snap.types, snap.node_type_names(), snap.edge_type_names());
        for from in 0..snap.node_count() {
            for e in edges.range(from) {
                let ty = edges.edge_type_index(e);
                facts.edge(&snap.types, from, ty, edges.name_value(e), edges.to_node(e));
            }
        }
        facts.finish(|k| k);
        Some(facts)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slot.capacity() * size_of::<u32>()
            + self.between.capacity() * size_of::<(u32, u32, u8)>()
            + self.root_targets.capacity() * size_of::<u32>()
            + self
                .sequences
                .iter()
                .map(|s| size_of_val(&**s) + size_of::<Box<[u32]>>())
                .sum::<usize>()
    }
}
