//! What an in-process diff leaves out as the diffing tool's own making, and as V8's work on code.
//!
//! A tool that snapshots the heap it runs in changes that heap between its two snapshots: its
//! objects are new, and V8 compiles and re-tiers the tool's functions and fills their inline
//! caches whenever they run. V8 does the same, in batches at moments no caller picks, for any
//! code that runs: a batch set off by the caller's loop compiles baseline code for Node's module
//! loader as well. None of that is what the program keeps (it is bounded by the code there is),
//! and the classic memwatch left its own objects out of its diffs, so this finds both from the
//! second snapshot's edges alone:
//!
//! - anchors: objects of the tool's classes (they vouch for all they hold); functions
//!   (`SharedFunctionInfo`s, by their `script` edge) of the tool's scripts and, with
//!   `existing_code`, of every script that was in the first snapshot; the closures of those
//!   (the tool's always, others only old ones: a new closure is a user allocation) and their
//!   feedback vectors. Function anchors vouch only for V8 code objects (snapshot type `code`:
//!   bytecode, feedback, handlers, baseline and optimised code), never for data hung on them;
//! - a new node is left out when it is an anchor, or when nothing reaches it but what vouches
//!   for it and other new nodes left out (weak edges and the stack and handle-scope roots, which
//!   hold whatever is running, neither give nor take).
//!
//! - with `existing_code`, code objects of the first snapshot that are gone from the second are
//!   V8 discarding code (deoptimised code, replaced handlers, a placeholder for a function now
//!   compiled); the first snapshot has no edges, so these go by name (see `discarded_code`).
//!
//! So a user's change stays visible when anything of the user's holds it: a handler in the
//! caller's inline cache, a map shared with user objects, a string a user object also keeps,
//! and all code of a script that is new (`eval`, `new Function`, `vm`).

use std::collections::HashSet;

use crate::diff::{unmatched_nodes, DiffOptions};
use crate::idset::IdSet;
use crate::snapshot::{EdgeName, Snapshot};

/// The tool's own code and classes, as they appear in snapshot node names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCode {
    /// Script names (file paths or URLs) of the tool's JavaScript files.
    pub scripts: Vec<String>,
    /// Constructor names of the tool's JS objects (object nodes of these names, in either
    /// snapshot, are the tool's).
    pub classes: Vec<String>,
    /// Also leave out V8's work on the code of every script that existed in `before`: compiling
    /// a function on its first call, feedback vectors, inline-cache handlers, baseline and
    /// optimised code. It follows what runs, not what the program keeps, and is bounded by the
    /// code there is; V8 does it in batches at moments no caller chooses (a batch started by the
    /// caller's loop compiles Node's module loader too), so without this a no-op diff shows
    /// kilobytes of `Code` in some rounds. New scripts (`eval`, `new Function`, `vm`) still
    /// count in full.
    pub existing_code: bool,
}

/// Roots that hold what running code refers to at the moment of the snapshot: the frames of the
/// tool's own `end()` among them, and with them the code V8 just tiered up for it. They neither
/// give a node to the user nor to the tool; a new node only they hold is the user's.
const TRANSIENT_ROOTS: [&str; 2] = ["(Stack roots)", "(Handle scope)"];

/// The edge from a `SharedFunctionInfo` to its `Script`: `script_or_debug_info` up to V8 11
/// (Node 20), `script` since.
const SCRIPT_EDGES: [&str; 2] = ["script", "script_or_debug_info"];

