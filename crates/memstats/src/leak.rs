//! Deciding, from the heap left after each full GC, whether the application leaks.
//!
//! memwatch's rule (five growing full GCs in a row) errs both ways: any monotone start-up or a
//! cache filling to its cap trips it, while one dip resets a real but noisy leak, and a fast leak
//! under natural GC (V8 grows the heap and runs only a few full GCs) never reaches five. Three
//! rules are offered, each tunable:
//!
//! * **Trend** (default): least-squares growth over a window of full GCs that is statistically
//!   clear, large enough to matter, and still going at the window's end: the newest heap tops
//!   everything before it in the window by half a typical step, and the level the heap *held*
//!   since the last report by two, and the window's later half still rises at half the slope
//!   or more (by the median of its pairwise slopes, which one late step leaves flat). Noise and
//!   single dips do not reset it; a warm-up or a cache that stopped growing inside the window
//!   does not trip it, nor does a heap growing back to a level it held before a dip.
//!
//! "Held" is what separates a recovery from a leak after a peak. The heap held a level when it
//! came back to it: two full GCs at least k apart (k = `window / 2`, at least 3) both left that
//! much or more, and neither ended a significant rise over the k GCs before it. A transient peak
//! of up to k GCs (start-up data that is garbage by the next full GC, a big request, a batch
//! job) is one visit, not held, so a leak that starts below it is reported within the window
//! instead of after passing the peak, which could take hours. A plateau the heap sat on is held,
//! and so is the top of a working set whose size varies at random, as it keeps coming back
//! there: climbing back after a cache flush, or a chance run of larger working sets, stays
//! silent. The levels a rising heap passes through are not held (they are the leak, not the
//! working set), and a report forgets them all: after a `leak` event only what comes next
//! counts.
//! * **Classic**: memwatch's streak, minus its bugs (no growth "from 0" on the first GC, no
//!   division by zero when GCs share a second).
//! * **Fast path** (with either rule): a short run of full GCs over which the heap at least
//!   doubles by a large amount: a runaway leak is reported after a handful of natural GCs. The
//!   run's growth counts from the higher of its start and the level the heap held, so refilling
//!   a flushed cache in two GCs is not a runaway, while a transient peak before the run changes
//!   nothing.
//!
//! The classic rule stays memwatch's: it knows nothing of earlier levels, so it reports a leak
//! after any peak as soon as five growing GCs follow, and it reports a recovery just as it
//! reports a warm-up.

use std::collections::VecDeque;

use crate::format::{format_duration, format_rate};

/// Which rule decides whether the heap leaks; the fast path applies to either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakRule {
    /// memwatch's streak of growing full GCs, minus its bugs.
    Classic,
    /// A clear least-squares rise over a window that is still going at its end.
    Trend,
}

/// The rule's knobs. Defaults are listed per field.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakOptions {
    /// Which rule decides (default `Trend`). The fast path applies to both.
    pub rule: LeakRule,
    /// Classic: growing full GCs in a row that make a report (default 5, memwatch's number).
    pub consecutive_growth: u32,
    /// Trend: full GCs in the regression window (default 10, at least 3). A start-up phase or
    /// cache fill shorter than this is never reported; a steady leak is reported after this many
    /// full GCs.
    pub window: u32,
    /// Trend: bytes the fitted line must rise over the window (default 256 KiB), a noise floor.
    pub min_growth: u64,
    /// Trend: how clearly the slope must stand out from the scatter around it, as a t-statistic
    /// (default 3.0; a perfect line passes any value).
    pub significance: f64,
    /// Fast path: growing full GCs in a row (default 2; 0 turns the fast path off).
    pub fast_gcs: u32,
    /// Fast path: bytes the run must have grown by (default 128 MiB).
    pub fast_min_growth: u64,
    /// Fast path: growth as a multiple of the run's starting heap (default 1.0: it doubled).
    pub fast_min_ratio: f64,
    /// Whether external memory is judged too, by the same rule and knobs, in its own series
    /// (default true). Its reports are `Memory::External` events.
    pub external: bool,
    /// Whether `leak` events name the classes that grew, from two class censuses per leak
    /// window (`CensusPlan`; default false: each census stops the program about as long as a
    /// full GC and a walk of the heap).
    pub census: bool,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            rule: LeakRule::Trend,
            consecutive_growth: 5,
            window: 10,
            min_growth: 256 * 1024,
            significance: 3.0,
            fast_gcs: 2,
            fast_min_growth: 128 * 1024 * 1024,
            fast_min_ratio: 1.0,
            external: true,
            census: false,
        }
    }
}

/// The options, named for error reports; the JS layer maps each to its own spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakOption {
    /// `LeakOptions::rule`.
    Rule,
    /// `LeakOptions::consecutive_growth`.
    ConsecutiveGrowth,
    /// `LeakOptions::window`.
    Window,
    /// `LeakOptions::min_growth`.
    MinGrowth,
    /// `LeakOptions::significance`.
    Significance,
    /// `LeakOptions::fast_gcs`.
    FastGcs,
    /// `LeakOptions::fast_min_growth`.
    FastMinGrowth,
    /// `LeakOptions::fast_min_ratio`.
    FastMinRatio,
}

