//! `census()`: the live JS objects of this thread by class, from V8's `QueryObjects` (no
//! snapshot). Conversion only: the walk is `crate::v8::census`, the table and its options are
//! `memstats::Census`.

use std::sync::atomic::Ordering;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use super::options::{resolve, whole, BadOption};
use crate::v8::census::take_census;

/// Options of `census()`; defaults as listed, which `censusOptionDefaults()` returns.
#[napi(object)]
pub struct CensusOptions {
    /// At most this many classes, the most numerous first (at least 1); all when left out.
    pub top: Option<f64>,
    /// Only classes with at least this many live objects (at least 1).
    ///
    /// @default 1
    pub min: Option<f64>,
}

/// One class of a census.
#[napi(object)]
pub struct CensusRow {
    /// The class: the constructor name, as DevTools' Summary names it (`Function` for
    /// functions, `RegExp` for regular expressions).
    pub what: String,
    /// Its live objects.
    pub count: f64,
}

/// A census with what it cost.
#[napi(object)]
pub struct CensusResult {
    /// The classes asked for, the most numerous first (ties by name).
    pub rows: Vec<CensusRow>,
    /// Live JS objects counted, in all classes.
    pub objects: f64,
    /// Classes with at least one object.
    pub classes: f64,
    /// Time V8 took (its full GC and the walk), ms.
    pub ms: f64,
}

impl TryFrom<CensusOptions> for memstats::CensusOptions {
    type Error = BadOption;

    fn try_from(js: CensusOptions) -> std::result::Result<Self, BadOption> {
        let mut o = memstats::CensusOptions::default();
        if let Some(v) = js.top {
            o.top = Some(
                whole::<u32>(v)
                    .ok_or_else(|| BadOption::range("census", "top", "a whole number", v))?,
            );
        }
        if let Some(v) = js.min {
            o.min = whole::<u64>(v)
                .ok_or_else(|| BadOption::range("census", "min", "a whole number", v))?;
        }
        o.validate()
            .map_err(|e| BadOption::range("census", e.option, e.requirement, e.got))?;
        Ok(o)
    }
}

impl From<memstats::CensusOptions> for CensusOptions {
    fn from(o: memstats::CensusOptions) -> Self {
        CensusOptions {
            top: o.top.map(f64::from),
            min: Some(o.min as f64),
        }
    }
}

/// Every `census()` option at its default (`top` is absent: all classes).
#[napi]
pub fn census_option_defaults() -> CensusOptions {
    memstats::CensusOptions::default().into()
}

/// Counts this thread's live JS objects by class (after the full GC V8 runs for it, which is
/// hidden from `stats` like a snapshot's) and returns the rows `opts` asks for.
#[napi(catch_unwind)]
pub fn census(env: Env, opts: Option<CensusOptions>) -> Result<CensusResult> {
    let opts: memstats::CensusOptions = resolve(&env, opts)?;
    let state = env_state(&env)?;
    let unavailable = |why: &str| Error::from_reason(format!("census() is not available: {why}"));
    let api = crate::v8::api().map_err(unavailable)?;
    let census_api = api.census.as_ref().map_err(|e| unavailable(e))?;
    let isolate = state
        .js_isolate(&env)
        .ok_or_else(|| unavailable("no V8 isolate on this thread"))?;
    state.snapshot_depth.fetch_add(1, Ordering::AcqRel);
    let taken = take_census(census_api, isolate, &env);
    state.snapshot_depth.fetch_sub(1, Ordering::AcqRel);
    let taken = taken.map_err(|e| Error::from_reason(format!("census failed: {e}")))?;
    Ok(CensusResult {
        rows: taken
            .census
            .rows(&opts)
            .into_iter()
            .map(|r| CensusRow {
                what: r.what,
                count: r.count as f64,
            })
            .collect(),
        objects: taken.census.total() as f64,
        classes: taken.census.classes() as f64,
        ms: taken.ms,
    })
}
