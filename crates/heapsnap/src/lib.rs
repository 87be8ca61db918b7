//! Streaming V8 `.heapsnapshot` parser, compact node tables and id-based heap diffs.
//!
//! Plain Rust with no Node dependency, so the heavy lifting behind heapdiff can be tested and
//! benchmarked with `cargo test` alone.
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

mod classes;
pub mod diff;
pub mod graph;
mod idset;
pub mod own;
pub mod snapshot;

pub use diff::{diff, ClassChange, Diff, DiffOptions, Grouping, Totals};
pub use snapshot::{parse_file, parse_reader, ParseError, ParseOptions, Snapshot, SnapshotParser};