/// An option value the rule cannot work with: `{option} must be {requirement}, got {got}`.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionError {
    /// The option at fault.
    pub option: LeakOption,
    /// What it must be, e.g. `"at least 3 full GCs"`.
    pub requirement: &'static str,
    /// The value given, as printed.
    pub got: String,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} must be {}, got {}",
            self.option, self.requirement, self.got
        )
    }
}

impl std::error::Error for OptionError {}

/// Which memory a leak rule watches: each is judged on its own, by the same rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Memory {
    /// V8's used heap after a full GC: memwatch's series.
    #[default]
    Heap,
    /// V8's external memory after a full GC: the bytes outside the heap that JS objects hold
    /// (`ArrayBuffer` backing stores, so every `Buffer`, and external strings), which a heap
    /// leak rule never sees.
    External,
}

impl Memory {
    /// The `memory` string a `leak` event carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Memory::Heap => "heap",
            Memory::External => "external",
        }
    }

    /// How a sentence names it, memwatch's `heap` first.
    fn noun(self) -> &'static str {
        match self {
            Memory::Heap => "heap",
            Memory::External => "external memory",
        }
    }
}

/// One `leak` event.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakEvent {
    /// Which memory grew.
    pub memory: Memory,
    /// When the reported growth began: the first full GC counted, ms since the epoch.
    pub start_ms: f64,
    /// The full GC that completed the report, ms since the epoch.
    pub end_ms: f64,
    /// The memory at `end_ms` minus at `start_ms`, bytes (exact; `reason` rounds).
    pub growth: i64,
    /// Full GCs the report spans, counted as memwatch did: growth steps for the streak rules,
    /// samples for the trend window.
    pub gcs: u32,
    /// memwatch's sentence, e.g. `heap growth over 10 consecutive GCs (1m 40s) - 11.67 mb/hr`;
    /// `external memory growth over …` for external memory.
    pub reason: String,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    t: f64,
    base: u64,
}

#[derive(Clone, Debug)]
pub struct LeakDetector {
    opts: LeakOptions,
    memory: Memory,
    prev: Option<Sample>,
    /// Classic streak: where it began (the last GC before the growth) and its length.
    streak_start: Option<Sample>,
    streak: u32,
    /// Fast path run, like the streak but kept independently of the rule.
    run_start: Option<Sample>,
    run: u32,
    window: VecDeque<Sample>,
    /// The newest `hold_len()` bases: whether the newest ends a rise.
    stretch: VecDeque<u64>,
    /// Full GCs observed, numbering the levels below.
    gcs: u64,
    /// Bases since the last report that ended no rise, from the last `hold_len()` GCs...
    recent_levels: VecDeque<(u64, u64)>,
    /// ...and the highest of the older ones.
    older_level: Option<u64>,
    /// The held level since the last report (see the module docs).
    held: u64,
    /// What `suspected()` and `growth_rate()` answer from: the newest `window` samples (never
    /// cleared by a report), and full GCs since the last report while it still stands.
    recent: VecDeque<Sample>,
    since_report: Option<u32>,
}

impl LeakDetector {
    pub fn new(opts: LeakOptions) -> Result<Self, OptionError> {
        let check = |ok: bool, option, requirement, got: &dyn std::fmt::Display| {
            if ok {
                Ok(())
            } else {
                Err(OptionError {
                    option,
                    requirement,
                    got: got.to_string(),
                })
            }
        };
        let c = opts.consecutive_growth;
        check(c >= 1, LeakOption::ConsecutiveGrowth, "at least 1", &c)?;
        let w = opts.window;
        check(w >= 3, LeakOption::Window, "at least 3 full GCs", &w)?;
        let s = opts.significance;
        let positive = s.is_finite() && s > 0.0;
        check(positive, LeakOption::Significance, "a positive number", &s)?;
        let r = opts.fast_min_ratio;
        let ratio = r.is_finite() && r >= 0.0;
        check(ratio, LeakOption::FastMinRatio, "a number >= 0", &r)?;
        Ok(LeakDetector {
            window: VecDeque::with_capacity(opts.window as usize),
            stretch: VecDeque::with_capacity(hold_len(opts.window)),
            recent_levels: VecDeque::with_capacity(hold_len(opts.window)),
            opts,
            memory: Memory::Heap,
            prev: None,
            streak_start: None,
            streak: 0,
            run_start: None,
            run: 0,
            gcs: 0,
            older_level: None,
            held: 0,
            recent: VecDeque::with_capacity(w as usize),
            since_report: None,
        })
    }

    /// The same rule, over another memory's series (its events say so).
    pub fn watching(mut self, memory: Memory) -> Self {
        self.memory = memory;
        self
    }

    #[cfg(test)]
    pub fn options(&self) -> &LeakOptions {
        &self.opts
    }

    /// Feeds the heap left after one full GC at `time_ms` (ms since the epoch).
    pub fn observe(&mut self, time_ms: f64, base: u64) -> Option<LeakEvent> {
        let now = Sample { t: time_ms, base };
        let prev = self.prev.replace(now);
        let grew = prev.is_some_and(|p| base > p.base);

        let report = self
            .fast_path(prev, now, grew)
            .or_else(|| match self.opts.rule {
                LeakRule::Classic => self.classic(prev, now, grew),
                LeakRule::Trend => self.trend(now),
            });
        if report.is_some() {
            self.reset_after_report(now);
        }
        self.hold(base);
        self.track(now, report.is_some());
        report
    }

