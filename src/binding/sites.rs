//! Allocation sites of this thread's sampling session, kept natively (`heapprof::live`): the JS
//! layer hands over each read of the live profile and asks for the sites a `leak` event names.
//! Conversion only; the tables live in this environment's `EnvState`.

use heapprof::live::{GrowthOptions, SampledProfile, SiteRecorder};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::env_state;
use super::profile::PprofProfile;

/// An allocation site of a `leak` event (see `heapprof::live::AllocationSite`).
#[napi(object)]
pub struct AllocationSite {
    pub name: String,
    pub url: String,
    pub line: f64,
    pub column: f64,
    pub stack: Vec<String>,
    #[napi(js_name = "growth_bytes")]
    pub growth_bytes: f64,
    #[napi(js_name = "live_bytes")]
    pub live_bytes: f64,
    #[napi(js_name = "live_count")]
    pub live_count: f64,
}

impl From<heapprof::live::AllocationSite> for AllocationSite {
    fn from(s: heapprof::live::AllocationSite) -> Self {
        AllocationSite {
            name: s.name,
            url: s.url,
            line: s.line as f64,
            column: s.column as f64,
            stack: s.stack,
            growth_bytes: s.growth_bytes,
            live_bytes: s.live_bytes,
            live_count: s.live_count,
        }
    }
}

fn read_profile(json: &str) -> Result<SampledProfile> {
    heapprof::live::parse_json(json)
        .map_err(|e| Error::new(Status::InvalidArg, format!("not a sampling profile: {e}")))
}

/// Starts this thread's site tables afresh: `exclude` lists script urls whose allocations are
/// left out (heapdiff's own), `capacity` the summaries kept.
#[napi(catch_unwind)]
pub fn sites_start(env: Env, exclude: Vec<String>, capacity: u32) -> Result<()> {
    *env_state(&env)?.sites() = Some(SiteRecorder::new(exclude, capacity as usize));
    Ok(())
}

/// Frees this thread's site tables.
#[napi(catch_unwind)]
pub fn sites_stop(env: Env) -> Result<()> {
    *env_state(&env)?.sites() = None;
    Ok(())
}

/// Summarizes one read of the live profile (the JSON of what `getSamplingProfile` returned)
/// taken after the full GC at `time_ms`.
#[napi(catch_unwind)]
pub fn sites_observe(env: Env, profile_json: String, interval: f64, time_ms: f64) -> Result<()> {
    let profile = read_profile(&profile_json)?;
    if let Some(r) = env_state(&env)?.sites().as_mut() {
        r.observe(&profile, interval, time_ms);
    }
    Ok(())
}

/// The sites that grew from the summary nearest `start_ms` to the newest, largest growth first.
#[napi(catch_unwind)]
pub fn sites_grown(env: Env, start_ms: f64) -> Result<Vec<AllocationSite>> {
    Ok(match env_state(&env)?.sites().as_ref() {
        Some(r) => r
            .sites_for(start_ms, GrowthOptions::default())
            .into_iter()
            .map(AllocationSite::from)
            .collect(),
        None => Vec::new(),
    })
}

/// Keeps at most `capacity` summaries.
#[napi(catch_unwind)]
pub fn sites_set_capacity(env: Env, capacity: u32) -> Result<()> {
    if let Some(r) = env_state(&env)?.sites().as_mut() {
        r.set_capacity(capacity as usize);
    }
    Ok(())
}

/// Forgets the summaries (a read failed, or someone else stopped the profiler).
#[napi(catch_unwind)]
pub fn sites_clear(env: Env) -> Result<()> {
    if let Some(r) = env_state(&env)?.sites().as_mut() {
        r.clear_ring();
    }
    Ok(())
}

/// Bytes the site tables and summaries of this thread hold (native memory).
#[napi(catch_unwind)]
pub fn sites_native_bytes(env: Env) -> Result<f64> {
    Ok(env_state(&env)?
        .sites()
        .as_ref()
        .map_or(0, SiteRecorder::heap_bytes) as f64)
}

/// A profile's (JSON) stacks that hold live objects, as frames and samples (one per node, allocating
/// frame first; objects estimated where `interval` is given): `heapdiff profile` and pprof.
#[napi(catch_unwind)]
pub fn profile_stacks(profile_json: String, interval: Option<f64>) -> Result<PprofProfile> {
    let p = read_profile(&profile_json)?;
    let interval = interval.filter(|&i| i > 0.0);
    Ok(PprofProfile::from(heapprof::live::profile_rows(
        &p, interval,
    )))
}
