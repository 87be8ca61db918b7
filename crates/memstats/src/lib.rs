//! memwatch's statistics and leak rules, and the strings it printed, in plain Rust.
//!
//! Nothing here knows about Node or V8: the native module records each GC with [`Recorder`]
//! (inside V8's callbacks) and turns the records into events with [`Watcher`] (on the JS thread),
//! then only converts the results, so every rule can be tested with synthetic heaps.
//!
//! Metrics read pauses from [`PauseHistogram`] (every GC, for scrapes) and [`PauseRing`] (each
//! pause, while OpenTelemetry listens), since a scrape may come from any thread and must not
//! wait on a GC; [`format_size`] prints bytes as memwatch did.

#![warn(missing_docs)]

mod census;
mod format;
mod leak;
mod pauses;
mod record;
mod stats;
mod watch;

pub use census::{Census, CensusOptionError, CensusOptions, CensusRow};
pub use format::format_size;
pub use leak::{LeakEvent, LeakOption, LeakOptions, LeakRule, Memory, OptionError};
pub use pauses::{
    GcType, PauseCounts, PauseHistogram, PauseRing, GC_TYPES, PAUSE_BOUNDS_NS, PAUSE_BUCKETS,
};
pub use record::{FullGcSample, GcCounters, GcKind, HeapFigures, Recorder, Source};
pub use stats::ClassicStats;
pub use watch::{Event, LeakFigures, StatsEvent, WatchFigures, Watcher};
