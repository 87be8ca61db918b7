//! Diffs from JS: in process on two snapshot handles, or on two files with progress.

use std::path::PathBuf;
use std::sync::Arc;

use heapsnap::{explained_diff, ExplainedDiff, OptionField, OwnCode, RetentionOptions, Snapshot};
use memstats::format_size;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::options::{count, grouping, grouping_name, resolve, BadOption};
use super::retention::{sites, AllocationStack, ClassRetention, RetainerPath};
use super::snapshot::{HeapSnapshotHandle, JS_CLASS};
use super::task::{shared_progress, Progress, Work};

/// Options of a diff; each is optional and defaults as listed here, which
/// `diffOptionDefaults()` returns from the crate itself.
#[napi(object)]
pub struct DiffOptions {
    /// `'classic'` (memwatch's `what`, constructor or type) or `'devtools'` (Chrome DevTools' class
    /// names).
    ///
    /// @default 'classic'
    #[napi(ts_type = "'classic' | 'devtools'")]
    pub grouping: Option<String>,
    /// Also explain the growth: for the classes with the most new instances, the retained size of
    /// those instances and their shortest retaining paths from the GC roots (so the classic output
    /// stays identical).
    ///
    /// @default false
    pub retainers: Option<bool>,
    /// With `retainers`: how many grown classes are explained.
    ///
    /// @default 10
    pub retainer_classes: Option<f64>,
    /// With `retainers`: path groups listed per class.
    ///
    /// @default 5
    pub max_paths: Option<f64>,
    /// `HeapDiff` only: record where objects are allocated between its two snapshots (V8's
    /// allocation tracking, slow: for tests). Each row then lists its new instances' stacks in
    /// `allocated_at`, as files do whenever they carry allocation traces.
    ///
    /// @default false
    pub allocations: Option<bool>,
    /// Allocation stacks listed per class, in `allocated_at`.
    ///
    /// @default 5
    pub max_stacks: Option<f64>,
}

/// The crate's options for one diff; `retention` applies with `retainers`.
#[derive(Default)]
struct Resolved {
    diff: heapsnap::DiffOptions,
    retainers: bool,
    allocations: bool,
    retention: RetentionOptions,
}

impl TryFrom<DiffOptions> for Resolved {
    type Error = BadOption;

    fn try_from(js: DiffOptions) -> std::result::Result<Self, BadOption> {
        let mut diff = heapsnap::DiffOptions::default();
        if let Some(g) = js.grouping.as_deref() {
            diff.grouping = grouping("diff", g)?;
        }
        let mut r = RetentionOptions::default();
        if let Some(v) = js.retainer_classes {
            r.classes = count(OptionField::RetentionClasses, v)?;
        }
        if let Some(v) = js.max_paths {
            r.max_paths = count(OptionField::RetentionMaxPaths, v)?;
        }
        r.validate()?;
        if let Some(v) = js.max_stacks {
            diff.max_stacks = count(OptionField::DiffMaxStacks, v)?;
        }
        diff.validate()?;
        Ok(Resolved {
            diff,
            retainers: js.retainers.unwrap_or(false),
            allocations: js.allocations.unwrap_or(false),
            retention: r,
        })
    }
}

impl Resolved {
    /// In process, heapdiff's own making is left out (see `heapsnap::OwnCode`).
    fn in_process(self, before: &Snapshot, after: &Snapshot, own: &OwnCode) -> Self {
        Resolved {
            diff: heapsnap::in_process_options(self.diff, before, after, own),
            ..self
        }
    }

    fn retention(&self) -> Option<&RetentionOptions> {
        self.retainers.then_some(&self.retention)
    }

    fn run(&self, before: &Snapshot, after: &Snapshot) -> Result<DiffResult> {
        explained_diff(before, after, &self.diff, self.retention())
            .map(DiffResult::from)
            .map_err(|e| Error::from_reason(e.to_string()))
    }
}

/// The defaults, with `retainers` off.
impl From<RetentionOptions> for DiffOptions {
    fn from(r: RetentionOptions) -> Self {
        DiffOptions {
            grouping: Some(grouping_name(heapsnap::DiffOptions::default().grouping).to_owned()),
            retainers: Some(false),
            retainer_classes: Some(r.classes as f64),
            max_paths: Some(r.max_paths as f64),
            allocations: Some(false),
            max_stacks: Some(heapsnap::DiffOptions::default().max_stacks as f64),
        }
    }
}

/// Every diff option at its default: the one place the JS layer and the docs' checks read them.
#[napi]
pub fn diff_option_defaults() -> DiffOptions {
    RetentionOptions::default().into()
}

/// `opts` checked, with every option filled in (the given ones, else the defaults); throws
/// what the native entry points would throw for them.
#[napi]
pub fn resolve_diff_options(env: Env, opts: Option<DiffOptions>) -> Result<DiffOptions> {
    let r = resolve::<_, Resolved>(&env, opts)?;
    Ok(DiffOptions {
        grouping: Some(grouping_name(r.diff.grouping).to_owned()),
        retainers: Some(r.retainers),
        allocations: Some(r.allocations),
        max_stacks: Some(r.diff.max_stacks as f64),
        ..r.retention.into()
    })
}