    /// Whether the rule suspects a leak now: from a report until `window` full GCs after it,
    /// none of them reported, whose least-squares line no longer rises by the trend rule's test
    /// (`rises`: slope clear at `significance`, rise of `min_growth` or more). The check is
    /// repeated at every full GC after that, so a leak that goes on keeps the verdict, and a
    /// heap that stopped growing clears it exactly one window after its last report.
    pub fn suspected(&self) -> bool {
        self.since_report.is_some()
    }

    /// Whether growth shows now, early enough to count what grows before a report: the trend
    /// rule's line rises (`growth_rate` > 0) and the last two full GCs grew, or a run of growing
    /// full GCs has grown by a quarter of the fast path's threshold already (a runaway is
    /// reported after a couple of GCs, before any line can rise).
    pub fn rising(&self) -> bool {
        let run = match (self.run_start, self.prev) {
            (Some(start), Some(now)) if self.run > 0 => now.base.saturating_sub(start.base),
            _ => 0,
        };
        // A rising line alone happens by chance on a working set of random size (one GC in a
        // few dozen); with the last two GCs both growing too, far less often.
        (self.opts.fast_gcs > 0 && run >= self.opts.fast_min_growth / 4)
            || (self.run >= 2 && self.growth_rate() > 0.0)
    }

    /// The growth the rule sees now, bytes per second: the rise of the least-squares line over
    /// the newest `window` full GCs (fewer, at least 3, early on) over the time they span; 0
    /// when that line does not rise by the trend rule's test.
    pub fn growth_rate(&self) -> f64 {
        if self.recent.len() < 3 {
            return 0.0;
        }
        let fit = fit_line(self.recent.iter().map(|s| s.base));
        if !self.rises(&fit) {
            return 0.0;
        }
        let (first, last) = (self.recent[0].t, self.recent[self.recent.len() - 1].t);
        // GCs within one millisecond (two `gc()` calls in a row) still give a finite rate.
        fit.growth / ((last - first) / 1000.0).max(1e-3)
    }

