//! Reading V8 heap snapshots into compact tables.

mod builder;
mod classify;
mod error;
mod ints;
mod meta;
pub mod parse;
mod skip;
mod source;
mod strings;
pub mod table;

pub use error::ParseError;
pub use parse::{parse_file, parse_reader, ParseOptions, SnapshotParser};
pub use table::{EdgeName, EdgeTable, Snapshot};
