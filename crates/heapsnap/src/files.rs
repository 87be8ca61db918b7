//! Analyses of snapshot files: which of them keep their edges, how they are parsed in parallel,
//! and the progress of reading them, readable from other threads while they parse.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use crate::classes::Grouping;
use crate::diff::DiffOptions;
use crate::explain::{explained_diff, ExplainedDiff, RetentionOptions};
use crate::graph::{
    find_survivors, top_retainer_report, GraphError, SurvivorOptions, SurvivorReport, TopRetainer,
    TopRetainerOptions,
};
use crate::own::{own_held_ids, OwnCode};
use crate::snapshot::{parse_file, ParseError, ParseOptions, Snapshot};

/// Bytes of one file read so far and its size, updated by the thread parsing it.
#[derive(Debug, Default)]
pub struct Progress {
    read: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    fn set(&self, read: u64, total: u64) {
        self.read.store(read, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// `(bytes read, total bytes)` over several files.
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a Progress>) -> (u64, u64) {
        parts.into_iter().fold((0, 0), |(r, t), p| {
            (
                r + p.read.load(Ordering::Relaxed),
                t + p.total.load(Ordering::Relaxed),
            )
        })
    }
}

/// Why files could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// A file is not a snapshot that could be read.
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        error: ParseError,
    },
    /// A second parser thread could not be started.
    Spawn(std::io::Error),
    /// A parser thread panicked.
    Panicked,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // I/O errors name the file already.
            LoadError::Parse {
                error: error @ ParseError::Io { path: Some(_), .. },
                ..
            } => error.fmt(f),
            LoadError::Parse { path, error } => write!(f, "{}: {error}", path.display()),
            LoadError::Spawn(e) => write!(f, "cannot start a parser thread: {e}"),
            LoadError::Panicked => f.write_str("a snapshot parser thread panicked"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Why a file analysis produced no result.
#[derive(Debug)]
pub enum AnalysisError {
    /// The files could not be loaded.
    Load(LoadError),
    /// The snapshots loaded, but the analysis cannot run on them.
    Graph(GraphError),
}

impl From<LoadError> for AnalysisError {
    fn from(e: LoadError) -> Self {
        AnalysisError::Load(e)
    }
}

impl From<GraphError> for AnalysisError {
    fn from(e: GraphError) -> Self {
        AnalysisError::Graph(e)
    }
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisError::Load(e) => e.fmt(f),
            AnalysisError::Graph(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AnalysisError {}

/// One file to load.
#[derive(Debug, Clone, Copy)]
pub struct FileToLoad<'a> {
    /// The snapshot file, gzipped or not.
    pub path: &'a Path,
    /// What to keep besides the node columns.
    pub parse: ParseOptions,
    /// Updated as the file is read, for a caller that shows how far loading got.
    pub progress: &'a Progress,
}

/// Parses one file, reporting its progress; one parsed for DevTools' rules comes with its view
/// made (see `devtools::settle`).
pub fn load_file(file: FileToLoad<'_>) -> Result<Snapshot, LoadError> {
    let mut snap = parse_file(file.path, file.parse, &mut |read, total| {
        file.progress.set(read, total)
    })
    .map_err(|error| LoadError::Parse {
        path: file.path.to_owned(),
        error,
    })?;
    if file.parse.devtools_edges {
        crate::devtools::settle(&mut snap);
    }
    Ok(snap)
}

/// Parses `files`, the last on this thread and the others in order on a second one: the last
/// is the one analysed with its edges and takes longest, so on a multi-core machine this about
/// halves the wall time, and the memory is the compact tables either way. The first error in
/// the order of `files` is reported.
pub fn load_files(files: &[FileToLoad<'_>]) -> Result<Vec<Snapshot>, LoadError> {
    let Some((&last, rest)) = files.split_last() else {
        return Ok(Vec::new());
    };
    if rest.is_empty() {
        return Ok(vec![load_file(last)?]);
    }
    let (rest, last) = thread::scope(|s| {
        let others = thread::Builder::new()
            .name("heapdiff-parse".into())
            .spawn_scoped(s, || rest.iter().map(|&f| load_file(f)).collect::<Vec<_>>())
            .map_err(LoadError::Spawn)?;
        let last = load_file(last);
        let rest = others.join().map_err(|_| LoadError::Panicked)?;
        Ok::<_, LoadError>((rest, last))
    })?;
    let mut out = rest.into_iter().collect::<Result<Vec<_>, _>>()?;
    out.push(last?);
    Ok(out)
}

/// Two files diffed; both keep the edges DevTools' rules read, `after` all of them for
/// `retention`.
pub fn diff_files(
    [before, after]: [&Path; 2],
    opts: &DiffOptions,
    retention: Option<&RetentionOptions>,
    progress: &[Progress; 2],
) -> Result<ExplainedDiff, AnalysisError> {
    let devtools = opts.grouping == Grouping::DevTools;
    let [b, a]: [Snapshot; 2] = load_files(&[
        FileToLoad {
            path: before,
            parse: ParseOptions {
                keep_edges: false,
                devtools_edges: devtools,
            },
            progress: &progress[0],
        },
        FileToLoad {
            path: after,
            parse: ParseOptions {
                keep_edges: retention.is_some(),
                devtools_edges: devtools,
            },
            progress: &progress[1],
        },
    ])?
    .try_into()
    .expect("two files, two snapshots");
    Ok(explained_diff(&b, &a, opts, retention)?)
}

/// The three-snapshot technique on files; only the last keeps its edges.
pub fn find_survivors_in_files(
    paths: [&Path; 3],
    opts: &SurvivorOptions,
    progress: &[Progress; 3],
) -> Result<SurvivorReport, AnalysisError> {
    find_own_survivors_in_files(paths, opts, None, progress)
}

/// `find_survivors_in_files` on snapshots of a program a tool ran in: with `own`, what only the
/// tool's objects and module state hold in the third file is left out as well (see
/// `own_held_ids`), besides `opts.exclude_ids`.
pub fn find_own_survivors_in_files(
    paths: [&Path; 3],
    opts: &SurvivorOptions,
    own: Option<&OwnCode>,
    progress: &[Progress; 3],
) -> Result<SurvivorReport, AnalysisError> {
    let files: Vec<FileToLoad> = (0..3)
        .map(|k| FileToLoad {
            path: paths[k],
            parse: ParseOptions {
                keep_edges: k == 2,
                devtools_edges: false,
            },
            progress: &progress[k],
        })
        .collect();
    let s = load_files(&files)?;
    let Some(own) = own else {
        return Ok(find_survivors(&s[0], &s[1], &s[2], opts)?);
    };
    let mut opts = opts.clone();
    opts.exclude_ids.extend(own_held_ids(&s[2], own));
    Ok(find_survivors(&s[0], &s[1], &s[2], &opts)?)
}

/// The largest retainers of one file (parsed with its edges).
pub fn top_retainers_in_file(
    path: &Path,
    opts: &TopRetainerOptions,
    progress: &Progress,
) -> Result<Vec<TopRetainer>, AnalysisError> {
    let snap = load_file(FileToLoad {
        path,
        parse: ParseOptions {
            keep_edges: true,
            devtools_edges: false,
        },
        progress,
    })?;
    Ok(top_retainer_report(&snap, opts)?)
}
