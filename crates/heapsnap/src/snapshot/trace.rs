//! Allocation traces: where each object was allocated, as V8 records it while allocation
//! tracking is on (`HeapProfiler.startTrackingHeapObjects({ trackAllocations: true })`, the
//! "Allocation instrumentation" of DevTools).
//!
//! Three parts of the file carry them. `trace_function_infos` is a flat integer array of
//! function records (`meta.trace_function_info_fields`: name and script name as string
//! indices, line and column 1-based with 0 for unknown, which V8 writes as position + 1).
//! `trace_tree` is a nested array: each record (`meta.trace_node_fields`) is a tree node with
//! its function and its children as an array of records, one node per distinct call path, the
//! single top-level node standing for no frame at all. A node's `trace_node_id` names the tree
//! node its object was allocated under (0: not recorded, e.g. allocated before tracking began).
//!
//! Function names are string indices and `strings` comes last, so they are resolved with the
//! node names; the tree is read by a resumable scanner of its own, since its records nest.

use std::fmt;

use super::error::{show_byte, ParseError};
use super::ints::IntSink;
use super::meta::{FunctionFields, TraceMeta, TreeFields};
use super::needed::NeededStrings;

/// No parent: a top-level tree node.
const NONE: u32 = u32::MAX;

/// Deeper nesting than this is not a V8 trace tree (V8 records at most 64 frames).
const MAX_DEPTH: usize = 1 << 16;

#[derive(Debug, Clone, Copy)]
struct Function {
    /// String index while parsing, names-table id after `finish`.
    name: u32,
    script: u32,
    line: u32,
    column: u32,
}

#[derive(Debug, Clone, Copy)]
struct TreeNode {
    id: u32,
    function: u32,
    parent: u32,
}

/// The allocation traces of a parsed snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Traces {
    functions: Vec<Function>,
    tree: Vec<TreeNode>,
    /// Per node: its tree node's index + 1, or 0 for none; empty when no node has a trace.
    node_trace: Vec<u32>,
}

impl Traces {
    pub(crate) fn heap_bytes(&self) -> usize {
        self.functions.capacity() * std::mem::size_of::<Function>()
            + self.tree.capacity() * std::mem::size_of::<TreeNode>()
            + self.node_trace.capacity() * 4
    }

    /// The trace-tree node node `i` was allocated under, if V8 recorded one.
    #[inline]
    pub(crate) fn trace_of(&self, i: usize) -> Option<u32> {
        match self.node_trace.get(i) {
            Some(&k) if k != 0 => Some(k - 1),
            _ => None,
        }
    }

    /// The frames of trace-tree node `t`, allocating function first, out to the outermost
    /// caller; the top-level node (no frame) is not one. `name` looks up a names-table id.
    pub(crate) fn frames<'a>(
        &self,
        mut t: u32,
        name: impl Fn(u32) -> &'a str,
    ) -> Vec<AllocationFrame<'a>> {
        let mut frames = Vec::new();
        while let Some(node) = self.tree.get(t as usize) {
            if node.parent == NONE {
                break;
            }
            let f = self.functions[node.function as usize];
            frames.push(AllocationFrame {
                name: name(f.name),
                script: name(f.script),
                line: f.line,
                column: f.column,
            });
            t = node.parent;
        }
        frames
    }
}

/// One frame of an allocation stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationFrame<'a> {
    /// Function name; empty for anonymous functions.
    pub name: &'a str,
    /// Script name or URL; empty when V8 knows none (native code).
    pub script: &'a str,
    /// 1-based line of the function's start, as editors show it; 0 when unknown.
    pub line: u32,
    /// 1-based column of the function's start; 0 when unknown.
    pub column: u32,
}

/// `name (script:line:column)`, the form DevTools and the sampling profiler's stacks use;
/// `(anonymous)` for a nameless function, and the location left out where V8 has none.
impl fmt::Display for AllocationFrame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "(anonymous)"
        } else {
            self.name
        };
        match (self.script.is_empty(), self.line) {
            (true, _) => f.write_str(name),
            (false, 0) => write!(f, "{name} ({})", self.script),
            (false, line) => write!(f, "{name} ({}:{line}:{})", self.script, self.column),
        }
    }
}

