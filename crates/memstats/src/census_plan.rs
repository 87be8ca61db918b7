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

/// The classes that grew from `before` to `after`, most first, at most `top`.
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
    grown.sort_by(|a, b| b.growth.cmp(&a.growth).then_with(|| a.what.cmp(&b.what)));
    grown.truncate(top);
    grown
}

struct Baseline {
    time_ms: f64,
    census: Census,
    ms: f64,
}

/// One thread's censuses for its leak events.
pub struct CensusPlan {
    baseline: Option<Baseline>,
    /// Full GCs in a row at which no rule saw growth.
    quiet: u32,
    /// After this many quiet full GCs the baseline goes (the leak rule's window).
    window: u32,
}

impl CensusPlan {
    /// A plan for a leak rule with a window of `window` full GCs.
    pub fn new(window: u32) -> Self {
        CensusPlan {
            baseline: None,
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
        }
        false
    }

    /// Keeps `census`, taken at `time_ms` in `ms`, as the baseline.
    pub fn set_baseline(&mut self, time_ms: f64, census: Census, ms: f64) {
        self.baseline = Some(Baseline {
            time_ms,
            census,
            ms,
        });
    }

    /// Whether a baseline is held.
    pub fn has_baseline(&self) -> bool {
        self.baseline.is_some()
    }

    /// At a `leak` event, with `census` taken now (at `time_ms`, in `ms`): the `top` classes that
    /// grew since the baseline, or `None` without one (a leak fast enough to be reported before
    /// a baseline was taken). `census` becomes the next baseline either way.
    pub fn at_leak(
        &mut self,
        time_ms: f64,
        census: Census,
        ms: f64,
        top: usize,
    ) -> Option<LeakClasses> {
        let previous = self.baseline.replace(Baseline {
            time_ms,
            census,
            ms,
        });
        self.quiet = 0;
        let before = previous?;
        let after = &self.baseline.as_ref().expect("just set").census;
        Some(LeakClasses {
            since_ms: before.time_ms,
            classes: class_growth(&before.census, after, top),
            census_ms: before.ms + ms,
        })
    }

    /// The `top` classes that grew from the baseline to `census` (taken at `time_ms`, in `ms`),
    /// leaving the baseline in place: what grew while no event came (a program that ends before
    /// the rule can judge it). `None` without a baseline.
    pub fn growth(&self, census: &Census, ms: f64, top: usize) -> Option<LeakClasses> {
        let before = self.baseline.as_ref()?;
        Some(LeakClasses {
            since_ms: before.time_ms,
            classes: class_growth(&before.census, census, top),
            census_ms: before.ms + ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(pairs: &[(&str, u64)]) -> Census {
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
    fn two_censuses_per_window_and_the_event_census_is_the_next_baseline() {
        let mut plan = CensusPlan::new(10);
        assert!(!plan.wants_baseline(false));
        assert!(plan.wants_baseline(true));
        plan.set_baseline(1000.0, census(&[("Leak", 10)]), 5.0);
        // While growth goes on, no more censuses until the event.
        for _ in 0..8 {
            assert!(!plan.wants_baseline(true));
        }
        let got = plan
            .at_leak(2000.0, census(&[("Leak", 110)]), 7.0, 5)
            .unwrap();
        assert_eq!(got.since_ms, 1000.0);
        assert_eq!(got.census_ms, 12.0);
        assert_eq!(got.classes[0].growth, 100);
        // The next event counts from this one's census, with no baseline census of its own.
        assert!(!plan.wants_baseline(true));
        let next = plan
            .at_leak(3000.0, census(&[("Leak", 160)]), 6.0, 5)
            .unwrap();
        assert_eq!((next.since_ms, next.classes[0].growth), (2000.0, 50));
    }

    #[test]
    fn a_quiet_window_drops_the_baseline_and_a_fast_leak_has_none() {
        let mut plan = CensusPlan::new(3);
        assert!(plan.wants_baseline(true));
        plan.set_baseline(1.0, census(&[("A", 1)]), 1.0);
        assert!(!plan.wants_baseline(false));
        assert!(!plan.wants_baseline(false));
        assert!(plan.has_baseline());
        assert!(!plan.wants_baseline(false));
        assert!(!plan.has_baseline());
        // Reported before any baseline: no classes, but its census is the next baseline.
        assert_eq!(plan.at_leak(5.0, census(&[("A", 9)]), 1.0, 5), None);
        assert!(plan.has_baseline());
    }

    #[test]
    fn growth_compares_with_the_baseline_and_keeps_it() {
        let mut plan = CensusPlan::new(10);
        assert_eq!(plan.growth(&census(&[("A", 9)]), 1.0, 5), None);
        plan.set_baseline(100.0, census(&[("A", 10), ("B", 3)]), 4.0);
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
}
