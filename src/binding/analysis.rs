//! Graph analyses from JS: the three-snapshot report (in process or on files) and the largest
//! retainers of a file.

use std::path::PathBuf;
use std::sync::Arc;

use heapsnap::{OptionField, SurvivorOptions, TopRetainerOptions as TopOptions};
use memstats::format_size;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::diff::IdPairing;
use super::options::{count, grouping, grouping_name, resolve, BadOption};
use super::retention::ClassRetention;
use super::snapshot::{own_object_ids, HeapSnapshotHandle};
use super::task::{failed, shared_progress, Progress, Work};

/// Options of the three-snapshot report; each is optional and defaults as listed here, which
/// `analysisOptionDefaults()` returns from the crate itself.
#[napi(object)]
pub struct AnalysisOptions {
    /// Class names: `'classic'` or `'devtools'`.
    ///
    /// @default 'classic'
    #[napi(ts_type = "'classic' | 'devtools'")]
    pub grouping: Option<String>,
    /// Path groups listed per class.
    ///
    /// @default 5
    pub max_paths: Option<f64>,
    /// Classes reported, largest retained size first.
    ///
    /// @default 20
    pub max_classes: Option<f64>,
    /// Classes with fewer surviving instances are left out.
    ///
    /// @default 1
    pub min_count: Option<f64>,
    /// Count V8's own objects (compiled code, hidden classes, system nodes, internal arrays),
    /// listed after the program's classes; `checkLeaks` passes false, since V8 optimising the
    /// function is not a leak.
    ///
    /// @default true
    pub internals: Option<bool>,
    /// `checkLeaks` only: record where objects are allocated while it runs (V8's allocation
    /// tracking, slow: for tests). Each leak row then lists its instances' stacks in
    /// `allocated_at`, as files do whenever they carry allocation traces.
    ///
    /// @default false
    pub allocations: Option<bool>,
    /// Allocation stacks listed per class, in `allocated_at`.
    ///
    /// @default 5
    pub max_stacks: Option<f64>,
}

/// The crate's options, and whether `checkLeaks` tracks allocations (the JS layer's part).
#[derive(Default)]
pub(super) struct Resolved {
    survivors: SurvivorOptions,
    allocations: bool,
}

impl TryFrom<AnalysisOptions> for Resolved {
    type Error = BadOption;

    fn try_from(js: AnalysisOptions) -> std::result::Result<Self, BadOption> {
        let allocations = js.allocations.unwrap_or(false);
        let mut o = SurvivorOptions::default();
        if let Some(g) = js.grouping.as_deref() {
            o.grouping = grouping("analysis", g)?;
        }
        if let Some(v) = js.max_paths {
            o.max_paths = count(OptionField::SurvivorMaxPaths, v)?;
        }
        if let Some(v) = js.max_classes {
            o.max_classes = count(OptionField::SurvivorMaxClasses, v)?;
        }
        if let Some(v) = js.min_count {
            o.min_count = count(OptionField::SurvivorMinCount, v)?;
        }
        if let Some(v) = js.internals {
            o.internals = v;
        }
        if let Some(v) = js.max_stacks {
            o.max_stacks = count(OptionField::SurvivorMaxStacks, v)?;
        }
        o.validate()?;
        Ok(Resolved {
            survivors: o,
            allocations,
        })
    }
}

impl From<Resolved> for AnalysisOptions {
    fn from(r: Resolved) -> Self {
        let o = r.survivors;
        AnalysisOptions {
            grouping: Some(grouping_name(o.grouping).to_owned()),
            max_paths: Some(o.max_paths as f64),
            max_classes: Some(o.max_classes as f64),
            min_count: Some(o.min_count as f64),
            internals: Some(o.internals),
            allocations: Some(r.allocations),
            max_stacks: Some(o.max_stacks as f64),
        }
    }
}

/// Every analysis option at its default: the one place the JS layer and the docs' checks read
/// them.
#[napi]
pub fn analysis_option_defaults() -> AnalysisOptions {
    Resolved::default().into()
}

/// `opts` checked, with every option filled in; throws what `leaks()` would throw for them.
#[napi]
pub fn resolve_analysis_options(
    env: Env,
    opts: Option<AnalysisOptions>,
) -> Result<AnalysisOptions> {
    Ok(resolve::<_, Resolved>(&env, opts)?.into())
}

/// Options of `topRetainers`; defaults as listed, which `topRetainerOptionDefaults()` returns.
#[napi(object)]
pub struct TopRetainerOptions {
    /// How many objects, largest retained size first.
    ///
    /// @default 20
    pub top: Option<f64>,
}

impl TryFrom<TopRetainerOptions> for TopOptions {
    type Error = BadOption;

