//! When a `leak` event's classes are counted: two censuses per leak window, not one per GC.
//!
//! A census stops the program for about as long as a full GC plus a walk of every object (a
//! second or more on a 50 MB heap), so it is taken only while a leak rule sees growth: once when
//! growth first shows (the baseline), and once at the event, whose counts less the baseline's
//! are the classes that grew. The event's census is the next event's baseline. A heap that stops
//! growing for a whole window lets the baseline go, so a later leak starts from a fresh one.

use crate::census::Census;

/// A class whose live objects grew between two censuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassGrowth {
    /// The class, as `Census` names it.
    pub what: String,
    /// Its live objects at the later census.
    pub count: u64,
    /// Objects more than at the earlier census.
    pub growth: u64,
}

/// What a `leak` event says of its classes.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakClasses {
    /// When the baseline census was taken, ms since the epoch.
    pub since_ms: f64,
    /// The classes that grew most, most growth first (ties by name).
    pub classes: Vec<ClassGrowth>,
    /// Both censuses' cost: the program was stopped this long, ms.
    pub census_ms: f64,
}

/// JavaScript's own constructors: what a program's objects are made of (a `prefs` object, a
/// `history` array per instance), rarely what a leak is named by when a class of the program's
/// grows as much.
const BUILT_IN: &[&str] = &[
    "Object",
    "Array",
    "Function",
    "Map",
    "Set",
    "WeakMap",
    "WeakSet",
    "WeakRef",
    "Promise",
    "Date",
    "RegExp",
    "Error",
    "ArrayBuffer",
    "Uint8Array",
    "DataView",
    "Arguments",
];

/// A program's class listed above the built-in ones that grew by at most this much more: those
/// are its parts, so it names the leak (`UserProfile` +110,340 before `Object` +110,346 and
/// `Array` +110,343, each profile holding one of each).
const OWNER_SHARE: f64 = 0.9;

/// The classes that grew from `before` to `after`, most first, at most `top`; a class of the
/// program's before a built-in one that grew less than 1/[`OWNER_SHARE`] times as much.
pub fn class_growth(before: &Census, after: &Census, top: usize) -> Vec<ClassGrowth> {
    let mut grown: Vec<ClassGrowth> = after
        .counts()
        .filter_map(|(what, count)| {
            let growth = count.saturating_sub(before.count(what));
            (growth > 0).then(|| ClassGrowth {
                what: what.to_owned(),
                count,
                growth,
            })
        })
        .collect();
    let rank = |c: &ClassGrowth| {
        let own = if BUILT_IN.contains(&c.what.as_str()) {
            1.0
        } else {
            1.0 / OWNER_SHARE
        };
        c.growth as f64 * own
    };
    grown.sort_by(|a, b| {
        rank(b)
            .total_cmp(&rank(a))
            .then_with(|| b.growth.cmp(&a.growth))
            .then_with(|| a.what.cmp(&b.what))
    });
    grown.truncate(top);
    grown
}

/// A census kept by the plan, with when it was taken, its cost and the post-GC heap then.
struct Taken {
    time_ms: f64,
    census: Census,
    ms: f64,
    heap: u64,
}

impl Taken {
    /// The `top` classes that grew from this census to `after` (taken in `ms`).
    fn growth_to(&self, after: &Census, ms: f64, top: usize) -> LeakClasses {
        LeakClasses {
            since_ms: self.time_ms,
            classes: class_growth(&self.census, after, top),
            census_ms: self.ms + ms,
        }
    }
}

/// One thread's censuses for its leak events.
pub struct CensusPlan {
    baseline: Option<Taken>,
    /// Before the thread's first event: the newest census taken as the heap kept growing.
    latest: Option<Taken>,
    /// The thread has had a leak event: its classes were reported, no more refreshes.
    reported: bool,
    /// Full GCs in a row at which no rule saw growth.
    quiet: u32,
    /// After this many quiet full GCs the baseline goes (the leak rule's window).
    window: u32,
}