#[napi(object)]
pub struct Totals {
    pub nodes: f64,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
}

#[napi(object)]
pub struct ClassChange {
    pub what: String,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    /// The classic `'+'` column.
    pub allocated: f64,
    /// The classic `'-'` column.
    pub freed: f64,
    #[napi(js_name = "allocated_bytes")]
    pub allocated_bytes: f64,
    #[napi(js_name = "freed_bytes")]
    pub freed_bytes: f64,
    /// With `retainers`: retained size of this class's new instances.
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: Option<f64>,
    #[napi(js_name = "retained_size")]
    pub retained_size: Option<String>,
    /// With `retainers`: shortest retaining paths of the new instances, grouped by shape.
    pub retainers: Option<Vec<RetainerPath>>,
    /// Where the new instances were allocated, most first; only when the later snapshot
    /// carries allocation traces (`[]` for a row with no traced new instance).
    #[napi(js_name = "allocated_at")]
    pub allocated_at: Option<Vec<AllocationStack>>,
}

#[napi(object)]
pub struct DiffResult {
    pub before: Totals,
    pub after: Totals,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    #[napi(js_name = "freed_nodes")]
    pub freed_nodes: f64,
    #[napi(js_name = "allocated_nodes")]
    pub allocated_nodes: f64,
    pub details: Vec<ClassChange>,
    /// With `retainers`: the classes given retainers, owners before their parts.
    pub explained: Option<Vec<String>>,
    /// Whether the ids pair objects of one process (`heapsnap::id_pairing`).
    #[napi(js_name = "id_pairing")]
    pub id_pairing: IdPairing,
}

/// How far the ids of the two snapshots name the same objects: in two processes' snapshots a
/// shared id is another object, and the diff is no diff of one heap.
#[napi(object)]
pub struct IdPairing {
    /// Heap-object ids of the later snapshot looked at.
    pub sampled: f64,
    /// Of those, the ids the earlier snapshot has too.
    pub shared: f64,
    /// Of those, the ids whose node has the same type and name in both.
    pub agreeing: f64,
    /// The crate's verdict: the snapshots are of one process.
    #[napi(js_name = "same_process")]
    pub same_process: bool,
}

impl From<heapsnap::IdPairing> for IdPairing {
    fn from(p: heapsnap::IdPairing) -> Self {
        IdPairing {
            sampled: p.sampled as f64,
            shared: p.shared as f64,
            agreeing: p.agreeing as f64,
            same_process: p.same_process(),
        }
    }
}

impl From<heapsnap::Totals> for Totals {
    fn from(t: heapsnap::Totals) -> Self {
        Totals {
            nodes: t.nodes as f64,
            size_bytes: t.size_bytes as f64,
            size: format_size(t.size_bytes as i64),
        }
    }
}

fn class_change(c: heapsnap::ClassChange, retention: Option<ClassRetention>) -> ClassChange {
    let (retained_size_bytes, retained_size, retainers) = match retention {
        Some(r) => (r.retained_size_bytes, r.retained_size, Some(r.retainers)),
        None => (None, None, None),
    };
    ClassChange {
        size: format_size(c.size_bytes),
        what: c.what,
        size_bytes: c.size_bytes as f64,
        allocated: c.allocated as f64,
        freed: c.freed as f64,
        allocated_bytes: c.allocated_bytes as f64,
        freed_bytes: c.freed_bytes as f64,
        retained_size_bytes,
        retained_size,
        retainers,
        allocated_at: sites(c.allocated_at),
    }
}

impl From<ExplainedDiff> for DiffResult {
    fn from(e: ExplainedDiff) -> Self {
        let d = e.diff;
        let (rows, explained) = match e.retention {
            Some(r) => (r.rows, Some(r.order)),
            None => (Vec::new(), None),
        };
        let mut rows = rows.into_iter();
        DiffResult {
            before: d.before.into(),
            after: d.after.into(),
            size_bytes: d.size_bytes as f64,
            size: format_size(d.size_bytes),
            freed_nodes: d.freed_nodes as f64,
            allocated_nodes: d.allocated_nodes as f64,
            details: d
                .details
                .into_iter()
                .map(|c| class_change(c, rows.next().flatten().map(ClassRetention::from)))
                .collect(),
            explained,
            id_pairing: e.pairing.into(),
        }
    }
}

/// JS classes of heapdiff's own objects, which exist between a `HeapDiff`'s two snapshots.
const OWN_CLASSES: [&str; 2] = [JS_CLASS, "HeapDiff"];

/// `own_scripts`: script names of heapdiff's own JS files, whose compiled code and objects an
/// in-process diff leaves out.
fn own_code(own_scripts: Option<Vec<String>>) -> OwnCode {
    OwnCode::in_process(
        own_scripts.unwrap_or_default(),
        OWN_CLASSES.iter().map(|c| c.to_string()).collect(),
    )
}