    fn try_from(js: TopRetainerOptions) -> std::result::Result<Self, BadOption> {
        let mut o = TopOptions::default();
        if let Some(v) = js.top {
            o.count = count(OptionField::TopCount, v)?;
        }
        o.validate()?;
        Ok(o)
    }
}

impl From<TopOptions> for TopRetainerOptions {
    fn from(o: TopOptions) -> Self {
        TopRetainerOptions {
            top: Some(o.count as f64),
        }
    }
}

/// Every `topRetainers` option at its default.
#[napi]
pub fn top_retainer_option_defaults() -> TopRetainerOptions {
    TopOptions::default().into()
}

/// `opts` checked, with every option filled in; throws what `top()` would throw for them.
#[napi]
pub fn resolve_top_retainer_options(
    env: Env,
    opts: Option<TopRetainerOptions>,
) -> Result<TopRetainerOptions> {
    Ok(resolve::<_, TopOptions>(&env, opts)?.into())
}

#[napi(object)]
pub struct SurvivorReport {
    /// Objects the second snapshot had and the first had not.
    pub allocated: f64,
    /// Of those, how many the third snapshot still has.
    pub leaked: f64,
    /// By class, largest retained size first (owners before their parts).
    pub leaks: Vec<ClassRetention>,
    /// How far the ids of s1 and s2, then of s2 and s3, pair objects of one process
    /// (`heapsnap::id_pairing`).
    #[napi(js_name = "id_pairing")]
    pub id_pairing: Vec<IdPairing>,
    /// The crate's verdict: all three snapshots are of one process, so the rows are survivors.
    #[napi(js_name = "same_process")]
    pub same_process: bool,
}

impl From<heapsnap::SurvivorReport> for SurvivorReport {
    fn from(r: heapsnap::SurvivorReport) -> Self {
        SurvivorReport {
            allocated: r.allocated as f64,
            leaked: r.leaked as f64,
            same_process: r.same_process(),
            id_pairing: r.pairing.into_iter().map(IdPairing::from).collect(),
            leaks: r.classes.into_iter().map(ClassRetention::from).collect(),
        }
    }
}

#[napi(object)]
pub struct TopRetainer {
    pub id: f64,
    /// Constructor or node name (`Map`, `system / Context`, `(string)`).
    pub what: String,
    #[napi(js_name = "type")]
    pub node_type: String,
    #[napi(js_name = "self_size")]
    pub self_size: f64,
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: f64,
    #[napi(js_name = "retained_size")]
    pub retained_size: String,
    /// Shortest retaining path from the GC roots.
    pub path: String,
}

impl From<heapsnap::TopRetainer> for TopRetainer {
    fn from(t: heapsnap::TopRetainer) -> Self {
        TopRetainer {
            id: t.id as f64,
            what: t.what,
            node_type: t.node_type,
            self_size: t.self_size as f64,
            retained_size_bytes: t.retained_size as f64,
            retained_size: format_size(t.retained_size as i64),
            path: t.path,
        }
    }
}

/// heapdiff's own code, as the JS layer reads it from the package's files: what only it holds in
/// a snapshot is left out of the analyses (see `heapsnap::own_held_ids`).
#[napi(object)]
pub struct OwnCode {
    /// Script names (paths and file URLs) of the package's JS files.
    pub scripts: Vec<String>,
    /// Class names the package declares (JS classes and the native module's).
    pub classes: Vec<String>,
}

impl From<OwnCode> for heapsnap::OwnCode {
    fn from(o: OwnCode) -> Self {
        heapsnap::OwnCode {
            scripts: o.scripts,
            classes: o.classes,
            existing_code: false,
        }
    }
}

/// Three-snapshot leak finding on in-process snapshots (the last taken with edges); with `own`,
/// what only heapdiff holds in the last is left out too.
#[napi(catch_unwind, ts_return_type = "Promise<SurvivorReport>")]
pub fn find_leaks_in_snapshots(
    env: Env,
    s1: &HeapSnapshotHandle,
    s2: &HeapSnapshotHandle,
    s3: &HeapSnapshotHandle,
    opts: Option<AnalysisOptions>,
    own: Option<OwnCode>,
) -> Result<AsyncTask<Work<SurvivorReport>>> {
    survivors_task(&env, [s1, s2, s3], opts, own, true)
}

/// Three loaded snapshot files analysed as `heapdiff leaks` analyses them (with `own`, what only
/// heapdiff holds in the third left out), on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<SurvivorReport>")]
pub fn leaks_in_loaded_snapshots(
    env: Env,
    s1: &HeapSnapshotHandle,
    s2: &HeapSnapshotHandle,
    s3: &HeapSnapshotHandle,
    opts: Option<AnalysisOptions>,
    own: Option<OwnCode>,
) -> Result<AsyncTask<Work<SurvivorReport>>> {
    survivors_task(&env, [s1, s2, s3], opts, own, false)
}