/// Refresh censuses (see [`CensusPlan::wants_refresh`]) only once the post-GC heap has grown by
/// this factor since the newest census: growth that is there to count.
const REFRESH_GROWTH: f64 = 1.1;

/// No refresh census above this post-GC heap: each stops the program for about 12 ms per MB
/// (docs/benchmarks.md), 3 s here, and a heap this large runs the rule's window of full GCs soon
/// enough for an event to name its classes.
const REFRESH_MAX_HEAP: u64 = 256 << 20;

impl CensusPlan {
    /// A plan for a leak rule with a window of `window` full GCs.
    pub fn new(window: u32) -> Self {
        CensusPlan {
            baseline: None,
            latest: None,
            reported: false,
            quiet: 0,
            window: window.max(1),
        }
    }

    /// After a full GC the rules judged: whether a baseline census should be taken now, i.e.
    /// `growing` (a rule sees growth or suspects a leak) and no baseline is held.
    pub fn wants_baseline(&mut self, growing: bool) -> bool {
        if growing {
            self.quiet = 0;
            return self.baseline.is_none();
        }
        self.quiet += 1;
        if self.quiet >= self.window {
            self.baseline = None;
            self.latest = None;
        }
        false
    }

    /// Keeps `census`, taken at `time_ms` in `ms` with a post-GC heap of `heap` bytes, as the
    /// baseline.
    pub fn set_baseline(&mut self, time_ms: f64, census: Census, ms: f64, heap: u64) {
        self.baseline = Some(Taken {
            time_ms,
            census,
            ms,
            heap,
        });
        self.latest = None;
    }

    /// Whether a baseline is held.
    pub fn has_baseline(&self) -> bool {
        self.baseline.is_some()
    }

    /// After the thread's `full_gcs`th full GC, with a post-GC heap of `heap` bytes, when no
    /// baseline census is wanted: whether to count again, so that a program that ends before the
    /// rule can judge it (fewer full GCs than its window) still has a count of what grew, taken
    /// while its state was reachable (at exit a service's often is not: its server closed, its
    /// caches with it). Only before the first event and the window's end, with a baseline, once
    /// the heap has grown [`REFRESH_GROWTH`]-fold since the newest census, up to
    /// [`REFRESH_MAX_HEAP`]: at most `window - 1` censuses in a thread's life.
    pub fn wants_refresh(&self, heap: u64, full_gcs: u64) -> bool {
        let Some(base) = self.baseline.as_ref() else {
            return false;
        };
        if self.reported || full_gcs >= u64::from(self.window) || heap > REFRESH_MAX_HEAP {
            return false;
        }
        let newest = self.latest.as_ref().map_or(base.heap, |l| l.heap);
        heap as f64 >= newest as f64 * REFRESH_GROWTH
    }

    /// Keeps `census` (as for [`CensusPlan::set_baseline`]) as the newest count of the growth,
    /// unless it counts fewer objects than the newest census: the program dropped its state
    /// between the GC and the census (a timer cleared, a server closed as it ends), and the
    /// earlier count is the one that says what grew.
    pub fn set_latest(&mut self, time_ms: f64, census: Census, ms: f64, heap: u64) {
        let newest = self.latest.as_ref().or(self.baseline.as_ref());
        if newest.is_some_and(|n| census.total() < n.census.total()) {
            return;
        }
        self.latest = Some(Taken {
            time_ms,
            census,
            ms,
            heap,
        });
    }

    /// Before any event: the `top` classes that grew from the baseline to the newest refresh
    /// census, with no census taken now. `None` without both.
    pub fn growth_so_far(&self, top: usize) -> Option<(f64, LeakClasses)> {
        let (before, after) = (self.baseline.as_ref()?, self.latest.as_ref()?);
        Some((
            after.time_ms,
            before.growth_to(&after.census, after.ms, top),
        ))
    }

