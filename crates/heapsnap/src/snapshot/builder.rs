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
use super::meta::Meta;
use super::needed::NeededStrings;
use super::options::ParseOptions;
use super::records::{Divisor, RecordBuf};
use super::sinks::{EdgeChecks, EdgeColumns, EdgeSink, NameSink, NodeColumns, NodeSink};
use super::table::{EdgeNameColumn, EdgeTable, IdColumn, NameTable, SizeColumn, Snapshot};
use super::trace::{FunctionSink, NodeTraceColumn, TraceBuilder, TreeScanner};

/// Capacity reserved up front from the header's counts, capped so that a lying header cannot
/// make us allocate before any data proves the size.
const MAX_RESERVE: usize = 1 << 26;

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