    fn track(&mut self, now: Sample, reported: bool) {
        if self.recent.len() == self.opts.window as usize {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        if reported {
            self.since_report = Some(0);
            return;
        }
        let Some(n) = self.since_report.as_mut() else {
            return;
        };
        *n += 1;
        if *n < self.opts.window {
            return;
        }
        let fit = fit_line(self.recent.iter().map(|s| s.base));
        if !self.rises(&fit) {
            self.since_report = None;
        }
    }

    /// Raises the held level if the newest base ends no rise and the heap already left as much
    /// at least k GCs ago.
    fn hold(&mut self, base: u64) {
        let k = hold_len(self.opts.window);
        self.gcs += 1;
        if self.stretch.len() == k {
            self.stretch.pop_front();
        }
        self.stretch.push_back(base);
        if self.stretch.len() == k && self.rises(&fit_line(self.stretch.iter().copied())) {
            return;
        }
        while let Some(&(gc, level)) = self.recent_levels.front() {
            if self.gcs - gc < k as u64 {
                break;
            }
            self.older_level = Some(self.older_level.map_or(level, |l| l.max(level)));
            self.recent_levels.pop_front();
        }
        if let Some(older) = self.older_level {
            self.held = self.held.max(older.min(base));
        }
        self.recent_levels.push_back((self.gcs, base));
    }

    /// Clear, large enough to matter, upwards: the trend rule's test of a fitted line.
    fn rises(&self, fit: &Fit) -> bool {
        fit.slope > 0.0
            && fit.t >= self.opts.significance
            && fit.growth >= self.opts.min_growth as f64
    }

    fn reset_after_report(&mut self, now: Sample) {
        self.streak = 0;
        self.streak_start = None;
        self.run = 0;
        self.run_start = Some(now);
        self.window.clear();
        self.window.push_back(now);
        self.recent_levels.clear();
        self.older_level = None;
        self.held = 0;
    }

    fn fast_path(&mut self, prev: Option<Sample>, now: Sample, grew: bool) -> Option<LeakEvent> {
        if !grew {
            self.run = 0;
            self.run_start = Some(now);
            return None;
        }
        if self.run == 0 {
            self.run_start = prev;
        }
        self.run += 1;
        let start = self.run_start?;
        // Growth back up to a level the heap held is a refill, not a runaway.
        let from = start.base.max(self.held);
        let growth = now.base.saturating_sub(from);
        let fast = self.opts.fast_gcs > 0
            && self.run >= self.opts.fast_gcs
            && growth >= self.opts.fast_min_growth
            && growth as f64 >= self.opts.fast_min_ratio * from as f64;
        fast.then(|| report(self.memory, start, now, self.run))
    }

    fn classic(&mut self, prev: Option<Sample>, now: Sample, grew: bool) -> Option<LeakEvent> {
        if !grew {
            self.streak = 0;
            return None;
        }
        if self.streak == 0 {
            self.streak_start = prev;
        }
        self.streak += 1;
        if self.streak < self.opts.consecutive_growth {
            return None;
        }
        let start = self.streak_start?;
        Some(report(self.memory, start, now, self.streak))
    }

    fn trend(&mut self, now: Sample) -> Option<LeakEvent> {
        if self.window.len() == self.opts.window as usize {
            self.window.pop_front();
        }
        self.window.push_back(now);
        if self.window.len() < self.opts.window as usize {
            return None;
        }
        let bases = self.window.iter().map(|s| s.base);
        let fit = fit_line(bases.clone());
        if !self.rises(&fit) {
            return None;
        }
        // Still growing now: the newest base tops everything before it in the window by half a
        // typical step (a warm-up or a cache that stopped filling inside the window fails here)
        // and the level held since the last report (a heap growing back after a dip fails).
        let before = bases.take(self.window.len() - 1).max().unwrap_or(0);
        // Past the held level by two steps, not half of one: a working set whose size varies at
        // random reaches its old top again by chance more often than a plateau's scatter does.
        let now_base = now.base as f64;
        if now_base < before as f64 + fit.slope / 2.0
            || now_base < self.held as f64 + 2.0 * fit.slope
        {
            return None;
        }
        // And still growing over the window's later half at half the whole slope or more: a fill
        // that ended mid-window leaves that half flat, and a late step on it (code compiled late
        // on a busy machine, a table resized) would otherwise pass the test above.
        let later = (self.window.len() / 2).max(3);
        let tail = self
            .window
            .iter()
            .skip(self.window.len() - later)
            .map(|s| s.base);
        if median_slope(tail) < fit.slope / 2.0 {
            return None;
        }
        let first = *self.window.front()?;
        Some(report(self.memory, first, now, self.window.len() as u32))
    }
}

fn report(memory: Memory, start: Sample, end: Sample, gcs: u32) -> LeakEvent {
    let growth = end.base as i64 - start.base as i64;
    let ms = (end.t - start.t).max(0.0);
    LeakEvent {
        memory,
        start_ms: start.t,
        end_ms: end.t,
        growth,
        gcs,
        reason: format!(
            "{} growth over {gcs} consecutive GCs ({}) - {}",
            memory.noun(),
            format_duration((ms / 1000.0).round() as u64),
            format_rate(growth, ms.round() as u64)
        ),
    }
}

/// The held level's k: more GCs than a transient peak lasts, few enough that a plateau before a
/// dip is held well inside one window.
fn hold_len(window: u32) -> usize {
    (window as usize / 2).max(3)
}

struct Fit {
    slope: f64,
    /// The slope's t-statistic against the scatter around the line.
    t: f64,
    /// The fitted line's rise from the first sample to the last.
    growth: f64,
}

/// Least squares of base over GC index (not time: GCs are the unit the knobs count in, and
/// forced GCs come at arbitrary times). Needs at least 3 bases.
fn fit_line<I>(bases: I) -> Fit
where
    I: IntoIterator<Item = u64>,
    I::IntoIter: ExactSizeIterator + Clone,
{
    let bases = bases.into_iter();
    let n = bases.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = bases.clone().map(|b| b as f64).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (i, b) in bases.clone().enumerate() {
        let dx = i as f64 - mean_x;
        sxx += dx * dx;
        sxy += dx * (b as f64 - mean_y);
    }
    let slope = sxy / sxx;
    let sse: f64 = bases
        .enumerate()
        .map(|(i, b)| {
            let r = b as f64 - (mean_y + slope * (i as f64 - mean_x));
            r * r
        })
        .sum();
    let se = (sse / (n - 2.0) / sxx).sqrt();
    // Relative tolerance: integer bases on an exact line leave rounding-level residuals.
    let t = if se <= slope.abs() * 1e-12 {
        f64::INFINITY
    } else {
        slope / se
    };
    Fit {
        slope,
        t,
        growth: slope * (n - 1.0),
    }
}

/// Theil–Sen: the median of the slopes between every pair of bases. Unlike least squares, one
/// step at the end of a flat stretch leaves it near zero.
fn median_slope<I>(bases: I) -> f64
where
    I: IntoIterator<Item = u64>,
{
    let bases: Vec<f64> = bases.into_iter().map(|b| b as f64).collect();
    let mut slopes = Vec::with_capacity(bases.len() * bases.len() / 2);
    for (i, a) in bases.iter().enumerate() {
        for (j, b) in bases.iter().enumerate().skip(i + 1) {
            slopes.push((b - a) / (j - i) as f64);
        }
    }
    slopes.sort_by(f64::total_cmp);
    match slopes.len() {
        0 => 0.0,
        n if n % 2 == 1 => slopes[n / 2],
        n => (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB: f64 = 1024.0;
    const MB: f64 = 1024.0 * 1024.0;

    /// Deterministic noise in [-1, 1] without a dependency.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        }
    }

    /// Feeds `bases` at `interval_ms` apart; returns the indices (0-based GC numbers) that reported.
    fn run(opts: LeakOptions, bases: &[f64], interval_ms: f64) -> Vec<(usize, LeakEvent)> {
        let mut d = LeakDetector::new(opts).unwrap();
        let t0 = 1.7e12;
        bases
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                d.observe(t0 + i as f64 * interval_ms, b.max(0.0) as u64)
                    .map(|r| (i, r))
            })
            .collect()
    }

    fn classic() -> LeakOptions {
        LeakOptions {
            rule: LeakRule::Classic,
            ..LeakOptions::default()
        }
    }

    /// 1 MB/min with a full GC every 30 s is 0.5 MB per GC.
    fn steady_leak(n: usize, noise: f64, seed: u64) -> Vec<f64> {
        let mut rng = Lcg(seed);
        (0..n)
            .map(|i| 60.0 * MB + i as f64 * 0.5 * MB + noise * rng.next())
            .collect()
    }