    /// At a `leak` event, with `census` taken now (at `time_ms`, in `ms`, post-GC heap `heap`):
    /// the `top` classes that grew since the baseline, or `None` without one (a leak fast enough
    /// to be reported before a baseline was taken). `census` becomes the next baseline either
    /// way.
    pub fn at_leak(
        &mut self,
        time_ms: f64,
        census: Census,
        ms: f64,
        heap: u64,
        top: usize,
    ) -> Option<LeakClasses> {
        let previous = self.baseline.replace(Taken {
            time_ms,
            census,
            ms,
            heap,
        });
        self.latest = None;
        self.reported = true;
        self.quiet = 0;
        let after = &self.baseline.as_ref().expect("just set").census;
        Some(previous?.growth_to(after, ms, top))
    }

    /// The `top` classes that grew from the baseline to `census` (taken now, in `ms`), leaving
    /// the baseline in place: what grew while no event came. `None` without a baseline.
    pub fn growth(&self, census: &Census, ms: f64, top: usize) -> Option<LeakClasses> {
        Some(self.baseline.as_ref()?.growth_to(census, ms, top))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A census with these counts, for this crate's tests.
    pub(crate) fn census(pairs: &[(&str, u64)]) -> Census {
        let mut c = Census::new();
        for &(name, n) in pairs {
            let id = c.class_id(name);
            c.add_n(id, n);
        }
        c
    }

    #[test]
    fn growth_lists_only_what_grew_most_first() {
        let before = census(&[("Cache", 500), ("Session", 100), ("Array", 4000)]);
        let after = census(&[
            ("Cache", 500),
            ("Session", 1600),
            ("Array", 4100),
            ("New", 7),
        ]);
        let g = class_growth(&before, &after, 10);
        let rows: Vec<(&str, u64, u64)> = g
            .iter()
            .map(|c| (c.what.as_str(), c.count, c.growth))
            .collect();
        // The full cache did not grow: not listed.
        assert_eq!(
            rows,
            [("Session", 1600, 1500), ("Array", 4100, 100), ("New", 7, 7)]
        );
        assert_eq!(class_growth(&before, &after, 1).len(), 1);
    }

    #[test]
    fn a_class_of_the_program_comes_before_its_parts() {
        // Each UserProfile holds an object and an array; a few more of those are temporaries.
        let before = census(&[("Object", 900), ("Array", 800), ("UserProfile", 10)]);
        let after = census(&[("Object", 1106), ("Array", 1003), ("UserProfile", 210)]);
        let names = |g: Vec<ClassGrowth>| g.into_iter().map(|c| c.what).collect::<Vec<_>>();
        assert_eq!(
            names(class_growth(&before, &after, 5)),
            ["UserProfile", "Object", "Array"]
        );
        // Plain objects that grew far more than any class of the program's keep the lead.
        let after = census(&[("Object", 5000), ("Array", 1003), ("UserProfile", 210)]);
        assert_eq!(
            names(class_growth(&before, &after, 5)),
            ["Object", "UserProfile", "Array"]
        );
    }

    #[test]
    fn two_censuses_per_window_and_the_event_census_is_the_next_baseline() {
        let mut plan = CensusPlan::new(10);
        assert!(!plan.wants_baseline(false));
        assert!(plan.wants_baseline(true));
        plan.set_baseline(1000.0, census(&[("Leak", 10)]), 5.0, 1 << 20);
        // While growth goes on, no more censuses until the event.
        for _ in 0..8 {
            assert!(!plan.wants_baseline(true));
        }
        let got = plan
            .at_leak(2000.0, census(&[("Leak", 110)]), 7.0, 2 << 20, 5)
            .unwrap();
        assert_eq!(got.since_ms, 1000.0);
        assert_eq!(got.census_ms, 12.0);
        assert_eq!(got.classes[0].growth, 100);
        // The next event counts from this one's census, with no baseline census of its own.
        assert!(!plan.wants_baseline(true));
        let next = plan
            .at_leak(3000.0, census(&[("Leak", 160)]), 6.0, 3 << 20, 5)
            .unwrap();
        assert_eq!((next.since_ms, next.classes[0].growth), (2000.0, 50));
    }

    #[test]
    fn a_quiet_window_drops_the_baseline_and_a_fast_leak_has_none() {
        let mut plan = CensusPlan::new(3);
        assert!(plan.wants_baseline(true));
        plan.set_baseline(1.0, census(&[("A", 1)]), 1.0, 1);
        assert!(!plan.wants_baseline(false));
        assert!(!plan.wants_baseline(false));
        assert!(plan.has_baseline());
        assert!(!plan.wants_baseline(false));
        assert!(!plan.has_baseline());
        // Reported before any baseline: no classes, but its census is the next baseline.
        assert_eq!(plan.at_leak(5.0, census(&[("A", 9)]), 1.0, 1, 5), None);
        assert!(plan.has_baseline());
    }

    #[test]
    fn growth_compares_with_the_baseline_and_keeps_it() {
        let mut plan = CensusPlan::new(10);
        assert_eq!(plan.growth(&census(&[("A", 9)]), 1.0, 5), None);
        plan.set_baseline(100.0, census(&[("A", 10), ("B", 3)]), 4.0, 10);
        let g = plan
            .growth(&census(&[("A", 25), ("B", 3)]), 2.0, 5)
            .unwrap();
        assert_eq!((g.since_ms, g.census_ms), (100.0, 6.0));
        assert_eq!(
            g.classes,
            [ClassGrowth {
                what: "A".into(),
                count: 25,
                growth: 15
            }]
        );
        // The baseline stays: a later look still counts from it.
        let again = plan.growth(&census(&[("A", 40)]), 2.0, 5).unwrap();
        assert_eq!((again.since_ms, again.classes[0].growth), (100.0, 30));
    }

    #[test]
    fn refreshes_only_before_the_first_event_and_the_end_of_the_window() {
        let mut plan = CensusPlan::new(10);
        assert!(!plan.wants_refresh(100 << 20, 3), "no baseline");
        assert!(plan.wants_baseline(true));
        plan.set_baseline(0.0, census(&[("A", 100)]), 3.0, 10 << 20);
        assert_eq!(plan.growth_so_far(5), None, "no refresh yet");
        assert!(
            !plan.wants_refresh((10 << 20) + (1 << 19), 4),
            "grown less than 1.1-fold"
        );
        assert!(plan.wants_refresh(12 << 20, 4));
        assert!(
            !plan.wants_refresh(12 << 20, 10),
            "the rule can judge from here"
        );
        assert!(
            !plan.wants_refresh(300 << 20, 4),
            "too large to count again"
        );
        plan.set_latest(10.0, census(&[("A", 400), ("B", 2)]), 4.0, 12 << 20);
        // The next one from the newest census's heap on.
        assert!(!plan.wants_refresh(13 << 20, 5));
        assert!(plan.wants_refresh(14 << 20, 5));
        let (at, g) = plan.growth_so_far(5).unwrap();
        assert_eq!((at, g.since_ms, g.census_ms), (10.0, 0.0, 7.0));
        assert_eq!(
            g.classes,
            [
                ClassGrowth {
                    what: "A".into(),
                    count: 400,
                    growth: 300
                },
                ClassGrowth {
                    what: "B".into(),
                    count: 2,
                    growth: 2
                },
            ]
        );
        // A census after the program dropped its state does not replace the count.
        plan.set_latest(11.0, census(&[("A", 50)]), 4.0, 14 << 20);
        assert_eq!(plan.growth_so_far(5).unwrap().0, 10.0);
        // After an event: no refreshes, and nothing left over.
        plan.at_leak(20.0, census(&[("A", 900)]), 5.0, 30 << 20, 5);
        assert!(!plan.wants_refresh(100 << 20, 6));
        assert_eq!(plan.growth_so_far(5), None);
    }

    #[test]
    fn a_quiet_window_drops_the_refresh_with_the_baseline() {
        let mut plan = CensusPlan::new(2);
        assert!(plan.wants_baseline(true));
        plan.set_baseline(0.0, census(&[("A", 1)]), 1.0, 10);
        plan.set_latest(1.0, census(&[("A", 5)]), 1.0, 20);
        assert!(plan.growth_so_far(5).is_some());
        plan.wants_baseline(false);
        plan.wants_baseline(false);
        assert_eq!(plan.growth_so_far(5), None);
    }
}
