//! Turns the streamed numbers and strings into `Snapshot` tables, checking them as they come.
//!
//! Node names arrive as indices into `strings`, which V8 writes last. While nodes stream past we
//! only remember which string indices are referenced (one bit each); when `strings` streams past
//! we decode just those, in index order, into the names table. A string's names-table id is
//! therefore its rank among the referenced indices, which `finish` computes from the same bits
//! (plus a count per 64 of them) to rewrite the name columns: no per-string remap table, which
//! cost 4 bytes for every string in the file, referenced or not.

use super::devtools_facts::DevToolsFacts;
use super::error::ParseError;
use super::ints::{BatchSink, IntSink};
use super::meta::{Meta, MAX_FIELDS};
use super::needed::NeededStrings;
use super::options::ParseOptions;
use super::strings::StringSink;
use super::table::{EdgeNameColumn, EdgeTable, IdColumn, NameTable, SizeColumn, Snapshot};
use super::trace::{FunctionSink, NodeTraceColumn, TraceBuilder, TreeScanner};

/// Capacity reserved up front from the header's counts, capped so that a lying header cannot
/// make us allocate before any data proves the size.
const MAX_RESERVE: usize = 1 << 26;

/// Division by the node width, which every edge needs (to_node is a field offset). A hardware
/// divide per edge showed up in profiles; a multiply by the reciprocal plus a correction does not.
#[derive(Debug, Clone, Copy)]
struct Divisor {
    d: u64,
    recip: u64,
}

impl Divisor {
    fn new(d: u64) -> Self {
        Divisor {
            d,
            recip: u64::MAX / d,
        }
    }

    /// `(n / d, n % d)`. The estimate from the reciprocal is at most 2 below the quotient.
    #[inline]
    fn div_rem(self, n: u64) -> (u64, u64) {
        let mut q = ((u128::from(n) * u128::from(self.recip)) >> 64) as u64;
        let mut r = n - q * self.d;
        while r >= self.d {
            q += 1;
            r -= self.d;
        }
        (q, r)
    }
}

/// The `detachedness` value of a DOM node that is in a document (V8's `kAttached`).
const ATTACHED: u64 = 1;
/// The `detachedness` value of a DOM node that is not in any document (V8's `kDetached`).
const DETACHED: u64 = 2;

#[derive(Debug)]
struct NodeColumns {
    ids: IdColumn,
    types: Vec<u8>,
    /// String indices until `finish`, names-table ids after.
    names: Vec<u32>,
    self_sizes: SizeColumn,
    /// Running edge offsets (`EdgeTable::first`), only when edges are kept or DevTools' facts
    /// gathered (each edge's source node).
    first_edge: Option<Vec<u32>>,
    total_self_size: u64,
    edge_sum: u64,
    max_name: Option<u32>,
    /// Nodes whose `detachedness` says detached, in node order (DOM elements in browser
    /// snapshots; none in Node's).
    detached: Vec<u32>,
    /// Nodes whose `detachedness` says attached, in node order.
    attached: Vec<u32>,
    /// `trace_node_id` per node, kept once one is set (see `trace.rs`).
    traces: NodeTraceColumn,
    rec: RecordBuf,
}

#[derive(Debug)]
struct EdgeColumns {
    keep: bool,
    types: Vec<u8>,
    name_or_index: EdgeNameColumn,
    to_node: Vec<u32>,
    named_type: Vec<bool>,
    records: u64,
    /// Largest string index used as an edge name, with the edge number, for a late range check.
    max_name: Option<(u32, u64)>,
    /// Largest target node index, with the edge number.
    max_to: Option<(u32, u64)>,
    node_width: Divisor,
    /// The checks of `EdgeSink::record` in a form for many edges at once (V8's layout only).
    batch: Option<EdgeChecks>,
    /// With `ParseOptions::devtools_edges` alone: what DevTools' rules read from the edges,
    /// gathered instead of keeping any (set when `edges` begins).
    facts: Option<DevToolsFacts>,
    /// `ParseOptions::devtools_edges` was asked for, and not `keep_edges`.
    devtools_only: bool,
    /// The node whose edges are streaming past, and the edge number where they end.
    src: usize,
    src_end: u64,
    rec: RecordBuf,
}