/// Ids of the nodes of `before` and `after` that are the tool's own: objects of its classes in
/// either snapshot and, when `after` kept its edges, the new nodes of `after` (ids not in
/// `before`) that the rules above give to it. Sorted, without duplicates.
pub fn own_node_ids(before: &Snapshot, after: &Snapshot, own: &OwnCode) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    for snap in [before, after] {
        for class in &own.classes {
            ids.extend(snap.object_ids_of_class(class));
        }
    }
    if after.edges().is_some() && !own.scripts.is_empty() {
        let old = IdSet::collect(
            (0..before.node_count()).map(|i| before.node_id(i)),
            before.node_count(),
        );
        let new = |i: usize| !old.contains(after.node_id(i));
        ids.extend(
            own_new_nodes(after, own, &new)
                .into_iter()
                .map(|i| after.node_id(i)),
        );
    }
    if own.existing_code {
        ids.extend(discarded_code(before, after));
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Ids of the V8 code objects of `before` gone from `after`: code V8 threw away (deoptimised
/// or flushed code, replaced handlers and feedback, a function's placeholder once it is
/// compiled). The first snapshot keeps no edges, so these are told by name alone: V8's
/// `system / …` and `(…)` structures and nameless ones. Freed scripts (named by their file) and
/// named functions still count, and so do the closures and data that made a real change.
fn discarded_code(before: &Snapshot, after: &Snapshot) -> Vec<u64> {
    let code = type_index(before, "code");
    let kept = IdSet::collect(
        (0..after.node_count()).map(|i| after.node_id(i)),
        after.node_count(),
    );
    (0..before.node_count())
        .filter(|&i| {
            let name = before.node_name(i);
            Some(before.node_type_index(i)) == code
                && (name.is_empty() || name.starts_with("system / ") || name.starts_with('('))
                && !kept.contains(before.node_id(i))
        })
        .map(|i| before.node_id(i))
        .collect()
}

fn type_index(snap: &Snapshot, name: &str) -> Option<u8> {
    snap.node_type_names()
        .iter()
        .position(|t| t == name)
        .map(|k| k as u8)
}

/// Node indices of `after` that are new (per `new`) and the tool's, by the rules of this module.
fn own_new_nodes(after: &Snapshot, own: &OwnCode, new: &dyn Fn(usize) -> bool) -> Vec<usize> {
    let edges = after.edges().expect("checked by the caller");
    let n = after.node_count();
    let (code, closure, object, synthetic) = (
        type_index(after, "code"),
        type_index(after, "closure"),
        type_index(after, "object"),
        type_index(after, "synthetic"),
    );
    let weak = after
        .edge_type_names()
        .iter()
        .position(|t| t == "weak")
        .map(|k| k as u8);
    let is = |i: usize, t: Option<u8>| Some(after.node_type_index(i)) == t;
    let named = |e: usize, names: &[&str]| matches!(after.edge_name(e), Some(EdgeName::Name(s)) if names.contains(&s));

    // Objects of the tool's classes: whatever they hold is the tool's.
    let scripts: HashSet<&str> = own.scripts.iter().map(String::as_str).collect();
    let mut holder = vec![false; n];
    for (i, h) in holder.iter_mut().enumerate() {
        *h = is(i, object) && own.classes.iter().any(|c| c == after.node_name(i));
    }
    // Functions whose code V8's work on does not count: those of the tool's scripts and, with
    // `existing_code`, of every script that was there before (a new script is new code).
    let counted_script = |t: usize| {
        is(t, code) && (scripts.contains(after.node_name(t)) || (own.existing_code && !new(t)))
    };
    let mut functions = vec![false; n];
    for i in (0..n).filter(|&i| is(i, code)) {
        functions[i] = edges
            .range(i)
            .any(|e| named(e, &SCRIPT_EDGES) && counted_script(edges.to_node(e)));
    }
    // Their closures (the tool's any, others only those from before: a new closure is a user
    // allocation) and feedback vectors, and the functions themselves, vouch for the V8 code
    // objects they hold, never for data: a property a user hangs on a function is the user's.
    let mut code_owner = functions.clone();
    for (i, owner) in code_owner.iter_mut().enumerate() {
        let of_function = |names: &[&str]| {
            edges
                .range(i)
                .any(|e| functions[edges.to_node(e)] && (names.is_empty() || named(e, names)))
        };
        if is(i, closure) && of_function(&["shared"]) {
            let tools = edges.range(i).any(|e| {
                let t = edges.to_node(e);
                named(e, &["shared"])
                    && edges.range(t).any(|f| {
                        named(f, &SCRIPT_EDGES)
                            && scripts.contains(after.node_name(edges.to_node(f)))
                    })
            });
            *owner |= tools || !new(i);
        }
        if is(i, code) && after.node_name(i) == "system / FeedbackVector" && of_function(&[]) {
            *owner = true;
        }
    }
    let anchor = |i: usize| holder[i] || code_owner[i];
    // V8's code objects link to each other when it tiers up (an instruction stream from before
    // under a new code object): with `existing_code`, an old code node vouches for new ones.
    let vouches = |from: usize, to: usize| {
        holder[from]
            || (is(to, code)
                && (code_owner[from] || (own.existing_code && is(from, code) && !new(from))))
    };

    // A new node that is no anchor is the user's when something of the user's reaches it: an
    // old node that is no anchor, or a new node that is the user's, over edges that retain
    // (weak ones do not). Those held by nothing count as the user's too. One pass over the
    // edges seeds that; a walk down from the seeds spreads it, linear in the edges, however
    // long the chains of new nodes.
    let candidate = |i: usize| new(i) && !anchor(i);
    let retains = |e: usize| Some(edges.edge_type_index(e)) != weak;
    let mut held = vec![false; n];
    let mut users = vec![false; n];
    for from in 0..n {
        if is(from, synthetic) && TRANSIENT_ROOTS.contains(&after.node_name(from)) {
            continue;
        }
        for e in edges.range(from) {
            let to = edges.to_node(e);
            if retains(e) && candidate(to) {
                held[to] = true;
                users[to] |= !new(from) && !vouches(from, to);
            }
        }
    }
    // Held by nothing but running code: with `existing_code`, a V8 code object is work in
    // progress (a compile job's handles); anything else is the user's, as we cannot tell.
    let unclaimed = |i: usize| !(held[i] || own.existing_code && is(i, code));
    let mut stack: Vec<usize> = (0..n)
        .filter(|&i| candidate(i) && (users[i] || unclaimed(i)))
        .collect();
    for &i in &stack {
        users[i] = true;
    }
    while let Some(i) = stack.pop() {
        for e in edges.range(i) {
            let to = edges.to_node(e);
            if retains(e) && candidate(to) && !users[to] && !vouches(i, to) {
                users[to] = true;
                stack.push(to);
            }
        }
    }
    (0..n).filter(|&i| new(i) && !users[i]).collect()
}

/// Names-table indices of the strings `own_held_ids` reads, resolved in one pass over the table.
struct OwnNames {
    scripts: Vec<u32>,
    classes: Vec<u32>,
    proto: Vec<u32>,
    constructor: Vec<u32>,
    shared: Vec<u32>,
    script: Vec<u32>,
    context: Vec<u32>,
    previous: Vec<u32>,
    module: Vec<u32>,
    filename: Vec<u32>,
    /// The node name of contexts.
    context_node: Vec<u32>,
}

impl OwnNames {
    fn new(snap: &Snapshot, own: &OwnCode) -> Self {
        let scripts: HashSet<&str> = own.scripts.iter().map(String::as_str).collect();
        let classes: HashSet<&str> = own.classes.iter().map(String::as_str).collect();
        let mut names = OwnNames {
            scripts: Vec::new(),
            classes: Vec::new(),
            proto: Vec::new(),
            constructor: Vec::new(),
            shared: Vec::new(),
            script: Vec::new(),
            context: Vec::new(),
            previous: Vec::new(),
            module: Vec::new(),
            filename: Vec::new(),
            context_node: Vec::new(),
        };
        for k in 0..snap.name_count() as u32 {
            let s = snap.name_by_index(k);
            let list = match s {
                "__proto__" => &mut names.proto,
                "constructor" => &mut names.constructor,
                "shared" => &mut names.shared,
                "script" | "script_or_debug_info" => &mut names.script,
                "context" => &mut names.context,
                "previous" => &mut names.previous,
                "Module" => &mut names.module,
                "filename" => &mut names.filename,
                "system / Context" => &mut names.context_node,
                _ if scripts.contains(s) => &mut names.scripts,
                _ if classes.contains(s) => &mut names.classes,
                _ => continue,
            };
            list.push(k);
        }
        names
    }
}

/// Ids of the nodes of `snap` (parsed with edges) that only the tool holds: its objects and
/// module state, and whatever nothing else reaches. For the analyses of snapshots of a program
/// the tool runs in (`heapdiff run`'s three snapshots), where its state is older than the
/// first snapshot, so the new-node rules of `own_node_ids` do not apply.
///
/// Anchors are the tool's: the `Script`s named in `own.scripts`, their functions
/// (`SharedFunctionInfo`s) and closures, those closures' contexts and every context nested in
/// them (module and closure state: the `previous` chain follows lexical scope, so a context
/// under one of the tool's is the tool's), the objects whose constructor (`__proto__` →
/// `constructor`) is one of the tool's closures or, for classes defined natively, a function
/// without a script named in `own.classes`, and the `Module` records of its files (`require`'s
/// cache). A node is left out when it is an anchor, or when every retaining path to it from
/// the root passes through an anchor: one walk from the root that stops at anchors marks what
/// the program holds, a second from the anchors marks the rest of what they hold. Both are
/// linear in the edges; a snapshot without any of the tool's scripts or classes costs one pass
/// over its names and nodes. What the program also holds stays the program's, and so do the
/// program's functions and what they hold even where only the tool holds them (the function
/// `checkLeaks` runs, a listener registered on the tool): the first walk starts from them too.
pub fn own_held_ids(snap: &Snapshot, own: &OwnCode) -> Vec<u64> {
    let Some(edges) = snap.edges() else {
        return Vec::new();
    };
    let n = snap.node_count();
    let names = OwnNames::new(snap, own);
    if n == 0 || (names.scripts.is_empty() && names.classes.is_empty()) {
        return Vec::new();
    }
    let (code, closure, object) = (
        type_index(snap, "code"),
        type_index(snap, "closure"),
        type_index(snap, "object"),
    );
    let is = |i: usize, t: Option<u8>| Some(snap.node_type_index(i)) == t;
    let named = |e: usize, set: &[u32]| {
        matches!(snap.edge_name(e), Some(EdgeName::Name(_))) && set.contains(&edges.name_value(e))
    };
    let target = |i: usize, set: &[u32]| {
        edges
            .range(i)
            .find(|&e| named(e, set))
            .map(|e| edges.to_node(e))
    };

    let mut anchor = vec![false; n];
    // Scripts, then their functions, then those functions' closures.
    let script = |i: usize| is(i, code) && names.scripts.contains(&snap.name_index(i));
    let mut function = vec![false; n];
    for i in (0..n).filter(|&i| is(i, code)) {
        if script(i) {
            anchor[i] = true;
        } else if target(i, &names.script).is_some_and(script) {
            function[i] = true;
            anchor[i] = true;
        }
    }
    let mut context_of_own = Vec::new();
    let mut own_closure = vec![false; n];
    // The program's functions: whatever the tool holds of them (a function `checkLeaks` runs, a
    // listener) and what they hold stay the program's.
    let mut program_closures = Vec::new();
    for i in (0..n).filter(|&i| is(i, closure)) {
        let f = target(i, &names.shared);
        if f.is_some_and(|f| function[f]) {
            own_closure[i] = true;
            anchor[i] = true;
            context_of_own.extend(target(i, &names.context));
        } else if f
            .and_then(|f| target(f, &names.script))
            .is_some_and(|s| is(s, code))
        {
            program_closures.push(i);
        }
    }
    // Contexts: those of the tool's closures, and those whose `previous` chain reaches one.
    const UNKNOWN: u8 = 0;
    const OWN: u8 = 1;
    const OTHER: u8 = 2;
    let mut ctx = vec![UNKNOWN; n];
    for &c in &context_of_own {
        ctx[c] = OWN;
        anchor[c] = true;
    }
    if !context_of_own.is_empty() {
        let mut chain = Vec::new();
        for c in 0..n {
            if ctx[c] != UNKNOWN || !names.context_node.contains(&snap.name_index(c)) {
                continue;
            }
            let mut at = c;
            let verdict = loop {
                chain.push(at);
                match target(at, &names.previous) {
                    Some(p) if ctx[p] != UNKNOWN => break ctx[p],
                    Some(p) if !chain.contains(&p) => at = p,
                    _ => break OTHER,
                }
            };
            for &k in &chain {
                ctx[k] = verdict;
                anchor[k] |= verdict == OWN;
            }
            chain.clear();
        }
    }
    // Objects of the tool's classes, and the `Module` records of its files.
    let constructor_of =
        |i: usize| target(i, &names.proto).and_then(|p| target(p, &names.constructor));
    let scripted = |k: usize| {
        target(k, &names.shared)
            .is_some_and(|f| target(f, &names.script).is_some_and(|s| is(s, code)))
    };
    // Only objects named as a class could be of one: the tool's closures' names (its classes
    // are among them), `own.classes`, `Module`.
    let mut candidates: HashSet<u32> = names.classes.iter().chain(&names.module).copied().collect();
    candidates.extend(
        (0..n)
            .filter(|&k| own_closure[k])
            .map(|k| snap.name_index(k)),
    );
    for i in (0..n).filter(|&i| is(i, object)) {
        let name = snap.name_index(i);
        if !candidates.contains(&name) {
            continue;
        }
        if names.module.contains(&name) {
            let file = target(i, &names.filename);
            anchor[i] |= file.is_some_and(|f| names.scripts.contains(&snap.name_index(f)));
            continue;
        }
        let Some(k) = constructor_of(i) else { continue };
        anchor[i] |= own_closure[k] || (names.classes.contains(&name) && !scripted(k));
    }
    if !anchor.iter().any(|&a| a) {
        return Vec::new();
    }

    // What the program holds: reached from the root, or from one of its functions, without
    // passing through an anchor.
    let rule = crate::graph::EdgeRule::new(snap);
    let mut user = vec![false; n];
    let mut stack = program_closures;
    stack.push(0);
    for &i in &stack {
        user[i] = true;
    }
    while let Some(i) = stack.pop() {
        for e in edges.range(i) {
            let t = edges.to_node(e);
            if !user[t] && !anchor[t] && rule.retains(edges, i, e) {
                user[t] = true;
                stack.push(t);
            }
        }
    }
    // What the anchors hold besides.
    let mut held = anchor;
    let mut stack: Vec<usize> = (0..n).filter(|&i| held[i]).collect();
    while let Some(i) = stack.pop() {
        for e in edges.range(i) {
            let t = edges.to_node(e);
            if !held[t] && !user[t] && rule.retains(edges, i, e) {
                held[t] = true;
                stack.push(t);
            }
        }
    }
    (0..n)
        .filter(|&i| held[i])
        .map(|i| snap.node_id(i))
        .collect()
}

/// Names of the scripts node `i` belongs to as far as its edges tell (none without edges): the
/// `Script` a function points at, or that of the functions it points at (a feedback vector, a
/// closure). For listing what a diff counted and checking whose it is.
pub fn scripts_of(snap: &Snapshot, i: usize) -> Vec<String> {
    let Some(edges) = snap.edges() else {
        return Vec::new();
    };
    let script_edge = |e: usize| matches!(snap.edge_name(e), Some(EdgeName::Name(s)) if SCRIPT_EDGES.contains(&s));
    let mut out: Vec<String> = Vec::new();
    let mut add = |t: usize| {
        let name = snap.node_name(t).to_owned();
        if !out.contains(&name) {
            out.push(name);
        }
    };
    for e in edges.range(i) {
        let t = edges.to_node(e);
        if script_edge(e) {
            add(t);
            continue;
        }
        for f in edges.range(t) {
            if script_edge(f) {
                add(edges.to_node(f));
            }
        }
    }
    out
}

/// For each of `targets` (node indices), what holds it: `type name .edge` of every node with an
/// edge to it (none without edges). For listing what a diff counted and why it was not left out.
pub(crate) fn retainers_of(snap: &Snapshot, targets: &[usize]) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); targets.len()];
    let Some(edges) = snap.edges() else {
        return out;
    };
    let mut slot: std::collections::HashMap<usize, Vec<usize>> = Default::default();
    for (k, &t) in targets.iter().enumerate() {
        slot.entry(t).or_default().push(k);
    }
    for from in 0..snap.node_count() {
        for e in edges.range(from) {
            let Some(ks) = slot.get(&edges.to_node(e)) else {
                continue;
            };
            let edge = match snap.edge_name(e) {
                Some(EdgeName::Name(s)) => format!(".{s}"),
                Some(EdgeName::Index(i)) => format!("[{i}]"),
                None => String::new(),
            };
            let name: String = snap.node_name(from).chars().take(60).collect();
            for &k in ks {
                out[k].push(format!("{} {:?}{edge}", snap.node_type_name(from), name));
            }
        }
    }
    out
}