/// Diffs two snapshots on the JS thread (the classic synchronous `end()`).
#[napi(catch_unwind)]
pub fn diff_snapshots(
    env: Env,
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptions>,
    own_scripts: Option<Vec<String>>,
) -> Result<DiffResult> {
    let (before, after) = (before.get()?, after.get()?);
    resolve::<_, Resolved>(&env, opts)?
        .in_process(before, after, &own_code(own_scripts))
        .run(before, after)
}

/// The same diff on the libuv thread pool, for services that must not block; the search for
/// heapdiff's own nodes runs there too.
#[napi(catch_unwind, ts_return_type = "Promise<DiffResult>")]
pub fn diff_snapshots_async(
    env: Env,
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptions>,
    own_scripts: Option<Vec<String>>,
) -> Result<AsyncTask<Work<DiffResult>>> {
    let (before, after) = (before.get()?.clone(), after.get()?.clone());
    let opts = resolve::<_, Resolved>(&env, opts)?;
    let own = own_code(own_scripts);
    Ok(Work::spawn(move || {
        opts.in_process(&before, &after, &own).run(&before, &after)
    }))
}

/// Two loaded snapshot files diffed as `heapdiff diff` diffs them (nothing left out as
/// heapdiff's own), on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<DiffResult>")]
pub fn diff_loaded_snapshots(
    env: Env,
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptions>,
) -> Result<AsyncTask<Work<DiffResult>>> {
    let (before, after) = (before.get()?.clone(), after.get()?.clone());
    let opts = resolve::<_, Resolved>(&env, opts)?;
    Ok(Work::spawn(move || opts.run(&before, &after)))
}

/// A node an in-process diff counted, for tests that check what a no-op diff is made of.
#[napi(object)]
pub struct UnmatchedNode {
    /// `'+'` (allocated) or `'-'` (freed).
    pub side: String,
    pub id: f64,
    #[napi(js_name = "type")]
    pub node_type: String,
    pub name: String,
    pub size: f64,
    /// Scripts the node belongs to as far as the snapshot's edges tell.
    pub scripts: Vec<String>,
    /// What holds it (allocated nodes of a snapshot with edges): `type "name".edge`.
    pub retainers: Vec<String>,
}

impl From<heapsnap::UnmatchedNode> for UnmatchedNode {
    fn from(u: heapsnap::UnmatchedNode) -> Self {
        UnmatchedNode {
            side: if u.allocated { "+" } else { "-" }.into(),
            id: u.id as f64,
            node_type: u.node_type,
            name: u.name,
            size: u.size as f64,
            scripts: u.scripts,
            retainers: u.retainers,
        }
    }
}

/// The nodes behind `diffSnapshots`' `allocated_nodes` and `freed_nodes`, same rules.
#[napi(catch_unwind)]
pub fn unmatched_nodes(
    env: Env,
    before: &HeapSnapshotHandle,
    after: &HeapSnapshotHandle,
    opts: Option<DiffOptions>,
    own_scripts: Option<Vec<String>>,
) -> Result<Vec<UnmatchedNode>> {
    let (before, after) = (before.get()?, after.get()?);
    let opts =
        resolve::<_, Resolved>(&env, opts)?.in_process(before, after, &own_code(own_scripts));
    Ok(heapsnap::unmatched_report(before, after, &opts.diff)
        .into_iter()
        .map(UnmatchedNode::from)
        .collect())
}

/// A running diff of two `.heapsnapshot` files. Start it with `run()`; poll `progress()`.
#[napi]
pub struct FileDiffJob {
    files: [PathBuf; 2],
    opts: Arc<Resolved>,
    progress: Arc<[heapsnap::Progress]>,
}

#[napi]
impl FileDiffJob {
    #[napi(catch_unwind, constructor)]
    pub fn new(env: Env, before: String, after: String, opts: Option<DiffOptions>) -> Result<Self> {
        Ok(FileDiffJob {
            files: [before.into(), after.into()],
            opts: Arc::new(resolve::<_, Resolved>(&env, opts)?),
            progress: shared_progress(2),
        })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<DiffResult>")]
    pub fn run(&self) -> AsyncTask<Work<DiffResult>> {
        let (files, opts, progress) =
            (self.files.clone(), self.opts.clone(), self.progress.clone());
        Work::spawn(move || {
            let progress = <&[heapsnap::Progress; 2]>::try_from(&progress[..]).expect("two files");
            let [before, after] = &files;
            heapsnap::diff_files([before, after], &opts.diff, opts.retention(), progress)
                .map(DiffResult::from)
                .map_err(|e| Error::from_reason(e.to_string()))
        })
    }

    #[napi(catch_unwind)]
    pub fn progress(&self) -> Progress {
        Progress::from(&self.progress[..])
    }
}
