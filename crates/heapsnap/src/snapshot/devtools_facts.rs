//! What Chrome DevTools' comparison rules (`devtools.rs`) read from a snapshot's edges, gathered
//! as the edges stream past so that a file loaded for them stores no edge at all.
//!
//! The rules walk the graph, but over few kinds of edges: into possible backing stores (to find
//! each one's owner), native to native (the detached state), the root's (its user-roots test)
//! and objects' property edges (their property names name plain objects). Per node that is one
//! number, the owner seen so far or the property sequence; the only edges that must be kept are
//! those from one possible store to another, about 7,000 of 33 million in a Node snapshot of
//! 11 million nodes. Keeping the selected edges instead cost 7 bytes each, over half the edges.

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
    // The rest is needed only while edges stream past.
    roles: [Role; 256],
    /// A bit per node: a possible store. Every edge asks this of its target, at random; the
    /// bits fit a core's cache where the type column does not.
    stores: Vec<u64>,
    /// The `weak` and `property` edge types, widened so that a type the header lacks (256)
    /// matches no edge.
    weak: u16,
    property: u16,
    /// Sequence indices by content (emptied by `finish`).
    ids: SequenceIds,
    /// The node whose edges are streaming past, and its role.
    from: usize,
    from_role: Role,
    /// Its property names so far, when it is an object, and their hash.
    current: Vec<u32>,
    hash: u64,
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
                .take(256)
                .position(|t| t == name)
                .map_or(256, |k| k as u16)
        };
        let slot = node_types
            .iter()
            .map(|&t| match roles[t as usize] {
                Role::Store => UNSEEN,
                _ => 0,
            })
            .collect();
        let mut stores = vec![0u64; node_types.len().div_ceil(64)];
        for (i, &t) in node_types.iter().enumerate() {
            stores[i / 64] |= u64::from(roles[t as usize] == Role::Store) << (i % 64);
        }
        let empty: Box<[u32]> = Box::new([]);
        DevToolsFacts {
            slot,
            between: Vec::new(),
            root_targets: Vec::new(),
            sequences: vec![empty],
            roles,
            stores,
            weak: edge_type("weak"),
            property: edge_type("property"),
            ids: SequenceIds::default(),
            from: 0,
            from_role: node_types
                .first()
                .map_or(Role::Other, |&t| roles[t as usize]),
            current: Vec::new(),
            hash: 0,
        }
    }

    /// Takes a run of edges `(type, name or index, to)` of node `from`, runs coming in the order
    /// of their source nodes (a node's edges may come in several). Names the rules will read
    /// are marked in `needed` (once a sequence). The source's role is settled once a run, so
    /// each edge costs only the test of its target and, for an object, of its type.
    #[inline(always)]
    pub(crate) fn node_edges(
        &mut self,
        types: &[u8],
        from: usize,
        edges: impl Iterator<Item = (u8, u32, usize)> + Clone,
        needed: &mut impl FnMut(u32),
    ) {
        if from != self.from {
            if !self.current.is_empty() {
                self.close_object(needed);
            }
            self.from = from;
            self.from_role = types
                .get(from)
                .map_or(Role::Other, |&t| self.roles[t as usize]);
        }
        if from == 0 {
            self.root_targets
                .extend(edges.clone().map(|(_, _, to)| to as u32));
        }
        let from32 = from as u32;
        match self.from_role {
            Role::Store => {
                for (ty, _, to) in edges {
                    if self.holds(ty, to) {
                        self.between.push((from32, to as u32, ty));
                    }
                }
            }
            Role::Other => {
                for (ty, _, to) in edges {
                    if self.holds(ty, to) {
                        self.reach(from32, to);
                    }
                }
            }
            Role::Object => {
                for (ty, name, to) in edges {
                    if self.holds(ty, to) {
                        self.reach(from32, to);
                    }
                    if u16::from(ty) == self.property {
                        self.current.push(name);
                        self.hash = (self.hash.rotate_left(5) ^ u64::from(name)).wrapping_mul(K);
                    }
                }
            }
        }
    }

    /// Whether an edge of type `ty` into node `to` can make it a store's: `to` is a possible
    /// store and the edge is not weak.
    #[inline(always)]
    fn holds(&self, ty: u8, to: usize) -> bool {
        u16::from(ty) != self.weak
            && self
                .stores
                .get(to / 64)
                .is_some_and(|w| w >> (to % 64) & 1 == 1)
    }

    /// Store `to` is reached by `from`, a node of another type: its owner if it has no other.
    #[inline(always)]
    fn reach(&mut self, from: u32, to: usize) {
        let slot = &mut self.slot[to];
        let o = *slot;
        *slot = if o == UNSEEN || o == from {
            from
        } else {
            SHARED
        };
    }

    /// Gives the object whose edges just ended (with property names in `current`) the index of
    /// its property sequence.
    #[inline(never)]
    fn close_object(&mut self, needed: &mut impl FnMut(u32)) {
        let k = self.ids.find(self.hash, &self.current, &self.sequences);
        let k = k.unwrap_or_else(|| {
            let k = self.sequences.len() as u32;
            self.current.iter().for_each(|&name| needed(name));
            self.sequences.push(self.current.as_slice().into());
            self.ids.insert(self.hash, k);
            k
        });
        self.slot[self.from] = k;
        self.current.clear();
        self.hash = 0;
    }

    /// After the last edge: the last object's sequence, whose new names go to `needed`.
    pub(crate) fn end_edges(&mut self, needed: &mut impl FnMut(u32)) {
        if !self.current.is_empty() {
            self.close_object(needed);
        }
    }

    /// Ends gathering: property names become names-table ids (`name_id`).
    pub(crate) fn finish(&mut self, name_id: impl Fn(u32) -> u32) {
        self.ids = SequenceIds::default();
        self.stores = Vec::new();
        self.current = Vec::new();
        for seq in &mut self.sequences {
            for k in seq.iter_mut() {
                *k = name_id(*k);
            }
        }
        self.between.shrink_to_fit();
        self.root_targets.shrink_to_fit();
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

/// The multiplier of the sequences' running hash (a large odd constant, as Fx hashing uses).
const K: u64 = 0x517c_c1b7_2722_0a95;

/// Sequence indices by hash, open addressing over a power-of-two table: objects look theirs up
/// one at a time (millions of them, a few thousand shapes), and a hash kept up while the names
/// stream in leaves each lookup one probe and one comparison in the common case.
#[derive(Debug, Clone, Default)]
struct SequenceIds {
    /// `(hash, index + 1)`, 0 for a free entry.
    table: Vec<(u64, u32)>,
    len: usize,
}

impl SequenceIds {
    fn find(&self, hash: u64, seq: &[u32], sequences: &[Box<[u32]>]) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut at = (hash >> 32) as usize & mask;
        loop {
            match self.table[at] {
                (_, 0) => return None,
                (h, k) if h == hash && same(&sequences[k as usize - 1], seq) => return Some(k - 1),
                _ => at = (at + 1) & mask,
            }
        }
    }

    fn insert(&mut self, hash: u64, k: u32) {
        if 2 * (self.len + 1) > self.table.len() {
            let old = std::mem::take(&mut self.table);
            self.table = vec![(0, 0); (old.len() * 2).max(64)];
            for (h, v) in old.into_iter().filter(|&(_, v)| v != 0) {
                self.place(h, v);
            }
        }
        self.place(hash, k + 1);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, v: u32) {
        let mask = self.table.len() - 1;
        let mut at = (hash >> 32) as usize & mask;
        while self.table[at].1 != 0 {
            at = (at + 1) & mask;
        }
        self.table[at] = (hash, v);
    }
}

/// Slice equality without a call to `memcmp`, for sequences of a few names.
#[inline]
fn same(a: &[u32], b: &[u32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}