/// What `EdgeSink::push_batch` checks each edge against, precomputed from the header.
#[derive(Debug)]
struct EdgeChecks {
    types: u64,
    named: [bool; 256],
    /// `to_node` must be below this: the header's node count (or the largest u32 index) times
    /// the node width.
    to_limit: u64,
    multiple: Multiple,
}

/// Divisibility by a constant with one multiply (Granlund and Montgomery): with `d = odd << k`,
/// `n` is a multiple of `d` exactly when `n * odd⁻¹ mod 2^64`, rotated right by `k`, is at most
/// `u64::MAX / d`. No data-dependent branch, unlike `%` or `Divisor::div_rem`.
#[derive(Debug, Clone, Copy)]
struct Multiple {
    inverse: u64,
    shift: u32,
    max: u64,
}

impl Multiple {
    fn new(d: u64) -> Self {
        let shift = d.trailing_zeros();
        let odd = d >> shift;
        // Newton's iteration doubles the correct low bits each step: 3 (odd² ≡ 1 mod 8), 6, ..., 96.
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Multiple {
            inverse,
            shift,
            max: u64::MAX / d,
        }
    }

    /// The rotated product above: at most `max` exactly when `d` divides `n`, and then `n / d`.
    #[inline(always)]
    fn quotient(self, n: u64) -> u64 {
        n.wrapping_mul(self.inverse).rotate_right(self.shift)
    }
}

/// Collects the fields of one flat-array record (a node or an edge) as the integers stream by.
#[derive(Debug)]
struct RecordBuf {
    vals: [u64; MAX_FIELDS],
    width: usize,
    field: usize,
}

impl RecordBuf {
    fn new(width: usize) -> Self {
        RecordBuf {
            vals: [0; MAX_FIELDS],
            width,
            field: 0,
        }
    }

    /// Stores the next field; true when that completed a record (now in `vals`).
    #[inline(always)]
    fn push(&mut self, value: u64) -> bool {
        self.vals[self.field] = value;
        self.field += 1;
        if self.field == self.width {
            self.field = 0;
            true
        } else {
            false
        }
    }

    /// Cuts a batch of the array's next numbers at record boundaries, without taking them.
    fn cut<'a>(&self, values: &'a [u64]) -> Records<'a> {
        let (width, field) = (self.width, self.field);
        // The record left open by the last batch, completed from the front of this one.
        let head = if field == 0 {
            0
        } else {
            (width - field).min(values.len())
        };
        let mut first = self.vals;
        first[field..field + head].copy_from_slice(&values[..head]);
        let first_done = field != 0 && field + head == width;
        let rest = &values[head..];
        let (whole, tail) = rest.split_at(rest.len() / width * width);
        let open = if field != 0 && !first_done {
            (first, field + head)
        } else {
            let mut vals = self.vals;
            vals[..tail.len()].copy_from_slice(tail);
            (vals, tail.len())
        };
        Records {
            first: first_done.then_some(first),
            width,
            whole,
            open,
        }
    }

    /// Takes the batch `cut` made: what it leaves open waits for the next one.
    fn take(&mut self, records: &Records<'_>) {
        (self.vals, self.field) = records.open;
    }
}

/// A batch of numbers cut into records (`RecordBuf::cut`).
struct Records<'a> {
    /// The record the last batch left open, when this one completes it.
    first: Option<[u64; MAX_FIELDS]>,
    width: usize,
    /// The records the batch holds whole, end to end.
    whole: &'a [u64],
    /// The record open after the batch: its fields, and how many of them are set.
    open: ([u64; MAX_FIELDS], usize),
}