/// Per-node `trace_node_id` values, stored only once one is non-zero (Node 20 and 22 write the
/// field, all zeros, even without tracking).
#[derive(Debug, Default)]
pub(crate) struct NodeTraceColumn {
    ids: Option<Vec<u32>>,
    /// The first node with an id too large for a trace-tree id, reported at the end.
    overflow: Option<(usize, u64)>,
}

impl NodeTraceColumn {
    /// Records node `index`'s (the next node's) trace id.
    #[inline]
    pub(crate) fn push(&mut self, index: usize, id: u64) {
        if id == 0 && self.ids.is_none() {
            return;
        }
        let id32 = match u32::try_from(id) {
            Ok(v) => v,
            Err(_) => {
                self.overflow.get_or_insert((index, id));
                0
            }
        };
        let ids = self.ids.get_or_insert_with(|| vec![0; index]);
        ids.push(id32);
    }
}

/// Collects the trace sections while they stream past.
#[derive(Debug, Default)]
pub(crate) struct TraceBuilder {
    meta: TraceMeta,
    functions: Vec<Function>,
    record: Vec<u64>,
    tree: Vec<TreeNode>,
    /// Largest string index a function refers to, with the function's number.
    max_string: Option<(u32, usize)>,
}

impl TraceBuilder {
    pub(crate) fn new(meta: TraceMeta) -> Self {
        TraceBuilder {
            meta,
            ..Default::default()
        }
    }

    /// A scanner for `trace_tree`; the field list must be declared for a non-empty tree.
    pub(crate) fn tree_scanner(&self) -> TreeScanner {
        TreeScanner::new(self.meta.tree_fields)
    }

