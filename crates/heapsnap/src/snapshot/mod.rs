//! Reading V8 heap snapshots into compact tables.

mod builder;
mod classify;
mod devtools_facts;
mod digits;
mod error;
mod ints;
mod meta;
mod needed;
mod options;
mod parse;
mod records;
mod sinks;
mod skip;
mod source;
mod stream;
mod strings;
mod table;
mod trace;

pub(crate) use devtools_facts::{DevToolsFacts, SHARED, UNSEEN};
pub use error::ParseError;
pub use options::ParseOptions;
pub use parse::{parse_file, parse_reader, SnapshotParser};
pub use stream::{parse_streamed, StreamError};
pub use table::{EdgeName, EdgeTable, Snapshot};
pub(crate) use table::{IdColumn, SizeColumn};
pub use trace::AllocationFrame;