    #[test]
    fn steady_leak_of_1mb_per_min_is_reported_within_the_window() {
        let reports = run(
            LeakOptions::default(),
            &steady_leak(40, 100.0 * KB, 1),
            30_000.0,
        );
        assert!(reports.len() >= 2, "{reports:?}");
        let (first, r) = &reports[0];
        assert!(*first < 10 + 3, "first report at GC {first}");
        assert!(
            r.reason
                .starts_with("heap growth over 10 consecutive GCs (4m 30s) - "),
            "{}",
            r.reason
        );
        assert!(r.reason.ends_with(" mb/hr"), "{}", r.reason);
        // ~1 MB/min = ~60 mb/hr.
        let rate: f64 = r
            .reason
            .split(" - ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((45.0..75.0).contains(&rate), "{rate}");
        // Another report after another window.
        assert!(reports[1].0 - first <= 12, "{reports:?}");
    }

    #[test]
    fn noisy_leak_is_found_by_trend_more_reliably_than_by_classic() {
        // Scatter of ±1 MB around a 0.5 MB/GC rise: about one GC in four is a dip.
        let (mut trend_total, mut classic_total) = (0, 0);
        for seed in 0..20 {
            let bases = steady_leak(60, 1.0 * MB, seed);
            let trend = run(LeakOptions::default(), &bases, 30_000.0);
            assert!(
                !trend.is_empty() && trend[0].0 < 20,
                "seed {seed}: {trend:?}"
            );
            trend_total += trend.len();
            classic_total += run(classic(), &bases, 30_000.0).len();
        }
        // Dips keep resetting the classic streak.
        assert!(
            classic_total * 2 < trend_total,
            "classic {classic_total} vs trend {trend_total}"
        );
    }

    fn warmup() -> Vec<f64> {
        let mut rng = Lcg(3);
        (0..208)
            .map(|i| 30.0 * MB + (i.min(8) as f64) * 2.0 * MB + 50.0 * KB * rng.next())
            .collect()
    }

    #[test]
    fn warmup_then_plateau_is_not_reported_by_trend_but_is_by_classic() {
        assert_eq!(run(LeakOptions::default(), &warmup(), 1000.0), vec![]);
        assert!(!run(classic(), &warmup(), 1000.0).is_empty());
    }

    #[test]
    fn capped_cache_is_not_reported() {
        let mut rng = Lcg(11);
        let bases: Vec<f64> = (0..207)
            .map(|i| {
                let fill = (i.min(7) as f64) * 3.0 * MB;
                let dip = if i > 7 && i % 13 == 0 {
                    -400.0 * KB
                } else {
                    0.0
                };
                20.0 * MB + fill + dip + 30.0 * KB * rng.next()
            })
            .collect();
        assert_eq!(run(LeakOptions::default(), &bases, 1000.0), vec![]);
    }

    /// The shape `leak-scenario.js cache` leaves on Node 26: ~220 KB per GC for 8 GCs, a creep
    /// of a few KB per GC, and, when the machine is busy, a lasting step of up to ~160 KB a few
    /// GCs after the fill (optimised code of the filling functions, compiled late). The step tops
    /// the window by more than half its slope, but the window's later half is flat: the fill is
    /// over. (A step as large as a fill step right after it is a leak's shape, and is reported.)
    #[test]
    fn a_late_step_after_a_cache_fill_is_not_reported() {
        for step_at in 11..20 {
            for step_kb in [80.0, 160.0] {
                let bases: Vec<f64> = (0..60usize)
                    .map(|i| {
                        let fill = (i.min(8) as f64) * 220.0 * KB;
                        let creep = (i.saturating_sub(8).min(4) as f64) * 8.0 * KB;
                        let step = if i >= step_at { step_kb * KB } else { 0.0 };
                        4.76 * MB + fill + creep + step
                    })
                    .collect();
                assert_eq!(
                    run(LeakOptions::default(), &bases, 50.0),
                    vec![],
                    "{step_kb} KB step at GC {step_at}"
                );
            }
        }
    }

    #[test]
    fn steady_churn_is_never_reported() {
        let mut rng = Lcg(5);
        let bases: Vec<f64> = (0..500)
            .map(|_| 40.0 * MB + 200.0 * KB * rng.next())
            .collect();
        assert_eq!(run(LeakOptions::default(), &bases, 1000.0), vec![]);
        assert_eq!(run(classic(), &bases, 1000.0).len(), 0);
    }

    fn fast_leak() -> Vec<f64> {
        [40.0, 95.0, 180.0, 390.0, 800.0]
            .iter()
            .map(|m| m * MB)
            .collect()
    }

    #[test]
    fn fast_leak_under_natural_gc_is_reported_after_a_few_gcs() {
        let reports = run(LeakOptions::default(), &fast_leak(), 1500.0);
        // 40 → 95 → 180: two growth steps, 140 MB, more than doubled.
        assert_eq!(reports[0].0, 2, "{reports:?}");
        assert_eq!(reports[0].1.growth, (140.0 * MB) as i64);
        assert!(reports[0]
            .1
            .reason
            .starts_with("heap growth over 2 consecutive GCs (3s) - "));
        let off = LeakOptions {
            fast_gcs: 0,
            ..classic()
        };
        assert_eq!(run(off, &fast_leak(), 1500.0), vec![]);
    }

    #[test]
    fn fast_path_respects_its_thresholds() {
        // Doubling but small (a 10 MB process reaching 40 MB) is not enough by default.
        let small: Vec<f64> = [10.0, 20.0, 40.0].iter().map(|m| m * MB).collect();
        assert!(run(
            LeakOptions {
                rule: LeakRule::Classic,
                ..LeakOptions::default()
            },
            &small,
            1000.0
        )
        .is_empty());
        let strict = LeakOptions {
            fast_gcs: 3,
            ..LeakOptions::default()
        };
        let r = run(strict, &fast_leak(), 1500.0);
        assert_eq!(r[0].0, 3);
    }

    #[test]
    fn classic_rule_matches_memwatch_and_skips_growth_from_zero() {
        // Five growth steps after the first GC: reported at the 6th GC, not the 5th.
        let bases: Vec<f64> = (0..6).map(|i| (10 + i) as f64 * MB).collect();
        let r = run(
            LeakOptions {
                fast_gcs: 0,
                ..classic()
            },
            &bases,
            4000.0,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, 5);
        assert_eq!(r[0].1.growth, (5.0 * MB) as i64);
        assert_eq!(
            r[0].1.reason,
            "heap growth over 5 consecutive GCs (20s) - 900 mb/hr"
        );
        // Four steps are not enough.
        assert!(run(
            LeakOptions {
                fast_gcs: 0,
                ..classic()
            },
            &bases[..5],
            4000.0
        )
        .is_empty());
    }

    #[test]
    fn gcs_within_one_second_give_a_finite_positive_rate() {
        let bases: Vec<f64> = (0..6).map(|i| (10 + i) as f64 * MB).collect();
        let r = run(
            LeakOptions {
                fast_gcs: 0,
                ..classic()
            },
            &bases,
            0.0,
        );
        assert_eq!(r.len(), 1);
        assert!(r[0]
            .1
            .reason
            .starts_with("heap growth over 5 consecutive GCs (0s) - "));
        assert!(
            !r[0].1.reason.contains('-')
                || !r[0].1.reason.split(" - ").nth(1).unwrap().starts_with('-')
        );
        assert!(r[0].1.reason.ends_with("mb/hr"), "{}", r[0].1.reason);
    }

    /// Index of the first GC that reported, if any.
    fn first(reports: &[(usize, LeakEvent)]) -> Option<usize> {
        reports.first().map(|(i, _)| *i)
    }

    /// A leak is due within `window` + 2 full GCs of its first growing GC at `start`.
    fn due(start: usize) -> usize {
        start + LeakOptions::default().window as usize + 2 - 1
    }

    /// `n` GCs level at `level` with ±`noise` scatter.
    fn level(n: usize, level: f64, noise: f64, rng: &mut Lcg) -> Vec<f64> {
        (0..n).map(|_| level + noise * rng.next()).collect()
    }

    /// `n` GCs rising by `step` per GC from `from` (its first GC already one step up).
    fn rise(n: usize, from: f64, step: f64, noise: f64, rng: &mut Lcg) -> Vec<f64> {
        (1..=n)
            .map(|i| from + i as f64 * step + noise * rng.next())
            .collect()
    }

    #[test]
    fn leak_after_a_start_up_peak_is_reported_within_the_window() {
        // The reported case: ~20 MB of start-up data still live at the first full GC, garbage by
        // the second; then 400 KB retained per GC. The heap needs 40 GCs to pass the peak.
        for noise in [0.0, 30.0 * KB] {
            let mut rng = Lcg(21);
            let mut bases = vec![19.7 * MB];
            bases.extend(rise(40, 3.6 * MB, 400.0 * KB, noise, &mut rng));
            let reports = run(LeakOptions::default(), &bases, 40.0);
            let at = first(&reports).expect("reported");
            assert!(at <= due(1), "noise {noise}: first report at GC {at}");
            // And again every window while it goes on.
            assert!(reports.len() >= 3, "noise {noise}: {reports:?}");
        }
    }

    #[test]
    fn leak_after_a_transient_mid_run_peak_is_reported_within_the_window() {
        // A plateau, then a big request or batch job lifts the heap for 1 to 4 GCs by twice the
        // whole growth the leak then makes over 30 GCs.
        let (step, leak_gcs) = (400.0 * KB, 30);
        let peak = 2.0 * step * leak_gcs as f64;
        for peak_gcs in 1..=4 {
            let mut rng = Lcg(7 + peak_gcs as u64);
            let mut bases = level(30, 50.0 * MB, 50.0 * KB, &mut rng);
            bases.extend(level(peak_gcs, 50.0 * MB + peak, 50.0 * KB, &mut rng));
            bases.extend(level(10, 50.0 * MB, 50.0 * KB, &mut rng));
            let start = bases.len();
            bases.extend(rise(leak_gcs, 50.0 * MB, step, 50.0 * KB, &mut rng));
            let reports = run(LeakOptions::default(), &bases, 1000.0);
            let at = first(&reports).expect("reported");
            assert!(
                (start..=due(start)).contains(&at),
                "peak of {peak_gcs} GCs: first report at GC {at}, leak from {start}"
            );
        }
    }

    #[test]
    fn after_a_leak_event_neither_its_top_nor_a_later_peak_delays_the_next_leak() {
        let step = 400.0 * KB;
        let mut rng = Lcg(9);
        // A first leak, reported; its data is released after 16 GCs; a transient peak follows.
        let mut bases = level(10, 30.0 * MB, 30.0 * KB, &mut rng);
        bases.extend(rise(16, 30.0 * MB, step, 30.0 * KB, &mut rng));
        bases.extend(level(6, 30.0 * MB, 30.0 * KB, &mut rng));
        bases.extend(level(2, 45.0 * MB, 30.0 * KB, &mut rng));
        bases.extend(level(6, 30.0 * MB, 30.0 * KB, &mut rng));
        let start = bases.len();
        bases.extend(rise(20, 30.0 * MB, step, 30.0 * KB, &mut rng));
        let reports = run(LeakOptions::default(), &bases, 1000.0);
        assert!(
            first(&reports).is_some_and(|at| at <= due(10)),
            "{reports:?}"
        );
        let second = reports.iter().map(|(i, _)| *i).find(|&i| i >= start);
        assert!(
            second.is_some_and(|at| at <= due(start)),
            "second leak from GC {start}: {reports:?}"
        );
    }

    fn dip_and_recovery(plateau: f64, dip: f64, recovery_gcs: usize) -> Vec<f64> {
        let mut rng = Lcg(13);
        let mut bases = level(30, plateau, 30.0 * KB, &mut rng);
        let step = dip / recovery_gcs as f64;
        bases.extend(rise(
            recovery_gcs,
            plateau - dip - step,
            step,
            30.0 * KB,
            &mut rng,
        ));
        bases.extend(level(40, plateau, 30.0 * KB, &mut rng));
        bases
    }

    #[test]
    fn growing_back_to_a_held_level_after_a_dip_is_not_a_leak() {
        // A cache flushed at a plateau and refilled over 15 GCs in a clean line: the trend rule
        // sees a window of growth, but only back to where the heap was.
        let slow = dip_and_recovery(60.0 * MB, 10.0 * MB, 15);
        assert_eq!(run(LeakOptions::default(), &slow, 1000.0), vec![]);
        // The classic rule knows no levels: it reports the refill as it reports a warm-up.
        assert!(!run(classic(), &slow, 1000.0).is_empty());
        // A refill of 250 MB in two natural GCs doubles the heap: the fast path's numbers, but
        // back to the held 400 MB, so no runaway either.
        let fast = dip_and_recovery(400.0 * MB, 250.0 * MB, 2);
        assert_eq!(run(LeakOptions::default(), &fast, 1500.0), vec![]);
        assert_eq!(run(classic(), &fast, 1500.0), vec![]);
        // Growing on past the held level is a leak again.
        let mut rng = Lcg(17);
        let mut past = dip_and_recovery(60.0 * MB, 10.0 * MB, 15);
        past.truncate(45);
        let start = past.len();
        past.extend(rise(20, 60.0 * MB, 400.0 * KB, 30.0 * KB, &mut rng));
        let at = first(&run(LeakOptions::default(), &past, 1000.0));
        assert!(at.is_some_and(|at| at <= due(start)), "{at:?}");
    }

    #[test]
    fn fast_path_and_classic_rule_ignore_an_earlier_transient_peak() {
        // A 300 MB start-up peak before the runaway changes nothing for the fast path...
        let mut bases = vec![300.0 * MB];
        bases.extend(fast_leak());
        let r = run(LeakOptions::default(), &bases, 1500.0);
        assert_eq!(first(&r), Some(3), "{r:?}");
        // ...nor for the classic streak, which fires after five growing GCs, as memwatch did.
        let mut bases = vec![20.0 * MB];
        bases.extend((0..6).map(|i| (10 + i) as f64 * MB));
        let r = run(
            LeakOptions {
                fast_gcs: 0,
                ..classic()
            },
            &bases,
            1000.0,
        );
        assert_eq!(first(&r), Some(6), "{r:?}");
    }

    #[test]
    fn random_size_working_set_is_never_reported() {
        // Each GC finds whatever the requests in flight hold: 30 to 50 MB, independently. Chance
        // runs of larger working sets fit a significant line now and then; only the held level
        // (the top the heap keeps coming back to) tells them from growth.
        let mut reports = 0;
        for seed in 0..40 {
            let mut rng = Lcg(seed);
            let bases: Vec<f64> = (0..500)
                .map(|_| 40.0 * MB + 10.0 * MB * rng.next())
                .collect();
            reports += run(LeakOptions::default(), &bases, 1000.0).len();
        }
        assert_eq!(reports, 0, "false reports in 40 × 500 GCs");
    }

    #[test]
    fn growth_shows_early_for_a_trend_and_for_a_runaway_but_not_for_churn() {
        let mut d = LeakDetector::new(LeakOptions::default()).unwrap();
        let t = |i: usize| 1.7e12 + i as f64 * 1000.0;
        // A steady leak of 0.5 MB per GC: rising from the third GC, long before its report.
        for (i, b) in steady_leak(4, 0.0, 1).iter().enumerate() {
            d.observe(t(i), *b as u64);
        }
        assert!(d.rising());
        // A runaway: 16 MB, then 63 MB (a step of 47 MB, over a quarter of 128 MiB).
        let mut d = LeakDetector::new(LeakOptions::default()).unwrap();
        d.observe(t(0), 16 << 20);
        assert!(!d.rising());
        d.observe(t(1), 63 << 20);
        assert!(d.rising());
        // Churn of ±2 MB around a level: rarely (a chance rise), here in 20 runs of 200 GCs.
        let mut rising = 0;
        for seed in 1..=20 {
            let mut d = LeakDetector::new(LeakOptions::default()).unwrap();
            let mut rng = Lcg(seed);
            for i in 0..200 {
                d.observe(t(i), (40.0 * MB + 2.0 * MB * rng.next()) as u64);
                rising += d.rising() as u32;
            }
        }
        assert!(rising <= 20, "{rising} of 4000 GCs");
    }

    #[test]
    fn options_are_validated() {
        let bad = |o: LeakOptions| LeakDetector::new(o).unwrap_err();
        let e = bad(LeakOptions {
            window: 2,
            ..Default::default()
        });
        assert_eq!(e.option, LeakOption::Window);
        assert_eq!(
            (e.requirement, e.got.as_str()),
            ("at least 3 full GCs", "2")
        );
        let e = bad(LeakOptions {
            consecutive_growth: 0,
            ..Default::default()
        });
        assert_eq!(e.option, LeakOption::ConsecutiveGrowth);
        let e = bad(LeakOptions {
            significance: 0.0,
            ..Default::default()
        });
        assert_eq!(e.option, LeakOption::Significance);
        let e = bad(LeakOptions {
            significance: f64::NAN,
            ..Default::default()
        });
        assert_eq!(
            (e.option, e.got.as_str()),
            (LeakOption::Significance, "NaN")
        );
        let e = bad(LeakOptions {
            fast_min_ratio: -1.0,
            ..Default::default()
        });
        assert_eq!((e.option, e.got.as_str()), (LeakOption::FastMinRatio, "-1"));
        assert!(LeakDetector::new(LeakOptions::default()).is_ok());
    }

    /// Feeds `bases` and returns, per GC, (reported, suspected, growth_rate).
    fn verdicts(opts: LeakOptions, bases: &[f64], interval_ms: f64) -> Vec<(bool, bool, f64)> {
        let mut d = LeakDetector::new(opts).unwrap();
        bases
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let r = d.observe(1.7e12 + i as f64 * interval_ms, b.max(0.0) as u64);
                (r.is_some(), d.suspected(), d.growth_rate())
            })
            .collect()
    }

    #[test]
    fn churn_is_never_suspected_and_shows_no_growth() {
        let mut rng = Lcg(5);
        let bases: Vec<f64> = (0..500)
            .map(|_| 40.0 * MB + 200.0 * KB * rng.next())
            .collect();
        for (i, (_, suspected, rate)) in verdicts(LeakOptions::default(), &bases, 1000.0)
            .into_iter()
            .enumerate()
        {
            assert!(!suspected, "GC {i}");
            assert_eq!(rate, 0.0, "GC {i}");
        }
    }

    #[test]
    fn a_steady_leak_is_suspected_from_its_first_report_on_at_its_own_rate() {
        // 0.5 MB per full GC, one every 30 s: 17476.27 bytes/s.
        let bases: Vec<f64> = (0..60).map(|i| 60.0 * MB + i as f64 * 0.5 * MB).collect();
        let v = verdicts(LeakOptions::default(), &bases, 30_000.0);
        let first = v.iter().position(|x| x.0).expect("reported");
        assert!(v[..first].iter().all(|x| !x.1));
        assert!(v[first..].iter().all(|x| x.1), "{v:?}");
        let truth = 0.5 * MB / 30.0;
        for (i, (_, _, rate)) in v.iter().enumerate().skip(2) {
            assert!((rate - truth).abs() < truth * 1e-9, "GC {i}: {rate}");
        }
        assert_eq!(v[1].2, 0.0, "fewer than 3 GCs show no rate");
    }

    #[test]
    fn the_verdict_clears_one_window_after_the_heap_stopped_growing() {
        let window = LeakOptions::default().window as usize;
        for (leak_gcs, noise) in [(14, 0.0), (25, 0.0), (31, 50.0 * KB), (40, 100.0 * KB)] {
            let mut rng = Lcg(leak_gcs as u64);
            let bases: Vec<f64> = (0..leak_gcs + 60)
                .map(|i| 50.0 * MB + i.min(leak_gcs) as f64 * 0.5 * MB + noise * rng.next())
                .collect();
            let v = verdicts(LeakOptions::default(), &bases, 1000.0);
            let last_report = v.iter().rposition(|x| x.0).expect("reported");
            let cleared = (last_report..v.len()).find(|&i| !v[i].1).expect("cleared");
            // Never before a whole window after the report, and by the time a whole window
            // lies on the plateau (noise may add a few GCs: the fit must no longer rise).
            assert!(cleared >= last_report + window, "{leak_gcs}: {cleared}");
            let flat_window = leak_gcs + window;
            let slack = if noise > 0.0 { window } else { 0 };
            assert!(cleared <= flat_window + slack, "{leak_gcs}: {cleared}");
            assert!(v[cleared..].iter().all(|x| !x.1 && !x.0), "{leak_gcs}");
            assert!(v[flat_window + slack..].iter().all(|x| x.2 == 0.0));
        }
    }

    #[test]
    fn a_shrinking_heap_has_no_growth_rate() {
        let bases: Vec<f64> = (0..30).map(|i| 90.0 * MB - i as f64 * MB).collect();
        let v = verdicts(LeakOptions::default(), &bases, 1000.0);
        assert!(v.iter().all(|x| !x.1 && x.2 == 0.0));
    }
}