    pub(crate) fn function_sink<'a>(
        &'a mut self,
        needed: &'a mut NeededStrings,
    ) -> FunctionSink<'a> {
        FunctionSink {
            fields: self.meta.function_fields,
            builder: self,
            needed,
        }
    }

    /// Checks that `trace_function_infos` held whole records; `offset` is where it closed.
    pub(crate) fn end_functions(&mut self, offset: u64) -> Result<(), ParseError> {
        if !self.record.is_empty() {
            let width = self.meta.function_fields.map_or(0, |f| f.width);
            let numbers = self.functions.len() * width + self.record.len();
            return Err(ParseError::corrupt_at(
                offset,
                format!(
                    "the `trace_function_infos` array holds {numbers} numbers, not a multiple \
                     of the {width} fields of meta.trace_function_info_fields"
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn end_tree(&mut self, scanner: TreeScanner) {
        self.tree = scanner.nodes;
    }

    /// Cross-checks the trace sections against each other, the nodes and the string table.
    pub(crate) fn finish(
        self,
        nodes: NodeTraceColumn,
        node_count: usize,
        strings_count: u64,
        name_id: impl Fn(u32) -> u32,
    ) -> Result<Option<Box<Traces>>, ParseError> {
        let TraceBuilder {
            meta,
            mut functions,
            tree,
            max_string,
            ..
        } = self;
        if let Some((index, id)) = nodes.overflow {
            return Err(ParseError::corrupt(format!(
                "node #{index} has trace_node_id {id} (overflow)"
            )));
        }
        if let Some(want) = meta.function_count {
            if want != functions.len() as u64 {
                return Err(ParseError::corrupt(format!(
                    "snapshot.trace_function_count is {want} but the `trace_function_infos` \
                     array holds {} functions",
                    functions.len()
                )));
            }
        }
        if tree.is_empty() && functions.is_empty() && nodes.ids.is_none() {
            return Ok(None);
        }
        if let Some((max, f)) = max_string {
            if u64::from(max) >= strings_count {
                return Err(ParseError::corrupt(format!(
                    "string index out of range: trace function #{f} refers to string #{max}, \
                     but the `strings` array holds {strings_count} strings"
                )));
            }
        }
        for (k, n) in tree.iter().enumerate() {
            if n.function as usize >= functions.len() {
                return Err(ParseError::corrupt(format!(
                    "trace_tree node #{k} (id {}) has function_info_index {}, but \
                     `trace_function_infos` holds {} functions",
                    n.id,
                    n.function,
                    functions.len()
                )));
            }
        }
        let mut by_id: Vec<(u32, u32)> = tree
            .iter()
            .enumerate()
            .map(|(k, n)| (n.id, k as u32))
            .collect();
        by_id.sort_unstable();
        if let Some(w) = by_id.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(ParseError::corrupt(format!(
                "trace_tree has two nodes with id {}",
                w[0].0
            )));
        }
        let mut node_trace = nodes.ids.unwrap_or_default();
        if node_trace.len() > node_count {
            node_trace.truncate(node_count);
        }
        for (i, v) in node_trace.iter_mut().enumerate() {
            if *v == 0 {
                continue;
            }
            match by_id.binary_search_by_key(v, |&(id, _)| id) {
                Ok(k) => *v = by_id[k].1 + 1,
                Err(_) => {
                    return Err(ParseError::corrupt(format!(
                        "node #{i} has trace_node_id {v}, but trace_tree has no node with that id"
                    )))
                }
            }
        }
        for f in &mut functions {
            f.name = name_id(f.name);
            f.script = name_id(f.script);
        }
        let mut tree = tree;
        tree.shrink_to_fit();
        functions.shrink_to_fit();
        node_trace.shrink_to_fit();
        Ok(Some(Box::new(Traces {
            functions,
            tree,
            node_trace,
        })))
    }
}

pub(crate) struct FunctionSink<'a> {
    fields: Option<FunctionFields>,
    builder: &'a mut TraceBuilder,
    needed: &'a mut NeededStrings,
}

impl IntSink for FunctionSink<'_> {
    fn push(&mut self, value: u64) -> Result<(), String> {
        let Some(f) = self.fields else {
            return Err(
                "`trace_function_infos` is not empty but meta.trace_function_info_fields is missing (or lacks name, script_name, line or column)"
                    .into(),
            );
        };
        let b = &mut *self.builder;
        b.record.push(value);
        if b.record.len() < f.width {
            return Ok(());
        }
        let k = b.functions.len();
        let small = |field: usize, what: &str| {
            u32::try_from(b.record[field]).map_err(|_| {
                format!(
                    "trace function #{k} has {what} {} (overflow)",
                    b.record[field]
                )
            })
        };
        let function = Function {
            name: small(f.name, "name index")?,
            script: small(f.script_name, "script_name index")?,
            line: small(f.line, "line")?,
            column: small(f.column, "column")?,
        };
        b.record.clear();
        for s in [function.name, function.script] {
            self.needed.mark(s);
            if b.max_string.is_none_or(|(m, _)| s > m) {
                b.max_string = Some((s, k));
            }
        }
        if k >= u32::MAX as usize - 1 {
            return Err("too many trace functions".into());
        }
        b.functions.push(function);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeState {
    BeforeOpen,
    /// Just after `[`: a value or `]`.
    FirstValue,
    /// Just after `,`: a value.
    Value,
    InNumber,
    AfterValue,
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Level {
    /// Field of the current record the next value fills.
    field: usize,
    /// Tree index of the level's current record.
    node: u32,
}

/// Resumable scanner for the nested `trace_tree` array.
#[derive(Debug)]
pub(crate) struct TreeScanner {
    fields: Option<TreeFields>,
    state: TreeState,
    num: u64,
    digits: u32,
    levels: Vec<Level>,
    nodes: Vec<TreeNode>,
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl TreeScanner {
    fn new(fields: Option<TreeFields>) -> Self {
        TreeScanner {
            fields,
            state: TreeState::BeforeOpen,
            num: 0,
            digits: 0,
            levels: Vec::new(),
            nodes: Vec::new(),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == TreeState::Done
    }

    /// Consumes bytes of `chunk` (which starts at byte `base` of the input) until the array
    /// closes or the chunk ends; returns how many were used.
    pub(crate) fn feed(&mut self, chunk: &[u8], base: u64) -> Result<usize, ParseError> {
        for (k, &b) in chunk.iter().enumerate() {
            let at = base + k as u64;
            let bad = |what: String| {
                ParseError::corrupt_at(at, format!("trace_tree: {what} at byte {at}"))
            };
            match self.state {
                TreeState::Done => return Ok(k),
                TreeState::InNumber if b.is_ascii_digit() => {
                    self.digit(b).map_err(bad)?;
                    continue;
                }
                TreeState::InNumber => {
                    self.end_number().map_err(bad)?;
                    self.state = TreeState::AfterValue;
                }
                _ => {}
            }
            if is_ws(b) {
                continue;
            }
            match (self.state, b) {
                (TreeState::BeforeOpen, b'[') => self.open().map_err(bad)?,
                (TreeState::BeforeOpen, _) => {
                    return Err(bad(format!("expected `[`, found {}", show_byte(b))))
                }
                (TreeState::FirstValue | TreeState::Value, b'[') => self.open().map_err(bad)?,
                (TreeState::FirstValue | TreeState::Value, b'0'..=b'9') => {
                    self.num = 0;
                    self.digits = 0;
                    self.digit(b).map_err(bad)?;
                    self.state = TreeState::InNumber;
                }
                (TreeState::FirstValue | TreeState::AfterValue, b']') => {
                    self.close().map_err(bad)?;
                    if self.state == TreeState::Done {
                        return Ok(k + 1);
                    }
                }
                (TreeState::AfterValue, b',') => self.state = TreeState::Value,
                (state, _) => {
                    let expected = match state {
                        TreeState::AfterValue => "`,` or `]`",
                        TreeState::FirstValue => "a number, `[` or `]`",
                        _ => "a number or `[`",
                    };
                    return Err(bad(format!("expected {expected}, found {}", show_byte(b))));
                }
            }
        }
        Ok(chunk.len())
    }

    fn digit(&mut self, b: u8) -> Result<(), String> {
        self.digits += 1;
        if self.digits > 19 {
            return Err("a number with more than 19 digits".into());
        }
        self.num = self.num * 10 + u64::from(b - b'0');
        Ok(())
    }

    fn fields(&self) -> Result<TreeFields, String> {
        self.fields
            .ok_or_else(|| "not empty but meta.trace_node_fields is missing (or lacks id, function_info_index or children)".into())
    }

    /// Starts the value in the current level's next field; returns the field.
    fn start_value(&mut self) -> Result<Option<usize>, String> {
        let Some(level) = self.levels.last().copied() else {
            return Ok(None);
        };
        self.fields()?;
        if level.field == 0 {
            let parent = match self.levels.len() {
                1 => NONE,
                n => self.levels[n - 2].node,
            };
            let index = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&k| k < NONE)
                .ok_or("more trace nodes than supported")?;
            self.nodes.push(TreeNode {
                id: 0,
                function: 0,
                parent,
            });
            self.levels.last_mut().expect("a level").node = index;
        }
        Ok(Some(level.field))
    }

    fn advance(&mut self) -> Result<(), String> {
        let f = self.fields()?;
        if let Some(level) = self.levels.last_mut() {
            level.field = (level.field + 1) % f.width;
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), String> {
        if let Some(field) = self.start_value()? {
            let f = self.fields()?;
            if field != f.children {
                return Err(format!(
                    "expected a number for field #{field} of a trace node, found `[`"
                ));
            }
        }
        if self.levels.len() >= MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        self.levels.push(Level {
            field: 0,
            node: NONE,
        });
        self.state = TreeState::FirstValue;
        Ok(())
    }

    fn end_number(&mut self) -> Result<(), String> {
        let Some(field) = self.start_value()? else {
            return Err("a number outside the tree's arrays".into());
        };
        let f = self.fields()?;
        let value = self.num;
        let node = self.nodes.last_mut().expect("a node was started");
        let small = |what: &str| {
            u32::try_from(value).map_err(|_| format!("a trace node's {what} {value} (overflow)"))
        };
        if field == f.children {
            return Err("expected the children array of a trace node, found a number".into());
        } else if field == f.id {
            node.id = small("id")?;
        } else if field == f.function_info_index {
            node.function = small("function_info_index")?;
        }
        self.advance()
    }

    fn close(&mut self) -> Result<(), String> {
        let level = self.levels.pop().expect("inside an array");
        if level.field != 0 {
            let width = self.fields.map_or(0, |f| f.width);
            return Err(format!(
                "a trace node record ends after {} of its {width} fields",
                level.field
            ));
        }
        if self.levels.is_empty() {
            self.state = TreeState::Done;
        } else {
            self.advance()?;
            self.state = TreeState::AfterValue;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::snapshot::{ParseError, ParseOptions, Snapshot, SnapshotParser};

    const NODE_FIELDS: &str = r#""node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"]"#;
    const TRACE_FIELDS: &str = r#""trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],
        "trace_node_fields":["id","function_info_index","count","size","children"]"#;

    /// Nodes: the root, `A` allocated under trace node `a`, `B` under `b`.
    fn doc(a: u32, b: u32, functions: &str, tree: &str, extra: &str) -> String {
        format!(
            r#"{{"snapshot":{{"meta":{{{NODE_FIELDS},"node_types":[["hidden","object","synthetic"]],
            "edge_fields":["type","name_or_index","to_node"],"edge_types":[["element"]],{TRACE_FIELDS}}},
            "node_count":3,"edge_count":0{extra}}},
            "nodes":[2,0,1,0,0,0,0, 1,1,3,32,0,{a},0, 1,2,5,8,0,{b},0],"edges":[],
            "trace_function_infos":[{functions}],"trace_tree":{tree},
            "strings":["","A","B","(root)","outer","/x.js","inner"]}}"#
        )
    }

    const FUNCTIONS: &str = "0,3,0,0,0,0, 7,4,5,1,2,11, 8,6,5,1,9,3, 9,0,0,0,0,0";
    /// root(1) ─ outer(2) ─ inner(3); root ─ anonymous without a script (4)
    const TREE: &str = "[1,0,0,0,[2,1,0,0,[3,2,1,32,[]],4,3,0,0,[]]]";

    fn parse_in(doc: &str, piece: usize) -> Result<Snapshot, ParseError> {
        let mut p = SnapshotParser::new(ParseOptions::default());
        for c in doc.as_bytes().chunks(piece) {
            p.feed(c)?;
        }
        p.finish()
    }

    fn parse(doc: &str) -> Result<Snapshot, ParseError> {
        parse_in(doc, usize::MAX)
    }

    fn stack(s: &Snapshot, i: usize) -> Option<Vec<String>> {
        s.allocation_stack(i)
            .map(|f| f.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn traces_resolve_to_named_frames_however_the_input_is_split() {
        let d = doc(3, 4, FUNCTIONS, TREE, r#","trace_function_count":4"#);
        for piece in [1, 2, 3, 7, 64, usize::MAX] {
            let s = parse_in(&d, piece).unwrap();
            assert!(s.has_allocation_traces());
            assert_eq!(
                stack(&s, 1).unwrap(),
                ["inner (/x.js:9:3)", "outer (/x.js:2:11)"],
                "pieces of {piece}"
            );
            assert_eq!(stack(&s, 2).unwrap(), ["(anonymous)"]);
            assert_eq!(stack(&s, 0), None);
            assert_eq!((s.node_name(1), s.node_name(2)), ("A", "B"));
        }
    }

    #[test]
    fn untraced_snapshots_have_no_traces() {
        // Node 20/22 without tracking: the field is there, all zeros, the sections empty.
        let s = parse(&doc(0, 0, "", "[]", r#","trace_function_count":0"#)).unwrap();
        assert!(!s.has_allocation_traces());
        assert_eq!(s.allocation_stack(1), None);
        // Node 24+ without tracking: no trace_node_id field.
        let d = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","detachedness"],
            "node_types":[["hidden","object"]],"edge_fields":["type","name_or_index","to_node"],
            "edge_types":[["element"]],"trace_function_info_fields":["function_id","name","script_name","script_id","line","column"],
            "trace_node_fields":["id","function_info_index","count","size","children"]},"node_count":1,"edge_count":0,
            "trace_function_count":0},"nodes":[1,1,1,8,0,0],"edges":[],"trace_function_infos":[],"trace_tree":[],
            "samples":[],"locations":[],"strings":["","A"]}"#;
        assert!(!parse(d).unwrap().has_allocation_traces());
    }

    #[test]
    fn an_unused_string_is_not_kept_but_a_function_name_is() {
        // "inner" is only a function name: it must survive the needed-strings filter.
        let s = parse(&doc(3, 0, FUNCTIONS, TREE, "")).unwrap();
        assert_eq!(stack(&s, 1).unwrap()[0], "inner (/x.js:9:3)");
    }

    fn error(d: &str) -> String {
        parse(d).unwrap_err().to_string()
    }

    #[test]
    fn corrupt_traces_are_named() {
        let cases = [
            (
                doc(9, 0, FUNCTIONS, TREE, ""),
                "node #1 has trace_node_id 9, but trace_tree has no node with that id",
            ),
            (
                doc(3, 0, FUNCTIONS, "[1,0,0,0,[2,7,0,0,[]]]", ""),
                "trace_tree node #1 (id 2) has function_info_index 7, but `trace_function_infos` holds 4 functions",
            ),
            (
                doc(0, 0, "0,3,0,0,0,0, 7,40,5,1,2,11", "[]", ""),
                "string index out of range: trace function #1 refers to string #40",
            ),
            (
                doc(0, 0, "0,3,0,0,0", "[]", ""),
                "the `trace_function_infos` array holds 5 numbers, not a multiple of the 6 fields",
            ),
            (
                doc(0, 0, FUNCTIONS, "[1,0,0,[]]", ""),
                "trace_tree: expected a number for field #3 of a trace node, found `[`",
            ),
            (
                doc(0, 0, FUNCTIONS, "[1,0,0,0]", ""),
                "trace_tree: a trace node record ends after 4 of its 5 fields",
            ),
            (
                doc(0, 0, FUNCTIONS, "[1,0,0,0,7]", ""),
                "trace_tree: expected the children array of a trace node, found a number",
            ),
            (
                doc(0, 0, FUNCTIONS, "[1,0,0,0,[],1,0,0,0,[]]", ""),
                "trace_tree has two nodes with id 1",
            ),
            (
                doc(0, 0, FUNCTIONS, "[1,-1,0,0,[]]", ""),
                "trace_tree: expected a number or `[`, found '-'",
            ),
            (
                doc(0, 0, FUNCTIONS, TREE, r#","trace_function_count":3"#),
                "snapshot.trace_function_count is 3 but the `trace_function_infos` array holds 4 functions",
            ),
            (
                doc(0, 0, FUNCTIONS, "{}", ""),
                "trace_tree: expected `[`, found '{'",
            ),
        ];
        for (d, want) in cases {
            let got = error(&d);
            assert!(got.contains(want), "got {got:?}, want {want:?}");
        }
        let missing = doc(3, 0, FUNCTIONS, TREE, "").replace(TRACE_FIELDS, r#""x":[]"#);
        assert!(error(&missing).contains("meta.trace_function_info_fields is missing"));
        let truncated = &doc(3, 0, FUNCTIONS, TREE, "")[..300];
        assert!(
            error(truncated).contains("truncated"),
            "{}",
            error(truncated)
        );
    }

    #[test]
    fn functions_after_the_strings_are_refused_unless_every_string_was_kept() {
        let d = doc(3, 0, FUNCTIONS, TREE, "");
        let functions = format!(r#""trace_function_infos":[{FUNCTIONS}],"#);
        assert!(d.contains(&functions));
        // ... nodes, edges, trace_tree, strings, trace_function_infos
        let moved = format!(
            "{},{}}}",
            d.replace(&functions, "").trim_end().trim_end_matches('}'),
            functions.trim_end_matches(',')
        );
        assert!(
            error(&moved).contains("`trace_function_infos` after `strings`"),
            "{}",
            error(&moved)
        );
    }
}
