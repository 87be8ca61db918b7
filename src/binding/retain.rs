//! JS-facing leak location: retainer paths and retained sizes for a diff's grown classes, the
//! largest retainers of a snapshot, and the three-snapshot leak report. Conversion only; the
//! graph work lives in `heapsnap::graph`.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use heapsnap::graph::{
    find_leaks, node_label, top_retainers, DominatorTree, LeakClass, LeakOptions, LeakReport,
    PathGroup, ShortestPaths,
};
use heapsnap::snapshot::table::Snapshot;
use memstats::format_size;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::heapdiff::{
    contained, grouping, own_object_ids, parse_with_progress, HeapSnapshotHandle, Progress,
    ProgressJs,
};

#[napi(object)]
pub struct PathStepJs {
    /// Edge name; absent for the first step (reached from the synthetic root).
    pub edge: Option<String>,
    #[napi(js_name = "edge_type")]
    pub edge_type: Option<String>,
    pub node: String,
    #[napi(js_name = "type")]
    pub node_type: String,
    pub id: f64,
}

#[napi(object)]
pub struct RetainerPathJs {
    pub path: String,
    pub count: f64,
    pub steps: Vec<PathStepJs>,
}

#[napi(object)]
pub struct ClassRetentionJs {
    pub what: String,
    pub count: f64,
    #[napi(js_name = "size_bytes")]
    pub size_bytes: f64,
    pub size: String,
    /// Absent for classes past the analysed ones.
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: Option<f64>,
    #[napi(js_name = "retained_size")]
    pub retained_size: Option<String>,
    pub retainers: Vec<RetainerPathJs>,
}

#[napi(object)]
pub struct LeakReportJs {
    pub allocated: f64,
    pub leaked: f64,
    pub leaks: Vec<ClassRetentionJs>,
}

#[napi(object)]
pub struct TopRetainerJs {
    pub id: f64,
    pub what: String,
    #[napi(js_name = "type")]
    pub node_type: String,
    #[napi(js_name = "self_size")]
    pub self_size: f64,
    #[napi(js_name = "retained_size_bytes")]
    pub retained_size_bytes: f64,
    #[napi(js_name = "retained_size")]
    pub retained_size: String,
    /// Shortest retaining path from the roots.
    pub path: String,
}

#[napi(object)]
pub struct AnalysisOptionsJs {
    /// `'classic'` (default) or `'devtools'` class names.
    pub grouping: Option<String>,
    /// Path groups per class (default 5).
    #[napi(js_name = "maxPaths")]
    pub max_paths: Option<u32>,
    /// Classes reported, largest retained size first (default 20).
    #[napi(js_name = "maxClasses")]
    pub max_classes: Option<u32>,
    /// Leaks: classes with fewer surviving instances are left out (default 1).
    #[napi(js_name = "minCount")]
    pub min_count: Option<u32>,
    /// Top retainers: how many (default 20).
    pub top: Option<u32>,
    /// Leaks: count V8's own objects (code, hidden classes, system nodes); default true.
    pub internals: Option<bool>,
}

pub(super) fn path_js(g: PathGroup) -> RetainerPathJs {
    RetainerPathJs {
        path: g.text,
        count: g.count as f64,
        steps: g
            .steps
            .into_iter()
            .map(|s| PathStepJs {
                edge: s.edge,
                edge_type: s.edge_type,
                node: s.node,
                node_type: s.node_type,
                id: s.id as f64,
            })
            .collect(),
    }
}

pub(super) fn class_js(c: LeakClass) -> ClassRetentionJs {
    ClassRetentionJs {
        count: c.count as f64,
        size_bytes: c.size_bytes as f64,
        size: format_size(c.size_bytes as i64),
        retained_size_bytes: c.retained_size.map(|r| r as f64),
        retained_size: c.retained_size.map(|r| format_size(r as i64)),
        retainers: c.paths.into_iter().map(path_js).collect(),
        what: c.what,
    }
}

fn report_js(r: LeakReport) -> LeakReportJs {
    LeakReportJs {
        allocated: r.allocated as f64,
        leaked: r.leaked as f64,
        leaks: r.classes.into_iter().map(class_js).collect(),
    }
}

fn leak_options(opts: Option<&AnalysisOptionsJs>, exclude_ids: Vec<u64>) -> Result<LeakOptions> {
    let d = LeakOptions::default();
    Ok(LeakOptions {
        grouping: grouping(opts.and_then(|o| o.grouping.as_deref()))?,
        max_paths: opts
            .and_then(|o| o.max_paths)
            .map_or(d.max_paths, |v| v as usize),
        max_classes: opts
            .and_then(|o| o.max_classes)
            .map_or(d.max_classes, |v| v as usize),
        min_count: opts
            .and_then(|o| o.min_count)
            .map_or(d.min_count, u64::from),
        exclude_ids,
        internals: opts.and_then(|o| o.internals).unwrap_or(d.internals),
    })
}

fn graph_error(e: heapsnap::graph::GraphError) -> Error {
    Error::from_reason(e.to_string())
}

fn top_of(snap: &Snapshot, n: usize) -> Result<Vec<TopRetainerJs>> {
    let dom = DominatorTree::compute(snap).map_err(graph_error)?;
    let top = top_retainers(snap, &dom, n);
    let retained: Vec<u64> = top.iter().map(|&i| dom.retained_size(i)).collect();
    drop(dom);
    let paths = ShortestPaths::compute(snap).map_err(graph_error)?;
    Ok(top
        .into_iter()
        .zip(retained)
        .map(|(i, r)| TopRetainerJs {
            id: snap.node_id(i) as f64,
            what: node_label(snap, i),
            node_type: snap.node_type_name(i).to_owned(),
            self_size: snap.self_size(i) as f64,
            retained_size_bytes: r as f64,
            retained_size: format_size(r as i64),
            path: paths.path_text(snap, i).unwrap_or_default(),
        })
        .collect())
}

