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

/// A class whose live objects grew between a leak window's two censuses.
#[napi(object)]
pub struct ClassGrowth {
    pub what: String,
    /// Live objects at the event's census.
    pub count: f64,
    /// Objects more than at the baseline census.
    pub growth: f64,
}

/// What a `leak` event says of its classes (the JS layer turns `since_ms` into a `Date`).
#[napi(object)]
pub struct LeakClasses {
    /// When the baseline census was taken, ms since the epoch.
    pub since_ms: f64,
    /// Most growth first.
    pub classes: Vec<ClassGrowth>,
    /// Both censuses' cost, ms: how long the program was stopped for them.
    pub census_ms: f64,
}

impl From<memstats::LeakClasses> for LeakClasses {
    fn from(c: memstats::LeakClasses) -> Self {
        LeakClasses {
            since_ms: c.since_ms,
            classes: c
                .classes
                .into_iter()
                .map(|g| ClassGrowth {
                    what: g.what,
                    count: g.count as f64,
                    growth: g.growth as f64,
                })
                .collect(),
            census_ms: c.census_ms,
        }
    }
}

/// A census for the leak events' plan, hidden from `stats` like `census()`'s; `None` where
/// census is unavailable (the event then carries no classes).
fn plan_census(
    env: &Env,
    state: &crate::gc::state::EnvState,
) -> Option<crate::v8::census::CensusTaken> {
    let api = crate::v8::api().ok()?;
    let census_api = api.census.as_ref().ok()?;
    let isolate = state.js_isolate(env)?;
    state.snapshot_depth.fetch_add(1, Ordering::AcqRel);
    let taken = take_census(census_api, isolate, env);
    state.snapshot_depth.fetch_sub(1, Ordering::AcqRel);
    taken.ok()
}

/// After a full GC's `stats` event, while the `census` leak option is on: takes the baseline
/// census if a leak rule now sees growth and none is held, or, before the thread's first event
/// and the rule's window, a refresh as the heap grows (`memstats::CensusPlan::wants_refresh`). Returns its
/// cost in ms, or null.
#[napi(catch_unwind)]
pub fn census_step(env: Env) -> Result<Option<f64>> {
    let state = env_state(&env)?;
    let mut plan = state.census_plan();
    let Some(plan) = plan.as_mut() else {
        return Ok(None);
    };
    let f = state.watcher().figures();
    let (heap, full_gcs) = f.last.map_or((0, 0), |s| (s.current_base, s.num_full_gc));
    let growing = f.heap.suspected || f.external.suspected || f.heap.rising || f.external.rising;
    let baseline = plan.wants_baseline(growing);
    if !baseline && !plan.wants_refresh(heap, full_gcs) {
        return Ok(None);
    }
    let Some(taken) = plan_census(&env, state) else {
        return Ok(None);
    };
    let now = crate::gc::state::now_ms();
    if baseline {
        plan.set_baseline(now, taken.census, taken.ms, heap);
    } else {
        plan.set_latest(now, taken.census, taken.ms, heap);
    }
    Ok(Some(taken.ms))
}

/// At a `leak` event, while the `census` leak option is on: the `top` classes that grew since
/// the baseline census; null without a baseline or where census is unavailable.
#[napi(catch_unwind)]
pub fn census_at_leak(env: Env, top: u32) -> Result<Option<LeakClasses>> {
    let state = env_state(&env)?;
    let mut plan = state.census_plan();
    let Some(plan) = plan.as_mut() else {
        return Ok(None);
    };
    let Some(taken) = plan_census(&env, state) else {
        return Ok(None);
    };
    let heap = state.watcher().figures().last.map_or(0, |s| s.current_base);
    Ok(plan
        .at_leak(
            crate::gc::state::now_ms(),
            taken.census,
            taken.ms,
            heap,
            top as usize,
        )
        .map(LeakClasses::from))
}

/// While the `census` leak option is on and growth has shown (a baseline census is held): the
/// `top` classes that grew since the baseline, from a census taken now, the baseline kept. Null,
/// without taking a census, when no baseline is held or census is unavailable.
#[napi(catch_unwind)]
pub fn census_growth(env: Env, top: u32) -> Result<Option<LeakClasses>> {
    let state = env_state(&env)?;
    let plan = state.census_plan();
    let Some(plan) = plan.as_ref().filter(|p| p.has_baseline()) else {
        return Ok(None);
    };
    let Some(taken) = plan_census(&env, state) else {
        return Ok(None);
    };
    Ok(plan
        .growth(&taken.census, taken.ms, top as usize)
        .map(LeakClasses::from))
}

/// What grew before the thread's first event, as last counted.
#[napi(object)]
pub struct GrowthSoFar {
    /// When the newest census was taken, ms since the epoch.
    pub at_ms: f64,
    pub growth: LeakClasses,
}

/// The `top` classes that grew from the baseline census to the newest refresh census
/// (`memstats::CensusPlan::growth_so_far`), taking no census: what `heapdiff run` records at
/// exit, counted while the program's state was still reachable. Null before a refresh census,
/// after an event, or with the `census` leak option off.
#[napi(catch_unwind)]
pub fn census_growth_so_far(env: Env, top: u32) -> Result<Option<GrowthSoFar>> {
    let state = env_state(&env)?;
    let plan = state.census_plan();
    Ok(plan
        .as_ref()
        .and_then(|p| p.growth_so_far(top as usize))
        .map(|(at_ms, g)| GrowthSoFar {
            at_ms,
            growth: g.into(),
        }))
}
