//! Compact, struct-of-arrays tables for a parsed snapshot.
//!
//! Snapshots of large heaps hold tens of millions of nodes, so each column uses the narrowest
//! type that real snapshots fit in, with a rare-case escape hatch instead of widening everything:
//! ids are `u32` until one does not fit, self sizes are `u32` with a side list for the few huge
//! (native) ones. Names live in one text arena holding only strings that nodes (and, with edges
//! kept, edge names) refer to, never the whole string table.

use std::mem::size_of;
use std::ops::Range;

use super::trace::{AllocationFrame, Traces};

/// Node ids: V8 ids are 32-bit, so `u32` until a foreign writer proves otherwise.
#[derive(Debug, Clone)]
pub(crate) enum IdColumn {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl IdColumn {
    pub(crate) fn with_capacity(n: usize) -> Self {
        IdColumn::Narrow(Vec::with_capacity(n))
    }

    #[inline]
    pub(crate) fn push(&mut self, id: u64) {
        match self {
            IdColumn::Narrow(v) => match u32::try_from(id) {
                Ok(small) => v.push(small),
                Err(_) => {
                    let mut wide: Vec<u64> = Vec::with_capacity(v.capacity());
                    wide.extend(v.iter().map(|&x| u64::from(x)));
                    wide.push(id);
                    *self = IdColumn::Wide(wide);
                }
            },
            IdColumn::Wide(v) => v.push(id),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u64 {
        match self {
            IdColumn::Narrow(v) => u64::from(v[i]),
            IdColumn::Wide(v) => v[i],
        }
    }

    pub(crate) fn is_narrow(&self) -> bool {
        matches!(self, IdColumn::Narrow(_))
    }

    fn heap_bytes(&self) -> usize {
        match self {
            IdColumn::Narrow(v) => v.capacity() * size_of::<u32>(),
            IdColumn::Wide(v) => v.capacity() * size_of::<u64>(),
        }
    }

    fn shrink(&mut self) {
        match self {
            IdColumn::Narrow(v) => v.shrink_to_fit(),
            IdColumn::Wide(v) => v.shrink_to_fit(),
        }
    }
}

/// Self sizes: `u32` per node; values that do not fit (multi-GiB native buffers) are kept in a
/// sorted side list, marked by `u32::MAX` in the main column.
#[derive(Debug, Clone, Default)]
pub(crate) struct SizeColumn {
    small: Vec<u32>,
    big: Vec<(u32, u64)>,
}

impl SizeColumn {
    pub(crate) fn with_capacity(n: usize) -> Self {
        SizeColumn {
            small: Vec::with_capacity(n),
            big: Vec::new(),
        }
    }

    /// `node` must equal the current length (nodes arrive in order, keeping `big` sorted).
    #[inline]
    pub(crate) fn push(&mut self, node: u32, size: u64) {
        match u32::try_from(size) {
            Ok(s) if s != u32::MAX => self.small.push(s),
            _ => {
                self.small.push(u32::MAX);
                self.big.push((node, size));
            }
        }
    }

    /// Replaces node `i`'s size (DevTools' view moves stores' sizes to their owners).
    pub(crate) fn set(&mut self, i: usize, size: u64) {
        let at = self.big.binary_search_by_key(&(i as u32), |&(n, _)| n);
        match (u32::try_from(size), at) {
            (Ok(s), at) if s != u32::MAX => {
                self.small[i] = s;
                if let Ok(k) = at {
                    self.big.remove(k);
                }
            }
            (_, Ok(k)) => self.big[k].1 = size,
            (_, Err(k)) => {
                self.small[i] = u32::MAX;
                self.big.insert(k, (i as u32, size));
            }
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> u64 {
        let s = self.small[i];
        if s != u32::MAX {
            return u64::from(s);
        }
        match self.big.binary_search_by_key(&(i as u32), |&(n, _)| n) {
            Ok(k) => self.big[k].1,
            Err(_) => u64::from(s),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.small.capacity() * size_of::<u32>() + self.big.capacity() * size_of::<(u32, u64)>()
    }

    fn shrink(&mut self) {
        self.small.shrink_to_fit();
        self.big.shrink_to_fit();
    }
}

/// Distinct strings in one arena; an index per string. Shared by every node with that name.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameTable {
    text: String,
    ends: Vec<usize>,
}

impl NameTable {
    pub(crate) fn push(&mut self, s: &str) -> u32 {
        let id = self.ends.len() as u32;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        id
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    pub(crate) fn get(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.text[start..self.ends[id]]
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * size_of::<usize>()
    }

    fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// The name of an edge: a property/context/internal name, or an element/hidden index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeName<'a> {
    /// The name of a named edge (all types but `element` and `hidden`).
    Name(&'a str),
    /// The index of an `element` or `hidden` edge.
    Index(u32),
}

/// Marks an edge whose name or index is in `EdgeNameColumn::wide`.
const WIDE: u16 = u16::MAX;

/// String indices past this are not given a dense edge-name id (the lookup would grow large on a
/// corrupt or exotic file); such names go to the wide list instead.
const DENSE_LOOKUP_LIMIT: u32 = 1 << 24;

/// Edges per block of the wide-entry index: a lookup scans at most this many `u16`s.
const WIDE_BLOCK: usize = 1024;

/// Edge names and indices in two bytes per edge, a third of the edge table's memory.
///
/// Property, context and internal edge names are a few thousand distinct strings however large
/// the heap, so a named edge stores a dense id into `names`; element and hidden indices are
/// stored as they are. What does not fit (indices into arrays past 65534 elements, the numbered
/// slots of a big Map's hash table, which V8 names with decimal strings) goes to `wide`, in edge
/// order, without the edge number: a count of wide edges per block finds an edge's entry with a
/// short scan, and names are only looked up for the few edges on reported paths.
#[derive(Debug, Clone, Default)]
pub(crate) struct EdgeNameColumn {
    narrow: Vec<u16>,
    wide: Vec<u32>,
    /// Per block of `WIDE_BLOCK` edges: the number of wide edges before the block.
    wide_before: Vec<u32>,
    /// Dense edge-name id -> string index while parsing, names-table id after `resolve`.
    names: Vec<u32>,
    /// While parsing: string index -> dense id + 1 (0: not seen yet).
    dense_of: Vec<u16>,
}

impl EdgeNameColumn {
    pub(crate) fn with_capacity(n: usize) -> Self {
        EdgeNameColumn {
            narrow: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    /// Appends edge number `edge`'s name (a string index) or index.
    #[inline]
    pub(crate) fn push(&mut self, named: bool, value: u32) {
        if self.narrow.len().is_multiple_of(WIDE_BLOCK) {
            self.wide_before.push(self.wide.len() as u32);
        }
        let small = if named {
            self.dense(value)
        } else {
            Some(value)
        };
        match small {
            Some(v) if v < u32::from(WIDE) => self.narrow.push(v as u16),
            _ => {
                self.narrow.push(WIDE);
                self.wide.push(value);
            }
        }
    }

    #[inline]
    fn dense(&mut self, k: u32) -> Option<u32> {
        if k >= DENSE_LOOKUP_LIMIT {
            return None;
        }
        let k = k as usize;
        if k >= self.dense_of.len() {
            self.dense_of.resize(k + 1, 0);
        }
        match self.dense_of[k] {
            0 if self.names.len() >= usize::from(WIDE - 1) => None,
            0 => {
                self.names.push(k as u32);
                self.dense_of[k] = self.names.len() as u16;
                Some(self.names.len() as u32 - 1)
            }
            d => Some(u32::from(d) - 1),
        }
    }

    /// Turns string indices into names-table ids once the string table has been read.
    pub(crate) fn resolve(
        &mut self,
        is_named: impl Fn(usize) -> bool,
        name_id: impl Fn(u32) -> u32,
    ) {
        for n in &mut self.names {
            *n = name_id(*n);
        }
        let mut k = 0;
        for (e, &v) in self.narrow.iter().enumerate() {
            if v == WIDE {
                if is_named(e) {
                    self.wide[k] = name_id(self.wide[k]);
                }
                k += 1;
            }
        }
        self.dense_of = Vec::new();
    }

    /// The names-table id (named edges) or index of edge `e`.
    #[inline]
    pub(crate) fn get(&self, e: usize, named: bool) -> u32 {
        match self.narrow[e] {
            WIDE => {
                let block = e / WIDE_BLOCK;
                let before = self.narrow[block * WIDE_BLOCK..e]
                    .iter()
                    .filter(|&&v| v == WIDE)
                    .count();
                self.wide[self.wide_before[block] as usize + before]
            }
            v if named => self.names[usize::from(v)],
            v => u32::from(v),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.narrow.capacity() * size_of::<u16>()
            + self.wide.capacity() * size_of::<u32>()
            + self.wide_before.capacity() * size_of::<u32>()
            + self.names.capacity() * size_of::<u32>()
            + self.dense_of.capacity() * size_of::<u16>()
    }

    fn shrink(&mut self) {
        self.narrow.shrink_to_fit();
        self.wide.shrink_to_fit();
        self.wide_before.shrink_to_fit();
        self.names.shrink_to_fit();
    }
}

/// Outgoing edges of every node, kept only with `ParseOptions::keep_edges`. Targets are node
/// indices (not the file's field offsets) so graph walks (retainers, dominators) index columns
/// directly.
#[derive(Debug, Clone, Default)]
pub struct EdgeTable {
    pub(crate) first: Vec<u32>,
    pub(crate) types: Vec<u8>,
    pub(crate) name_or_index: EdgeNameColumn,
    pub(crate) to_node: Vec<u32>,
    /// Per edge type: whether `name_or_index` is a name (all but `element` and `hidden`).
    pub(crate) named_type: Vec<bool>,
}

impl EdgeTable {
    /// Edge indices of node `node`'s outgoing edges.
    pub fn range(&self, node: usize) -> Range<usize> {
        self.first[node] as usize..self.first[node + 1] as usize
    }

    /// Edges in the table: every edge of the file.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the snapshot has no edges at all.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Index into `Snapshot::edge_type_names`.
    pub fn edge_type_index(&self, e: usize) -> u8 {
        self.types[e]
    }

    /// Index of the node edge `e` points to.
    pub fn to_node(&self, e: usize) -> usize {
        self.to_node[e] as usize
    }

    /// Edge `e`'s names-table id (named edge types) or element/hidden index.
    #[inline]
    pub(crate) fn name_value(&self, e: usize) -> u32 {
        self.name_or_index
            .get(e, self.named_type[self.types[e] as usize])
    }

    fn heap_bytes(&self) -> usize {
        self.first.capacity() * size_of::<u32>()
            + self.types.capacity()
            + self.name_or_index.heap_bytes()
            + self.to_node.capacity() * size_of::<u32>()
            + self.named_type.capacity()
    }

    fn shrink(&mut self) {
        self.first.shrink_to_fit();
        self.types.shrink_to_fit();
        self.name_or_index.shrink();
        self.to_node.shrink_to_fit();
    }
}

/// A parsed heap snapshot: per-node columns indexed by node index (position in `nodes`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) node_type_names: Vec<String>,
    pub(crate) edge_type_names: Vec<String>,
    pub(crate) ids: IdColumn,
    pub(crate) types: Vec<u8>,
    pub(crate) names: Vec<u32>,
    pub(crate) self_sizes: SizeColumn,
    pub(crate) name_table: NameTable,
    pub(crate) total_self_size: u64,
    pub(crate) edge_count: usize,
    pub(crate) edges: Option<EdgeTable>,
    pub(crate) extra_native_bytes: Option<u64>,
    /// Indices of detached DOM nodes, ascending; empty for Node's snapshots.
    pub(crate) detached: Vec<u32>,
    /// Indices of attached DOM nodes, ascending (DevTools propagates both states).
    pub(crate) attached: Vec<u32>,
    /// Whether the nodes carry a `detachedness` field at all.
    pub(crate) has_detachedness: bool,
    /// Allocation traces, when V8 tracked allocations (see `trace.rs`).
    pub(crate) traces: Option<Box<Traces>>,
    /// What DevTools' rules read from the edges, gathered while parsing with
    /// `ParseOptions::devtools_edges` instead of keeping any edge; dropped once it made the view.
    pub(crate) devtools_facts: Option<Box<super::devtools_facts::DevToolsFacts>>,
    /// DevTools' classes and sizes, made right after parsing (`crate::devtools::settle`).
    pub(crate) devtools_view: Option<Box<crate::devtools::DevToolsView>>,
}

impl Snapshot {
    /// Nodes in the snapshot: node indices run from 0 to this.
    pub fn node_count(&self) -> usize {
        self.types.len()
    }

    /// Number of edges in the file (also when the edges themselves were not kept).
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// The snapshot object id: stable for one object across snapshots of the same process.
    pub fn node_id(&self, i: usize) -> u64 {
        self.ids.get(i)
    }

    /// Index into `node_type_names`.
    pub fn node_type_index(&self, i: usize) -> u8 {
        self.types[i]
    }

    /// Node `i`'s type (`object`, `closure`, `string`, ...).
    pub fn node_type_name(&self, i: usize) -> &str {
        &self.node_type_names[self.types[i] as usize]
    }

    /// Node `i`'s name: a constructor, a function, a string's contents, as its type has it.
    pub fn node_name(&self, i: usize) -> &str {
        self.name_table.get(self.names[i])
    }

    /// Bytes node `i` itself takes, not counting what it keeps alive.
    pub fn self_size(&self, i: usize) -> u64 {
        self.self_sizes.get(i)
    }

    /// Outgoing edge count of node `i`, known when the edge table was kept. Without edges no
    /// per-node count is stored: 4 bytes a node that an id-based diff never reads.
    pub fn node_edge_count(&self, i: usize) -> Option<u32> {
        let t = self.edges()?;
        Some(t.first[i + 1] - t.first[i])
    }

    /// Every node's self size summed: the heap the snapshot saw.
    pub fn total_self_size(&self) -> u64 {
        self.total_self_size
    }

    /// `meta.node_types[0]`: the names of node types, in the file's order.
    pub fn node_type_names(&self) -> &[String] {
        &self.node_type_names
    }

    /// `meta.edge_types[0]`: the names of edge types, in the file's order.
    pub fn edge_type_names(&self) -> &[String] {
        &self.edge_type_names
    }

    /// `snapshot.extra_native_bytes` (written by Node 24 and later).
    pub fn extra_native_bytes(&self) -> Option<u64> {
        self.extra_native_bytes
    }

    /// The edge table, present when parsed with `keep_edges`.
    pub fn edges(&self) -> Option<&EdgeTable> {
        self.edges.as_ref()
    }

    /// The name of edge `e` of the kept edge table.
    pub fn edge_name(&self, e: usize) -> Option<EdgeName<'_>> {
        let t = self.edges.as_ref()?;
        let v = t.name_value(e);
        Some(if t.named_type[t.types[e] as usize] {
            EdgeName::Name(self.name_table.get(v))
        } else {
            EdgeName::Index(v)
        })
    }

    /// Ids of the `object` nodes named `class` (JS objects of that constructor). The name is
    /// resolved to names-table indices once, so the pass over the nodes compares integers.
    pub fn object_ids_of_class(&self, class: &str) -> Vec<u64> {
        let Some(object) = self.node_type_names.iter().position(|t| t == "object") else {
            return Vec::new();
        };
        let names: Vec<u32> = (0..self.name_table.len() as u32)
            .filter(|&k| self.name_table.get(k) == class)
            .collect();
        if names.is_empty() {
            return Vec::new();
        }
        (0..self.node_count())
            .filter(|&i| self.types[i] as usize == object && names.contains(&self.names[i]))
            .map(|i| self.node_id(i))
            .collect()
    }

    /// Names-table index of node `i`; equal indices mean equal names within one snapshot.
    pub(crate) fn name_index(&self, i: usize) -> u32 {
        self.names[i]
    }

    pub(crate) fn name_count(&self) -> usize {
        self.name_table.len()
    }

    pub(crate) fn name_by_index(&self, id: u32) -> &str {
        self.name_table.get(id)
    }

    pub(crate) fn shrink(&mut self) {
        self.ids.shrink();
        self.types.shrink_to_fit();
        self.names.shrink_to_fit();
        self.self_sizes.shrink();
        self.name_table.shrink();
        self.detached.shrink_to_fit();
        self.attached.shrink_to_fit();
        if let Some(e) = &mut self.edges {
            e.shrink();
        }
    }

    /// Bytes of heap memory held by the tables (capacity, not length), for benchmarks.
    pub fn heap_bytes_estimate(&self) -> usize {
        let strings: usize = self
            .node_type_names
            .iter()
            .chain(&self.edge_type_names)
            .map(|s| s.capacity() + size_of::<String>())
            .sum();
        strings
            + self.ids.heap_bytes()
            + self.types.capacity()
            + self.names.capacity() * size_of::<u32>()
            + self.self_sizes.heap_bytes()
            + self.name_table.heap_bytes()
            + self.edges.as_ref().map_or(0, EdgeTable::heap_bytes)
            + self.traces.as_ref().map_or(0, |t| t.heap_bytes())
            + self.devtools_facts.as_ref().map_or(0, |f| f.heap_bytes())
            + self.devtools_view.as_ref().map_or(0, |v| v.heap_bytes())
    }
}

/// Allocation stacks, from the traces V8 writes while it tracks allocations (see `trace.rs`).
impl Snapshot {
    /// Whether the snapshot carries allocation traces (V8 tracked allocations while it was
    /// taken). Without them no node has an allocation stack.
    pub fn has_allocation_traces(&self) -> bool {
        self.traces.is_some()
    }

    /// The trace-tree node node `i` was allocated under, if V8 recorded one.
    #[inline]
    pub(crate) fn trace_of(&self, i: usize) -> Option<u32> {
        self.traces.as_ref()?.trace_of(i)
    }

    /// The frames of trace-tree node `t`, allocating function first, out to the outermost
    /// caller; the top-level node (no frame) is not one.
    pub(crate) fn trace_frames(&self, t: u32) -> Vec<AllocationFrame<'_>> {
        let Some(traces) = self.traces.as_ref() else {
            return Vec::new();
        };
        traces.frames(t, |k| self.name_by_index(k))
    }

    /// The allocation stack of node `i`, allocating function first; `None` when V8 recorded no
    /// stack for it (no traces, allocated before tracking began, or by native code with no
    /// JavaScript on the stack).
    pub fn allocation_stack(&self, i: usize) -> Option<Vec<AllocationFrame<'_>>> {
        let frames = self.trace_frames(self.trace_of(i)?);
        (!frames.is_empty()).then_some(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_widen_on_demand() {
        let mut c = IdColumn::with_capacity(2);
        c.push(7);
        assert!(c.is_narrow());
        c.push(u64::from(u32::MAX) + 5);
        c.push(9);
        assert!(!c.is_narrow());
        assert_eq!(
            (c.get(0), c.get(1), c.get(2)),
            (7, u64::from(u32::MAX) + 5, 9)
        );
    }

    #[test]
    fn huge_sizes_use_the_side_list() {
        let mut c = SizeColumn::with_capacity(4);
        let big = 6 * (1u64 << 30);
        for (i, s) in [1, big, u64::from(u32::MAX), 3].into_iter().enumerate() {
            c.push(i as u32, s);
        }
        assert_eq!(
            (c.get(0), c.get(1), c.get(2), c.get(3)),
            (1, big, u64::from(u32::MAX), 3)
        );
    }

    #[test]
    fn set_moves_sizes_between_the_column_and_the_side_list() {
        // Sizes grown past u32 (a store moved to its owner) and back, against a plain Vec.
        let values = [
            0,
            5,
            u64::from(u32::MAX) - 1,
            u64::from(u32::MAX),
            1 << 33,
            7 << 40,
        ];
        let mut want: Vec<u64> = (0..40).map(|i| values[i % values.len()]).collect();
        let mut c = SizeColumn::with_capacity(want.len());
        for (i, &s) in want.iter().enumerate() {
            c.push(i as u32, s);
        }
        let mut x = 12345u64;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % want.len();
            let v = values[(x >> 20) as usize % values.len()] + (x >> 60);
            c.set(i, v);
            want[i] = v;
            assert!(
                c.big.windows(2).all(|w| w[0].0 < w[1].0),
                "side list sorted"
            );
        }
        let got: Vec<u64> = (0..want.len()).map(|i| c.get(i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn edge_names_fit_two_bytes_and_spill_what_does_not() {
        // (named, value): small and huge indices, repeated names, more distinct names than
        // the dense ids hold, and a string index past the dense lookup.
        let mut input: Vec<(bool, u32)> = vec![
            (false, 0),
            (false, 65534),
            (false, 65535),
            (false, u32::MAX),
            (true, 7),
            (true, 7),
            (true, DENSE_LOOKUP_LIMIT + 3),
        ];
        input.extend((0..70_000u32).map(|k| (true, 100 + k)));
        input.push((true, 7));
        input.push((false, 12));
        let mut col = EdgeNameColumn::with_capacity(4);
        for &(named, v) in &input {
            col.push(named, v);
        }
        let name_id = |k: u32| k.wrapping_mul(3) ^ 1;
        col.resolve(|e| input[e].0, name_id);
        for (e, &(named, v)) in input.iter().enumerate() {
            let want = if named { name_id(v) } else { v };
            assert_eq!(col.get(e, named), want, "edge {e}");
        }
        assert!(col.narrow.len() == input.len() && col.wide.len() < 10_000);
    }

    #[test]
    fn names_share_an_arena() {
        let mut t = NameTable::default();
        let a = t.push("");
        let b = t.push("Leaky");
        let c = t.push("é");
        assert_eq!((t.get(a), t.get(b), t.get(c)), ("", "Leaky", "é"));
    }
}
