//! Streaming V8 `.heapsnapshot` parser, compact node tables, id-based heap diffs and the graph
//! analyses that explain them.
//!
//! Plain Rust with no Node dependency, so the heavy lifting behind heapdiff can be tested and
//! benchmarked with `cargo test` alone.
//!
//! A caller starts from a [`Snapshot`]: [`SnapshotParser`] takes the document in pieces,
//! [`parse_streamed`] parses V8's output stream on a second thread as it is written, and
//! [`parse_file`] / [`load_files`] read files. On snapshots it runs [`diff`] or
//! [`explained_diff`] (two snapshots: what changed and what keeps it),
//! [`find_survivors`] (three: what an action leaked) or [`top_retainer_report`]; the
//! [`diff_files`], [`find_survivors_in_files`] and [`top_retainers_in_file`] forms load and
//! analyse in one call, keeping only the edges the analysis reads. Each options type has a
//! `validate` that names a bad field as an [`OptionField`], so the caller reports it in its own
//! spelling before any work starts.
//!
//! ```
//! use heapsnap::{diff, DiffOptions, ParseOptions, SnapshotParser};
//!
//! let doc = br#"{"snapshot":{"meta":{
//!     "node_fields":["type","name","id","self_size","edge_count","detachedness"],
//!     "node_types":[["hidden","array","string","object"]],
//!     "edge_fields":["type","name_or_index","to_node"],
//!     "edge_types":[["context","element","property"]]},"node_count":1,"edge_count":0},
//!   "nodes":[3,1,7,32,0,0],"edges":[],"strings":["","Leaky"]}"#;
//! // Pieces may split the document anywhere, as V8's output stream does.
//! let mut parser = SnapshotParser::new(ParseOptions::default());
//! for piece in doc.chunks(5) {
//!     parser.feed(piece)?;
//! }
//! let after = parser.finish()?;
//! assert_eq!((after.node_name(0), after.self_size(0)), ("Leaky", 32));
//!
//! let before = heapsnap::parse_reader(&doc[..0], ParseOptions::default(), &mut |_| {});
//! assert!(before.is_err(), "an empty input is not a snapshot");
//! let d = diff(&after, &after, &DiffOptions::default());
//! assert_eq!(d.allocated_nodes, 0);
//! # Ok::<(), heapsnap::ParseError>(())
//! ```

#![warn(missing_docs)]

mod allocations;
mod classes;
mod devtools;
mod devtools_diff;
mod diff;
mod explain;
mod files;
mod graph;
mod idset;
mod members;
mod options;
mod origin;
mod own;
mod report;
mod snapshot;

pub use allocations::AllocationStack;
pub use classes::Grouping;
pub use diff::{diff, diff_with, unmatched_nodes, DiffOptions, Strategy, Unmatched};
pub use explain::{explained_diff, ExplainedDiff, Retention, RetentionOptions};
pub use files::{
    diff_files, find_own_survivors_in_files, find_survivors_in_files, load_file, load_files,
    top_retainers_in_file, AnalysisError, FileToLoad, LoadError, Progress,
};
pub use graph::{
    class_retained_sizes, class_retainers, find_survivors, inspect_object, node_index,
    object_retainers, retention_of_new, summarize, top_retainer_report, top_retainers,
    ClassFigures, ClassRetention, DominatorTree, EdgeRef, GraphError, NodeRef, ObjectView,
    PathGroup, PathStep, Retainers, ShortestPaths, SnapshotSummary, SurvivorOptions,
    SurvivorReport, TopRetainer, TopRetainerOptions,
};
pub use options::{OptionError, OptionField};
pub use origin::{id_pairing, IdPairing, SAME_PROCESS_AGREEMENT};
pub use own::{
    in_process_options, own_held_ids, own_node_ids, scripts_of, unmatched_report, OwnCode,
    UnmatchedNode,
};
pub use report::{ClassChange, Diff, Totals};
pub use snapshot::{
    parse_file, parse_reader, parse_streamed, AllocationFrame, EdgeName, EdgeTable, ParseError,
    ParseOptions, Snapshot, SnapshotParser, StreamError,
};