impl Records<'_> {
    /// Every record the batch completes, in order.
    fn iter(&self) -> impl Iterator<Item = &[u64]> + Clone {
        let first = self.first.as_ref().map(|f| &f[..self.width]);
        first.into_iter().chain(self.whole.chunks_exact(self.width))
    }
}

#[derive(Debug)]
pub(crate) struct Builder {
    meta: Meta,
    nodes: NodeColumns,
    edges: EdgeColumns,
    needed: NeededStrings,
    name_table: NameTable,
    /// Set when `strings` came before `nodes`/`edges` (not V8's order): then every string must
    /// be kept, since we cannot yet know which will be referenced.
    keep_all_strings: bool,
    nodes_done: bool,
    edges_done: bool,
    strings_count: Option<u64>,
    traces: TraceBuilder,
}

fn reserve_hint(count: Option<u64>) -> usize {
    count.map_or(0, |c| c.min(MAX_RESERVE as u64) as usize)
}

impl Builder {
    pub(crate) fn new(meta: Meta, opts: ParseOptions) -> Self {
        let keep_edges = opts.keep_edges;
        let n = reserve_hint(meta.node_count);
        let e = if keep_edges {
            reserve_hint(meta.edge_count)
        } else {
            0
        };
        let named_type = meta
            .edge_type_names
            .iter()
            .map(|t| t != "element" && t != "hidden")
            .collect();
        Builder {
            nodes: NodeColumns {
                ids: IdColumn::with_capacity(n),
                types: Vec::with_capacity(n),
                names: Vec::with_capacity(n),
                self_sizes: SizeColumn::with_capacity(n),
                // DevTools' facts need each edge's source node, so the offsets too.
                first_edge: opts.stores_edges().then(|| {
                    let mut first = Vec::with_capacity(n + 1);
                    first.push(0);
                    first
                }),
                total_self_size: 0,
                edge_sum: 0,
                max_name: None,
                detached: Vec::new(),
                attached: Vec::new(),
                traces: NodeTraceColumn::default(),
                rec: RecordBuf::new(meta.node_width),
            },
            edges: EdgeColumns {
                keep: keep_edges,
                types: Vec::with_capacity(e),
                name_or_index: EdgeNameColumn::with_capacity(e),
                to_node: Vec::with_capacity(e),
                named_type,
                records: 0,
                max_name: None,
                max_to: None,
                node_width: Divisor::new(meta.node_width as u64),
                batch: EdgeChecks::new(&meta),
                facts: None,
                devtools_only: !opts.keep_edges && opts.devtools_edges,
                src: 0,
                src_end: 0,
                rec: RecordBuf::new(meta.edge_width),
            },
            traces: TraceBuilder::new(meta.trace.clone()),
            meta,
            needed: NeededStrings::default(),
            name_table: NameTable::default(),
            keep_all_strings: false,
            nodes_done: false,
            edges_done: false,
            strings_count: None,
        }
    }

