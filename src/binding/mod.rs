//! The Node-API boundary: entry points, the napi types JS sees (their doc comments are the
//! typed description in `binding.d.ts`) and conversions; nothing more. Per-environment state,
//! V8 calls and raw Node-API calls live in `gc` and `v8` behind safe functions (their contracts
//! are in `v8::isolate`, `gc::state` and `gc::deliver`), so all of this module is safe Rust.
//!
//! **Naming rule.** A napi type is named in Rust by what it is, without a `Js` suffix, and JS
//! sees the same name, so `binding.d.ts` and the Rust agree (`LeakEvent`, `DiffOptions`,
//! `HookStatus`). The one exception keeps the public TS surface unchanged: four types whose TS
//! names already carry `Js` and are used by `index.ts` and `metrics.ts` (`GcEventJs`,
//! `LeakSiteJs`, `ThreadMetricsJs`, `ThreadPausesJs`) keep those names through
//! `#[napi(object, js_name = "...")]`. Where a napi type shares its name with the type it is
//! converted from (`memstats::LeakOptions`, `gc::metrics::LeakSite`), the other one is written
//! with its module path rather than renamed.
//!
//! `snapshot` (handles) is used by `diff` and `analysis`; `retention`, `options` and `task` are
//! leaves shared by them. `watch` is the GC side.

mod analysis;
mod census;
mod diff;
mod inspect;
mod metrics;
mod options;
mod profile;
mod retention;
mod sampling;
mod sites;
mod snapshot;
mod task;
mod watch;

/// This environment's watcher state (made and torn down in `gc::state`).
pub(crate) use crate::gc::env::env_state;