impl OwnCode {
    /// What a tool that diffs the heap it runs in leaves out: objects of its `classes`, what V8
    /// makes for the functions of its `scripts`, and V8's work on code that already existed
    /// (see `existing_code`).
    pub fn in_process(scripts: Vec<String>, classes: Vec<String>) -> Self {
        OwnCode {
            scripts,
            classes,
            existing_code: true,
        }
    }
}

/// `opts` for a diff of the heap the tool runs in: its own making left out, and renumbered
/// embedder nodes matched by what they are (their ids change in every snapshot).
pub fn in_process_options(
    mut opts: DiffOptions,
    before: &Snapshot,
    after: &Snapshot,
    own: &OwnCode,
) -> DiffOptions {
    opts.exclude_ids = own_node_ids(before, after, own);
    opts.match_embedder_nodes = true;
    opts
}

/// One node a diff counted, described for a reader checking what a diff is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedNode {
    /// Only in `after` (else only in `before`).
    pub allocated: bool,
    /// V8's object id.
    pub id: u64,
    /// V8's node type.
    pub node_type: String,
    /// The node's name.
    pub name: String,
    /// Its self size.
    pub size: u64,
    /// See `scripts_of`.
    pub scripts: Vec<String>,
    /// What holds it, for allocated nodes (see `retainers_of`).
    pub retainers: Vec<String>,
}

/// The nodes behind `diff`'s `allocated_nodes` and `freed_nodes` (see `unmatched_nodes`), each
/// with its scripts and, if allocated, its holders.
pub fn unmatched_report(
    before: &Snapshot,
    after: &Snapshot,
    opts: &DiffOptions,
) -> Vec<UnmatchedNode> {
    let listed = unmatched_nodes(before, after, opts);
    let new: Vec<usize> = listed
        .iter()
        .filter(|u| u.allocated)
        .map(|u| u.index)
        .collect();
    let mut held = retainers_of(after, &new).into_iter();
    listed
        .into_iter()
        .map(|u| {
            let snap = if u.allocated { after } else { before };
            UnmatchedNode {
                allocated: u.allocated,
                id: snap.node_id(u.index),
                node_type: snap.node_type_name(u.index).into(),
                name: snap.node_name(u.index).into(),
                size: snap.self_size(u.index),
                scripts: scripts_of(snap, u.index),
                retainers: if u.allocated {
                    held.next().unwrap_or_default()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}