    pub(crate) fn node_sink(&mut self) -> NodeSink<'_> {
        NodeSink {
            cols: &mut self.nodes,
            needed: &mut self.needed,
            meta: &self.meta,
        }
    }

    /// Called before the first edge. DevTools' facts need each edge's source and target types,
    /// so the nodes must come first (V8's order); otherwise every edge is kept, and the facts
    /// are read from them later.
    pub(crate) fn begin_edges(&mut self) {
        let c = &mut self.edges;
        if !c.devtools_only {
            return;
        }
        if self.nodes_done {
            let m = &self.meta;
            c.facts = Some(DevToolsFacts::new(
                &self.nodes.types,
                &m.node_type_names,
                &m.edge_type_names,
            ));
            let first = self.nodes.first_edge.as_deref().unwrap_or(&[0]);
            c.src_end = first.get(1).map_or(u64::MAX, |&e| u64::from(e));
        } else {
            c.keep = true;
        }
    }

    pub(crate) fn edge_sink(&mut self) -> EdgeSink<'_> {
        EdgeSink {
            nodes: &mut self.nodes,
            cols: &mut self.edges,
            needed: &mut self.needed,
            meta: &self.meta,
        }
    }

    pub(crate) fn string_sink(&mut self) -> NameSink<'_> {
        NameSink {
            needed: &mut self.needed,
            names: &mut self.name_table,
            keep_all: self.keep_all_strings,
        }
    }

    /// For `trace_function_infos`: its name indices are marked like node names.
    pub(crate) fn function_sink(&mut self) -> FunctionSink<'_> {
        self.traces.function_sink(&mut self.needed)
    }

    pub(crate) fn tree_scanner(&self) -> TreeScanner {
        self.traces.tree_scanner()
    }

    pub(crate) fn end_trace_functions(&mut self, offset: u64) -> Result<(), ParseError> {
        self.traces.end_functions(offset)
    }

    pub(crate) fn end_trace_tree(&mut self, scanner: TreeScanner) {
        self.traces.end_tree(scanner)
    }

    /// Whether strings already read were all kept, so that references found after them
    /// (trace functions written after `strings`) still resolve.
    pub(crate) fn kept_all_strings(&self) -> bool {
        self.keep_all_strings
    }

    /// Called before the first string; decides whether all strings must be kept.
    pub(crate) fn begin_strings(&mut self) {
        let edge_refs = self.edges.keep || self.edges.devtools_only;
        let refs_pending = !self.nodes_done || (edge_refs && !self.edges_done);
        self.keep_all_strings = refs_pending;
        self.needed.prepare_for_scan();
    }

    pub(crate) fn end_strings(&mut self, count: u64) {
        self.strings_count = Some(count);
    }

    /// Checks that the `nodes` array held whole records; `offset` is where it closed.
    pub(crate) fn end_nodes(&mut self, offset: u64) -> Result<(), ParseError> {
        self.nodes_done = true;
        if self.nodes.rec.field != 0 {
            let numbers = self.nodes.types.len() as u64 * self.meta.node_width as u64
                + self.nodes.rec.field as u64;
            return Err(ParseError::corrupt_at(
                offset,
                format!(
                    "the `nodes` array holds {numbers} numbers, not a multiple of the {} node fields",
                    self.meta.node_width
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn end_edges(&mut self, offset: u64) -> Result<(), ParseError> {
        self.edges_done = true;
        if let Some(f) = &mut self.edges.facts {
            let needed = &mut self.needed;
            f.end_edges(&mut |k| needed.mark(k));
        }
        if self.edges.rec.field != 0 {
            let numbers =
                self.edges.records * self.meta.edge_width as u64 + self.edges.rec.field as u64;
            return Err(ParseError::corrupt_at(
                offset,
                format!(
                    "the `edges` array holds {numbers} numbers, not a multiple of the {} edge fields",
                    self.meta.edge_width
                ),
            ));
        }
        Ok(())
    }

    /// Cross-checks the sections against each other and the header, then resolves names.
    pub(crate) fn finish(self) -> Result<Snapshot, ParseError> {
        let Builder {
            meta,
            nodes: mut n,
            edges: e,
            mut needed,
            name_table,
            keep_all_strings,
            strings_count,
            traces,
            ..
        } = self;
        let node_count = n.types.len() as u64;
        let strings_count = strings_count.unwrap_or(0);

        if let Some(want) = meta.node_count {
            if want != node_count {
                return Err(ParseError::corrupt(format!(
                    "snapshot.node_count is {want} but the `nodes` array holds {node_count} nodes"
                )));
            }
        }
        if let Some(want) = meta.edge_count {
            if want != e.records {
                return Err(ParseError::corrupt(format!(
                    "snapshot.edge_count is {want} but the `edges` array holds {} edges",
                    e.records
                )));
            }
        }
        if n.edge_sum != e.records {
            return Err(ParseError::corrupt(format!(
                "the nodes' edge_count fields add up to {} but the `edges` array holds {} edges",
                n.edge_sum, e.records
            )));
        }
        if let Some(max) = n.max_name {
            if u64::from(max) >= strings_count {
                return Err(ParseError::corrupt(format!(
                    "string index out of range: a node name refers to string #{max}, but the \
                     `strings` array holds {strings_count} strings"
                )));
            }
        }
        if let Some((max, edge)) = e.max_name {
            if u64::from(max) >= strings_count {
                return Err(ParseError::corrupt(format!(
                    "string index out of range: edge #{edge} is named by string #{max}, but the \
                     `strings` array holds {strings_count} strings"
                )));
            }
        }
        if let Some((max, edge)) = e.max_to {
            if u64::from(max) >= node_count {
                return Err(ParseError::corrupt(format!(
                    "edge #{edge} points to node #{max}, but there are only {node_count} nodes"
                )));
            }
        }

        // Every index below was validated against `strings_count` above, and every referenced
        // string was kept, in index order: all of them when `keep_all_strings`.
        let to_name_id = if keep_all_strings {
            None
        } else {
            needed.build_rank();
            Some(&needed)
        };
        let name_id = |k: u32| to_name_id.map_or(k, |nd| nd.rank(k));
        let node_traces = std::mem::take(&mut n.traces);
        let traces = traces.finish(node_traces, n.types.len(), strings_count, name_id)?;
        for name in &mut n.names {
            *name = name_id(*name);
        }

        let edges = if e.keep {
            if e.records > u64::from(u32::MAX) {
                return Err(ParseError::Unsupported {
                    detail: format!(
                        "{} edges; keeping edges supports at most {}",
                        e.records,
                        u32::MAX
                    ),
                });
            }
            // Offsets wrapped only if there were more than u32::MAX edges, refused above.
            let first = n.first_edge.take().expect("kept with edges");
            let mut name_or_index = e.name_or_index;
            let (types, named_type) = (&e.types, &e.named_type);
            name_or_index.resolve(|edge| named_type[types[edge] as usize], name_id);
            Some(EdgeTable {
                first,
                types: e.types,
                name_or_index,
                to_node: e.to_node,
                named_type: e.named_type,
            })
        } else {
            None
        };
        let devtools_facts = e.facts.map(|mut f| {
            f.finish(name_id);
            Box::new(f)
        });

        let mut snap = Snapshot {
            node_type_names: meta.node_type_names,
            edge_type_names: meta.edge_type_names,
            ids: n.ids,
            types: n.types,
            names: n.names,
            self_sizes: n.self_sizes,
            name_table,
            total_self_size: n.total_self_size,
            edge_count: e.records as usize,
            edges,
            extra_native_bytes: meta.extra_native_bytes,
            detached: n.detached,
            attached: n.attached,
            has_detachedness: meta.node_detachedness.is_some(),
            traces,
            devtools_facts,
            devtools_view: None,
        };
        snap.shrink();
        Ok(snap)
    }
}

pub(crate) struct NodeSink<'a> {
    cols: &'a mut NodeColumns,
    needed: &'a mut NeededStrings,
    meta: &'a Meta,
}

impl NodeSink<'_> {
    fn record(&mut self) -> Result<(), String> {
        let r = self.cols.rec.vals;
        let index = self.cols.types.len();
        let total = self.check(&r, index, self.cols.total_self_size)?;
        self.commit(&r, index, total);
        Ok(())
    }

    /// The rules a node record must pass; the running total self size with this node's added.
    /// Touches no column, so that a batch can be checked whole before any of it is taken.
    #[inline(always)]
    fn check(&self, r: &[u64], index: usize, total: u64) -> Result<u64, String> {
        let m = self.meta;
        let ty = r[m.node_type];
        if ty >= m.node_type_names.len() as u64 {
            return Err(format!(
                "node #{index} has type index {ty}, but meta.node_types[0] lists only {} types",
                m.node_type_names.len()
            ));
        }
        if r[m.node_name] > u64::from(u32::MAX) {
            return Err(format!(
                "node #{index} has name index {} (overflow)",
                r[m.node_name]
            ));
        }
        if r[m.node_edge_count] > u64::from(u32::MAX) {
            return Err(format!(
                "node #{index} has edge_count {} (overflow)",
                r[m.node_edge_count]
            ));
        }
        if index > u32::MAX as usize {
            return Err(format!("more than {} nodes are not supported", u32::MAX));
        }
        total
            .checked_add(r[m.node_self_size])
            .ok_or_else(|| format!("node #{index}: total self size overflows 64 bits"))
    }

    /// Stores a record that passed `check` (which gave `total`) as node `index`.
    #[inline(always)]
    fn commit(&mut self, r: &[u64], index: usize, total: u64) {
        let c = &mut *self.cols;
        let m = self.meta;
        let name = r[m.node_name] as u32;
        let index32 = index as u32;
        c.total_self_size = total;
        c.edge_sum += r[m.node_edge_count];
        c.ids.push(r[m.node_id]);
        c.types.push(r[m.node_type] as u8);
        c.names.push(name);
        c.self_sizes.push(index32, r[m.node_self_size]);
        if let Some(k) = m.trace.node_trace_id {
            c.traces.push(index, r[k]);
        }
        match m.node_detachedness.map(|k| r[k]) {
            Some(DETACHED) => c.detached.push(index32),
            Some(ATTACHED) => c.attached.push(index32),
            _ => {}
        }
        if let Some(first) = &mut c.first_edge {
            first.push(c.edge_sum as u32);
        }
        c.max_name = Some(c.max_name.map_or(name, |m| m.max(name)));
        self.needed.mark(name);
    }
}

impl IntSink for NodeSink<'_> {
    #[inline(always)]
    fn push(&mut self, value: u64) -> Result<(), String> {
        if self.cols.rec.push(value) {
            self.record()?;
        }
        Ok(())
    }
}

impl BatchSink for NodeSink<'_> {
    /// Checks every record the batch completes, then takes them all; a batch with a bad record
    /// takes nothing and goes through `push` one number at a time for the exact message.
    fn push_batch(&mut self, values: &[u64]) -> bool {
        let records = self.cols.rec.cut(values);
        let start = self.cols.types.len();
        let mut total = self.cols.total_self_size;
        for (index, r) in (start..).zip(records.iter()) {
            match self.check(r, index, total) {
                Ok(t) => total = t,
                Err(_) => return false,
            }
        }
        // All passed: the same walk again, storing.
        let mut total = self.cols.total_self_size;
        let size = self.meta.node_self_size;
        for (index, r) in (start..).zip(records.iter()) {
            total += r[size];
            self.commit(r, index, total);
        }
        self.cols.rec.take(&records);
        true
    }
}

