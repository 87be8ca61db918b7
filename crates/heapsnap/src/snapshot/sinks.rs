//! The sinks the parser feeds while `nodes`, `edges` and `strings` stream past, with the columns
//! they fill and the checks each record must pass. `Builder` owns the columns and lends them out as
//! sinks; the sinks know nothing of the builder, so the dependency points one way.

use super::devtools_facts::DevToolsFacts;
use super::ints::{BatchSink, IntSink};
use super::meta::Meta;
use super::needed::NeededStrings;
use super::records::{Divisor, Multiple, RecordBuf};
use super::strings::StringSink;
use super::table::{EdgeNameColumn, IdColumn, NameTable, SizeColumn};
use super::trace::NodeTraceColumn;

/// The `detachedness` value of a DOM node that is in a document (V8's `kAttached`).
const ATTACHED: u64 = 1;
/// The `detachedness` value of a DOM node that is not in any document (V8's `kDetached`).
const DETACHED: u64 = 2;

#[derive(Debug)]
pub(super) struct NodeColumns {
    pub(super) ids: IdColumn,
    pub(super) types: Vec<u8>,
    /// String indices until `finish`, names-table ids after.
    pub(super) names: Vec<u32>,
    pub(super) self_sizes: SizeColumn,
    /// Running edge offsets (`EdgeTable::first`), only when edges are kept or DevTools' facts
    /// gathered (each edge's source node).
    pub(super) first_edge: Option<Vec<u32>>,
    pub(super) total_self_size: u64,
    pub(super) edge_sum: u64,
    pub(super) max_name: Option<u32>,
    /// Nodes whose `detachedness` says detached, in node order (DOM elements in browser
    /// snapshots; none in Node's).
    pub(super) detached: Vec<u32>,
    /// Nodes whose `detachedness` says attached, in node order.
    pub(super) attached: Vec<u32>,
    /// `trace_node_id` per node, kept once one is set (see `trace.rs`).
    pub(super) traces: NodeTraceColumn,
    pub(super) rec: RecordBuf,
}

#[derive(Debug)]
pub(super) struct EdgeColumns {
    pub(super) keep: bool,
    pub(super) types: Vec<u8>,
    pub(super) name_or_index: EdgeNameColumn,
    pub(super) to_node: Vec<u32>,
    pub(super) named_type: Vec<bool>,
    pub(super) records: u64,
    /// Largest string index used as an edge name, with the edge number, for a late range check.
    pub(super) max_name: Option<(u32, u64)>,
    /// Largest target node index, with the edge number.
    pub(super) max_to: Option<(u32, u64)>,
    pub(super) node_width: Divisor,
    /// The checks of `EdgeSink::record` in a form for many edges at once (V8's layout only).
    pub(super) batch: Option<EdgeChecks>,
    /// With `ParseOptions::devtools_edges` alone: what DevTools' rules read from the edges,
    /// gathered instead of keeping any (set when `edges` begins).
    pub(super) facts: Option<DevToolsFacts>,
    /// `ParseOptions::devtools_edges` was asked for, and not `keep_edges`.
    pub(super) devtools_only: bool,
    /// The node whose edges are streaming past, and the edge number where they end.
    pub(super) src: usize,
    pub(super) src_end: u64,
    pub(super) rec: RecordBuf,
}

/// What `EdgeSink::push_batch` checks each edge against, precomputed from the header.
#[derive(Debug)]
pub(super) struct EdgeChecks {
    types: u64,
    named: [bool; 256],
    /// `to_node` must be below this: the header's node count (or the largest u32 index) times
    /// the node width.
    to_limit: u64,
    multiple: Multiple,
}

pub(crate) struct NodeSink<'a> {
    pub(super) cols: &'a mut NodeColumns,
    pub(super) needed: &'a mut NeededStrings,
    pub(super) meta: &'a Meta,
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
    pub(super) nodes: &'a mut NodeColumns,
    pub(super) cols: &'a mut EdgeColumns,
    pub(super) needed: &'a mut NeededStrings,
    pub(super) meta: &'a Meta,
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
    pub(super) fn new(m: &Meta) -> Option<Self> {
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
    pub(super) needed: &'a mut NeededStrings,
    pub(super) names: &'a mut NameTable,
    pub(super) keep_all: bool,
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