/// The three-snapshot technique on handles, on the thread pool. With `own`, what only
/// heapdiff's code holds in the third is left out; with `own_handles`, this module's own
/// snapshot handles too (snapshots taken in this process).
fn survivors_task(
    env: &Env,
    [s1, s2, s3]: [&HeapSnapshotHandle; 3],
    opts: Option<AnalysisOptions>,
    own: Option<OwnCode>,
    own_handles: bool,
) -> Result<AsyncTask<Work<SurvivorReport>>> {
    let (s1, s2, s3) = (s1.get()?.clone(), s2.get()?.clone(), s3.get()?.clone());
    let mut opts = resolve::<_, Resolved>(env, opts)?.survivors;
    let own = own.map(heapsnap::OwnCode::from);
    Ok(Work::spawn(move || {
        if own_handles {
            opts.exclude_ids = own_object_ids(&s3);
        }
        if let Some(own) = &own {
            opts.exclude_ids.extend(heapsnap::own_held_ids(&s3, own));
        }
        heapsnap::find_survivors(&s1, &s2, &s3, &opts)
            .map(SurvivorReport::from)
            .map_err(failed)
    }))
}

/// The largest retainers of a loaded snapshot file, as `heapdiff top`, on the thread pool.
#[napi(catch_unwind, ts_return_type = "Promise<Array<TopRetainer>>")]
pub fn top_retainers_of_loaded(
    env: Env,
    snapshot: &HeapSnapshotHandle,
    opts: Option<TopRetainerOptions>,
) -> Result<AsyncTask<Work<Vec<TopRetainer>>>> {
    let snapshot = snapshot.get()?.clone();
    let opts = resolve::<_, TopOptions>(&env, opts)?;
    Ok(Work::spawn(move || {
        let rows = heapsnap::top_retainer_report(&snapshot, &opts).map_err(failed)?;
        Ok(rows.into_iter().map(TopRetainer::from).collect())
    }))
}

/// Graph analyses of `.heapsnapshot` files, with progress readable while they run.
#[napi]
pub struct FileAnalysisJob {
    paths: Vec<PathBuf>,
    progress: Arc<[heapsnap::Progress]>,
}

#[napi]
impl FileAnalysisJob {
    #[napi(catch_unwind, constructor)]
    pub fn new(paths: Vec<String>) -> Self {
        FileAnalysisJob {
            progress: shared_progress(paths.len()),
            paths: paths.into_iter().map(PathBuf::from).collect(),
        }
    }

    /// The largest retainers of the first file.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<TopRetainer>>")]
    pub fn top(
        &self,
        env: Env,
        opts: Option<TopRetainerOptions>,
    ) -> Result<AsyncTask<Work<Vec<TopRetainer>>>> {
        let path = self
            .paths
            .first()
            .ok_or_else(|| Error::new(Status::InvalidArg, "top() needs one snapshot file"))?
            .clone();
        let opts = resolve::<_, TopOptions>(&env, opts)?;
        let progress = self.progress.clone();
        Ok(Work::spawn(move || {
            let rows =
                heapsnap::top_retainers_in_file(&path, &opts, &progress[0]).map_err(failed)?;
            Ok(rows.into_iter().map(TopRetainer::from).collect())
        }))
    }

    /// The three-snapshot leak report over the three files; with `own`, what only heapdiff
    /// holds in the third is left out too (snapshots of a program heapdiff ran in).
    #[napi(catch_unwind, ts_return_type = "Promise<SurvivorReport>")]
    pub fn leaks(
        &self,
        env: Env,
        opts: Option<AnalysisOptions>,
        own: Option<OwnCode>,
    ) -> Result<AsyncTask<Work<SurvivorReport>>> {
        let Ok([a, b, c]) = <[PathBuf; 3]>::try_from(self.paths.clone()) else {
            return Err(Error::new(
                Status::InvalidArg,
                "leaks() needs three snapshot files",
            ));
        };
        let opts = resolve::<_, Resolved>(&env, opts)?.survivors;
        let own = own.map(heapsnap::OwnCode::from);
        let progress = self.progress.clone();
        Ok(Work::spawn(move || {
            let progress =
                <&[heapsnap::Progress; 3]>::try_from(&progress[..]).expect("three files");
            heapsnap::find_own_survivors_in_files([&a, &b, &c], &opts, own.as_ref(), progress)
                .map(SurvivorReport::from)
                .map_err(failed)
        }))
    }

    #[napi(catch_unwind)]
    pub fn progress(&self) -> Progress {
        Progress::from(&self.progress[..])
    }
}