pub(crate) struct EdgeSink<'a> {
    nodes: &'a mut NodeColumns,
    cols: &'a mut EdgeColumns,
    needed: &'a mut NeededStrings,
    meta: &'a Meta,
}

impl EdgeSink<'_> {
    fn record(&mut self) -> Result<(), String> {
        let c = &mut *self.cols;
        let m = self.meta;
        let r = &c.rec.vals;
        let edge = c.records;
        let ty = r[m.edge_type];
        if ty >= m.edge_type_names.len() as u64 {
            return Err(format!(
                "edge #{edge} has type index {ty}, but meta.edge_types[0] lists only {} types",
                m.edge_type_names.len()
            ));
        }
        let to = r[m.edge_to];
        let width = m.node_width as u64;
        let (to_index, rest) = c.node_width.div_rem(to);
        if rest != 0 {
            return Err(format!(
                "edge #{edge} has to_node {to}, which is not a multiple of the node field count {width}"
            ));
        }
        let out_of_range = || {
            format!(
                "edge #{edge} points to node #{to_index}, but snapshot.node_count is {}",
                m.node_count.unwrap_or(0)
            )
        };
        if m.node_count.is_some_and(|n| to_index >= n) {
            return Err(out_of_range());
        }
        let to_index = u32::try_from(to_index).map_err(|_| out_of_range())?;
        let named = c.named_type[ty as usize];
        let name = u32::try_from(r[m.edge_name]).map_err(|_| {
            format!(
                "edge #{edge} has name_or_index {} (overflow)",
                r[m.edge_name]
            )
        })?;
        if named && c.max_name.is_none_or(|(mx, _)| name > mx) {
            c.max_name = Some((name, edge));
        }
        if c.max_to.is_none_or(|(mx, _)| to_index > mx) {
            c.max_to = Some((to_index, edge));
        }
        self.store(edge, ty as u8, named, name, to_index);
        self.cols.records += 1;
        Ok(())
    }

    /// Takes edge number `edge`, which passed the checks: stores it when edges are kept, or
    /// adds it to DevTools' facts.
    #[inline(always)]
    fn store(&mut self, edge: u64, ty: u8, named: bool, name: u32, to_index: u32) {
        let c = &mut *self.cols;
        if c.facts.is_some() {
            let one = [u64::from(ty), u64::from(name), u64::from(to_index)];
            self.gather(edge, &one, |to| to as usize);
            return;
        }
        if !c.keep {
            return;
        }
        if named {
            self.needed.mark(name);
        }
        c.types.push(ty);
        c.name_or_index.push(named, name);
        c.to_node.push(to_index);
    }

    /// Adds edges number `edge`.. (`[type, name or index, to]` records in `flat`, which passed
    /// the checks; `node_of` makes `to` a node index) to DevTools' facts, a run per source node.
    #[inline(always)]
    fn gather(&mut self, mut edge: u64, mut flat: &[u64], node_of: impl Fn(u64) -> usize) {
        let c = &mut *self.cols;
        let Some(facts) = &mut c.facts else {
            return;
        };
        let first = self
            .nodes
            .first_edge
            .as_deref()
            .expect("offsets kept for the facts");
        let needed = &mut *self.needed;
        while !flat.is_empty() {
            while edge >= c.src_end {
                // More edges than the nodes' edge_count fields announce: `finish` refuses the
                // file.
                if c.src + 2 >= first.len() {
                    return;
                }
                c.src += 1;
                c.src_end = u64::from(first[c.src + 1]);
            }
            let k = ((c.src_end - edge) as usize).min(flat.len() / 3);
            let (run, rest) = flat.split_at(3 * k);
            let run = run
                .chunks_exact(3)
                .map(|e| (e[0] as u8, e[1] as u32, node_of(e[2])));
            facts.node_edges(&self.nodes.types, c.src, run, &mut |k| needed.mark(k));
            edge += k as u64;
            flat = rest;
        }
    }
}

