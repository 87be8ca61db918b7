//! Builders for small synthetic snapshots in the layouts different Node versions write.
#![allow(dead_code)]

pub mod memwatch;

use heapsnap::{ParseOptions, Snapshot, SnapshotParser};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Node 20/22: 7 node fields with `trace_node_id`; `wasm object` type.
    Node20,
    /// Node 24/26: 6 node fields; `extra_native_bytes` in the header.
    Node24,
    /// Fields in an unusual order, to prove positions come from meta.
    Shuffled,
}

pub enum EdgeName {
    Str(&'static str),
    Idx(u32),
}

pub struct E {
    pub ty: &'static str,
    pub name: EdgeName,
    pub to: usize,
}

pub struct N {
    pub ty: &'static str,
    pub name: &'static str,
    pub id: u64,
    pub size: u64,
    pub edges: Vec<E>,
    /// Browsers' DOM state: 0 unknown, 1 attached, 2 detached.
    pub detachedness: u64,
}

pub fn n(ty: &'static str, name: &'static str, id: u64, size: u64) -> N {
    N {
        ty,
        name,
        id,
        size,
        edges: Vec::new(),
        detachedness: 0,
    }
}

pub fn prop(name: &'static str, to: usize) -> E {
    E {
        ty: "property",
        name: EdgeName::Str(name),
        to,
    }
}

pub fn elem(i: u32, to: usize) -> E {
    E {
        ty: "element",
        name: EdgeName::Idx(i),
        to,
    }
}

pub const NODE_TYPES_20: &[&str] = &[
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "concatenated string",
    "sliced string",
    "symbol",
    "bigint",
    "object shape",
    "wasm object",
];

pub const EDGE_TYPES: &[&str] = &[
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn list(items: &[&str]) -> String {
    let v: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", v.join(","))
}

/// Builds a snapshot document; `node_types` may add types beyond V8's list.
pub fn build_with_types(layout: Layout, nodes: &[N], node_types: &[&str]) -> String {
    let fields: &[&str] = match layout {
        Layout::Node20 => &[
            "type",
            "name",
            "id",
            "self_size",
            "edge_count",
            "trace_node_id",
            "detachedness",
        ],
        Layout::Node24 => &[
            "type",
            "name",
            "id",
            "self_size",
            "edge_count",
            "detachedness",
        ],
        Layout::Shuffled => &[
            "detachedness",
            "id",
            "edge_count",
            "self_size",
            "name",
            "type",
        ],
    };
    let edge_fields: &[&str] = if layout == Layout::Shuffled {
        &["to_node", "type", "name_or_index"]
    } else {
        &["type", "name_or_index", "to_node"]
    };
    let mut strings: Vec<String> = vec!["<dummy>".into()];
    let mut index: std::collections::HashMap<String, u64> = [("<dummy>".to_owned(), 0)].into();
    let mut intern = |s: &str| -> u64 {
        *index.entry(s.to_owned()).or_insert_with(|| {
            strings.push(s.to_owned());
            (strings.len() - 1) as u64
        })
    };
    let width = fields.len() as u64;
    let mut node_nums = Vec::new();
    let mut edge_nums = Vec::new();
    let mut edge_count = 0;
    for node in nodes {
        let ty = node_types.iter().position(|t| *t == node.ty).unwrap() as u64;
        let name = intern(node.name);
        let rec: Vec<u64> = fields
            .iter()
            .map(|f| match *f {
                "type" => ty,
                "name" => name,
                "id" => node.id,
                "self_size" => node.size,
                "edge_count" => node.edges.len() as u64,
                "detachedness" => node.detachedness,
                _ => 0,
            })
            .collect();
        node_nums.push(rec);
        for e in &node.edges {
            let ty = EDGE_TYPES.iter().position(|t| *t == e.ty).unwrap() as u64;
            let name = match e.name {
                EdgeName::Str(s) => intern(s),
                EdgeName::Idx(i) => u64::from(i),
            };
            let to = e.to as u64 * width;
            let rec: Vec<u64> = edge_fields
                .iter()
                .map(|f| match *f {
                    "type" => ty,
                    "name_or_index" => name,
                    _ => to,
                })
                .collect();
            edge_nums.push(rec);
            edge_count += 1;
        }
    }
    let rows = |recs: &[Vec<u64>]| {
        recs.iter()
            .map(|r| r.iter().map(u64::to_string).collect::<Vec<_>>().join(","))
            .collect::<Vec<_>>()
            .join("\n,")
    };
    let extra = if layout == Layout::Node20 {
        String::new()
    } else {
        ",\"extra_native_bytes\":4096".into()
    };
    let strings_json: Vec<String> = strings.iter().map(|s| json_str(s)).collect();
    format!(
        "{{\"snapshot\":{{\"meta\":{{\"node_fields\":{},\"node_types\":[{},\"string\",\"number\",\"number\",\"number\",\"number\",\"number\"],\"edge_fields\":{},\"edge_types\":[{},\"string_or_number\",\"node\"],\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\",\"line\",\"column\"],\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}},\"node_count\":{},\"edge_count\":{},\"trace_function_count\":0{}}},\n\"nodes\":[{}],\n\"edges\":[{}],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[0,1,2,3],\n\"strings\":[{}]}}\n",
        list(fields),
        list(node_types),
        list(edge_fields),
        list(EDGE_TYPES),
        nodes.len(),
        edge_count,
        extra,
        rows(&node_nums),
        rows(&edge_nums),
        strings_json.join(",\n")
    )
}

pub fn build(layout: Layout, nodes: &[N]) -> String {
    let types: Vec<&str> = if layout == Layout::Node20 {
        NODE_TYPES_20.to_vec()
    } else {
        NODE_TYPES_20[..NODE_TYPES_20.len() - 1].to_vec()
    };
    build_with_types(layout, nodes, &types)
}

pub fn parse_chunked(
    doc: &[u8],
    chunk: usize,
    keep_edges: bool,
) -> Result<Snapshot, heapsnap::ParseError> {
    let mut p = SnapshotParser::new(ParseOptions {
        keep_edges,
        devtools_edges: false,
    });
    for piece in doc.chunks(chunk.max(1)) {
        p.feed(piece)?;
    }
    assert_eq!(p.bytes_consumed(), doc.len() as u64);
    p.finish()
}

pub fn parse(doc: &str) -> Result<Snapshot, heapsnap::ParseError> {
    parse_chunked(doc.as_bytes(), 1 << 20, true)
}

/// Everything observable about a snapshot, for comparing parses.
pub fn fingerprint(s: &Snapshot) -> Vec<String> {
    let mut out = vec![format!(
        "n={} e={} total={} extra={:?} types={:?}",
        s.node_count(),
        s.edge_count(),
        s.total_self_size(),
        s.extra_native_bytes(),
        s.node_type_names()
    )];
    for i in 0..s.node_count() {
        out.push(format!(
            "{} {} {:?} {} {:?}",
            s.node_id(i),
            s.node_type_name(i),
            s.node_name(i),
            s.self_size(i),
            s.node_edge_count(i)
        ));
    }
    if let Some(t) = s.edges() {
        for i in 0..s.node_count() {
            for e in t.range(i) {
                out.push(format!(
                    "{i} -{}-> {} {:?}",
                    s.edge_type_names()[t.edge_type_index(e) as usize],
                    t.to_node(e),
                    s.edge_name(e)
                ));
            }
        }
    }
    out
}

/// A tiny deterministic generator, so fuzz-style tests need no extra crate and reproduce.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The devtools diff of `before` → `after` with all edges and from DevTools' facts gathered
/// while parsing: equal rows, and the facts take less memory than the edges.
pub fn assert_same_devtools_rows(before: &std::path::Path, after: &std::path::Path) {
    let parse = |p: &std::path::Path, keep_edges: bool| {
        let opts = heapsnap::ParseOptions {
            keep_edges,
            devtools_edges: !keep_edges,
        };
        heapsnap::parse_file(p, opts, &mut |_, _| {}).unwrap()
    };
    let opts = heapsnap::DiffOptions {
        grouping: heapsnap::Grouping::DevTools,
        ..Default::default()
    };
    let (full_b, full_a) = (parse(before, true), parse(after, true));
    let (sel_b, sel_a) = (parse(before, false), parse(after, false));
    assert_eq!(
        heapsnap::diff(&full_b, &full_a, &opts),
        heapsnap::diff(&sel_b, &sel_a, &opts)
    );
    // What the facts are for: less memory than the edges, and no edges offered to graph walks.
    let kept = |s: &heapsnap::Snapshot| s.heap_bytes_estimate();
    assert!(
        kept(&sel_a) < kept(&full_a),
        "{} vs {}",
        kept(&sel_a),
        kept(&full_a)
    );
    assert!(sel_a.edges().is_none() && full_a.edges().is_some());
    assert_eq!(sel_a.edge_count(), full_a.edge_count());
}

// The slow, obvious graph reference the ranking and inspection tests share: reachability from
// the root under the traversal rules (weak edges do not retain, shortcuts only from the root),
// dominance by deleting a node, retained size as what a deletion frees.

/// Which nodes the root reaches with `removed` deleted.
pub fn reachable(nodes: &[N], removed: &[usize]) -> Vec<bool> {
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![0usize];
    seen[0] = true;
    while let Some(v) = stack.pop() {
        for e in &nodes[v].edges {
            let retains = e.ty != "weak" && (e.ty != "shortcut" || v == 0);
            if retains && !seen[e.to] && !removed.contains(&e.to) {
                seen[e.to] = true;
                stack.push(e.to);
            }
        }
    }
    seen
}

/// Whether `d` strictly dominates `v`.
pub fn dominates(nodes: &[N], d: usize, v: usize) -> bool {
    d != v && reachable(nodes, &[])[v] && !reachable(nodes, &[d])[v]
}

/// Self size of what becomes unreachable when `removed` are deleted.
pub fn freed(nodes: &[N], removed: &[usize]) -> u64 {
    let (all, rest) = (reachable(nodes, &[]), reachable(nodes, removed));
    (0..nodes.len())
        .filter(|&i| all[i] && !rest[i])
        .map(|i| nodes[i].size)
        .sum()
}