enum Input {
    File(PathBuf),
    Parsed(Arc<Snapshot>),
}

pub struct LeaksTask {
    inputs: Vec<Input>,
    opts: Option<AnalysisOptionsJs>,
    progress: Vec<Arc<Progress>>,
}

impl LeaksTask {
    /// The three snapshots; only the last keeps its edges. Files parse two at a time (the
    /// first two on a second thread) since the last one, with edges, takes longest.
    fn load(&self) -> Result<Vec<Arc<Snapshot>>> {
        let load_one = |k: usize| -> std::result::Result<Arc<Snapshot>, String> {
            match &self.inputs[k] {
                Input::Parsed(s) => Ok(s.clone()),
                Input::File(p) => {
                    parse_with_progress(p.clone(), self.progress[k].clone(), k == 2).map(Arc::new)
                }
            }
        };
        let (first_two, last) = thread::scope(|s| {
            let h = s.spawn(|| [load_one(0), load_one(1)]);
            let last = load_one(2);
            (h.join(), last)
        });
        let [a, b] =
            first_two.map_err(|_| Error::from_reason("a snapshot parser thread panicked"))?;
        Ok(vec![
            a.map_err(Error::from_reason)?,
            b.map_err(Error::from_reason)?,
            last.map_err(Error::from_reason)?,
        ])
    }
}

impl Task for LeaksTask {
    type Output = LeakReportJs;
    type JsValue = LeakReportJs;

    fn compute(&mut self) -> Result<Self::Output> {
        contained(|| {
            let s = self.load()?;
            let own = if matches!(self.inputs[2], Input::Parsed(_)) {
                own_object_ids(&s[2])
            } else {
                Vec::new()
            };
            let o = leak_options(self.opts.as_ref(), own)?;
            let r = find_leaks(&s[0], &s[1], &s[2], &o).map_err(graph_error)?;
            Ok(report_js(r))
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

/// Three-snapshot leak finding on in-process snapshots (the last taken with edges).
#[napi(catch_unwind, ts_return_type = "Promise<LeakReportJs>")]
pub fn find_leaks_in_snapshots(
    s1: &HeapSnapshotHandle,
    s2: &HeapSnapshotHandle,
    s3: &HeapSnapshotHandle,
    opts: Option<AnalysisOptionsJs>,
) -> Result<AsyncTask<LeaksTask>> {
    Ok(AsyncTask::new(LeaksTask {
        inputs: vec![
            Input::Parsed(s1.get()?.clone()),
            Input::Parsed(s2.get()?.clone()),
            Input::Parsed(s3.get()?.clone()),
        ],
        opts,
        progress: vec![Arc::default(), Arc::default(), Arc::default()],
    }))
}

pub struct TopTask {
    path: PathBuf,
    top: usize,
    progress: Arc<Progress>,
}

impl Task for TopTask {
    type Output = Vec<TopRetainerJs>;
    type JsValue = Vec<TopRetainerJs>;

    fn compute(&mut self) -> Result<Self::Output> {
        contained(|| {
            let snap = parse_with_progress(self.path.clone(), self.progress.clone(), true)
                .map_err(Error::from_reason)?;
            top_of(&snap, self.top)
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

/// Graph analyses of `.heapsnapshot` files, with progress readable while they run.
#[napi]
pub struct FileAnalysisJob {
    paths: Vec<PathBuf>,
    progress: Vec<Arc<Progress>>,
}

#[napi]
impl FileAnalysisJob {
    #[napi(catch_unwind, constructor)]
    pub fn new(paths: Vec<String>) -> Self {
        FileAnalysisJob {
            progress: paths.iter().map(|_| Arc::default()).collect(),
            paths: paths.into_iter().map(PathBuf::from).collect(),
        }
    }

    /// The largest retainers of the first file.
    #[napi(catch_unwind, ts_return_type = "Promise<Array<TopRetainerJs>>")]
    pub fn top(&self, opts: Option<AnalysisOptionsJs>) -> Result<AsyncTask<TopTask>> {
        let path = self
            .paths
            .first()
            .ok_or_else(|| Error::new(Status::InvalidArg, "top() needs one snapshot file"))?;
        Ok(AsyncTask::new(TopTask {
            path: path.clone(),
            top: opts.and_then(|o| o.top).unwrap_or(20) as usize,
            progress: self.progress[0].clone(),
        }))
    }

    /// The three-snapshot leak report over the three files.
    #[napi(catch_unwind, ts_return_type = "Promise<LeakReportJs>")]
    pub fn leaks(&self, opts: Option<AnalysisOptionsJs>) -> Result<AsyncTask<LeaksTask>> {
        if self.paths.len() != 3 {
            return Err(Error::new(
                Status::InvalidArg,
                "leaks() needs three snapshot files",
            ));
        }
        Ok(AsyncTask::new(LeaksTask {
            inputs: self.paths.iter().cloned().map(Input::File).collect(),
            opts,
            progress: self.progress.clone(),
        }))
    }

    #[napi(catch_unwind)]
    pub fn progress(&self) -> ProgressJs {
        ProgressJs::sum(&self.progress)
    }
}