impl IntSink for EdgeSink<'_> {
    #[inline(always)]
    fn push(&mut self, value: u64) -> Result<(), String> {
        if self.cols.rec.push(value) {
            self.record()?;
        }
        Ok(())
    }
}

impl EdgeChecks {
    /// Only for V8's edge layout (`type, name_or_index, to_node`).
    fn new(m: &Meta) -> Option<Self> {
        if (m.edge_width, m.edge_type, m.edge_name, m.edge_to) != (3, 0, 1, 2) {
            return None;
        }
        let width = m.node_width as u64;
        // `record` refuses an index the header's count excludes, or one past u32.
        let indices = u64::from(u32::MAX) + 1;
        let nodes = m.node_count.map_or(indices, |n| n.min(indices));
        let mut named = [false; 256];
        for (k, t) in m.edge_type_names.iter().enumerate().take(256) {
            named[k] = t != "element" && t != "hidden";
        }
        Some(EdgeChecks {
            types: m.edge_type_names.len() as u64,
            named,
            to_limit: nodes * width,
            multiple: Multiple::new(width),
        })
    }
}

impl BatchSink for EdgeSink<'_> {
    /// `record`'s checks and bookkeeping for whole runs of edges, on locals that are written
    /// back (and the edges stored, when kept) only when every edge passed: a failing batch goes
    /// through `record` one edge at a time, whose messages say which edge broke which rule.
    fn push_batch(&mut self, values: &[u64]) -> bool {
        let c = &mut *self.cols;
        let Some(k) = &c.batch else {
            return false;
        };
        let records = c.rec.cut(values);
        // Largest named-edge name and largest target so far, as `max + 1` (0: none yet), with
        // the edge where each was first seen, for the range checks at the end (they need the
        // `strings` array, or the node count when the header has none). V8 numbers nodes and
        // strings in the order it meets them, so both rise all through the file: selects, not
        // branches, keep them (`>` on `max + 1` is `record`'s `>` on the value).
        let mut top_name = c.max_name.map_or(0, |(v, _)| u64::from(v) + 1);
        let mut top_name_edge = c.max_name.map_or(0, |(_, e)| e);
        let width = c.node_width.d;
        let mut top_to = c.max_to.map_or(0, |(v, _)| u64::from(v) * width + 1);
        let mut top_to_edge = c.max_to.map_or(0, |(_, e)| e);
        let mut bad = false;
        let first_edge = c.records;
        let mut next = first_edge;
        for e in records.iter() {
            let (ty, name, to) = (e[0], e[1], e[2]);
            let named = k.named[(ty & 255) as usize];
            bad |= (ty >= k.types)
                | (name > u64::from(u32::MAX))
                | (to >= k.to_limit)
                | (k.multiple.quotient(to) > k.multiple.max);
            let name_up = named & (name >= top_name);
            top_name = if name_up { name + 1 } else { top_name };
            top_name_edge = if name_up { next } else { top_name_edge };
            let to_up = to >= top_to;
            top_to = if to_up { to + 1 } else { top_to };
            top_to_edge = if to_up { next } else { top_to_edge };
            next += 1;
        }
        if bad {
            return false;
        }
        c.rec.take(&records);
        c.records = next;
        if top_name > 0 {
            c.max_name = Some(((top_name - 1) as u32, top_name_edge));
        }
        if top_to > 0 {
            c.max_to = Some((((top_to - 1) / width) as u32, top_to_edge));
        }
        // All checked: the type is listed, the name fits u32, `to` is a multiple of the node
        // width below the node count (so the quotient is its node index, in u32).
        let (named, multiple) = (k.named, k.multiple);
        if c.facts.is_some() {
            let node_of = |to| multiple.quotient(to) as usize;
            let mut edge = first_edge;
            if let Some(f) = &records.first {
                self.gather(edge, &f[..3], node_of);
                edge += 1;
            }
            self.gather(edge, records.whole, node_of);
        } else if c.keep {
            for (j, e) in records.iter().enumerate() {
                let ty = e[0] as u8;
                let to_index = multiple.quotient(e[2]) as u32;
                self.store(
                    first_edge + j as u64,
                    ty,
                    named[ty as usize],
                    e[1] as u32,
                    to_index,
                );
            }
        }
        true
    }
}

pub(crate) struct NameSink<'a> {
    needed: &'a mut NeededStrings,
    names: &'a mut NameTable,
    keep_all: bool,
}

impl StringSink for NameSink<'_> {
    #[inline]
    fn wants(&mut self, index: u64) -> bool {
        self.keep_all || self.needed.contains_in_order(index)
    }

    fn keep(&mut self, _index: u64, value: &str) -> Result<(), String> {
        if self.names.len() >= u32::MAX as usize - 1 {
            return Err("too many distinct names".into());
        }
        self.names.push(value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_division_is_exact() {
        for d in 1..=64u64 {
            let div = Divisor::new(d);
            let samples = (0..2000u64)
                .chain([u64::MAX, u64::MAX - 1, u64::MAX / 2, 1 << 63, (1 << 40) + 7])
                .chain((0..64).map(|k| (1u64 << k).wrapping_mul(d).wrapping_sub(1)));
            for n in samples {
                assert_eq!(div.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }
}
