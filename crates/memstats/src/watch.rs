//! Turning recorded full GCs into `stats` and `leak` events, in order of occurrence.

use crate::leak::{LeakDetector, LeakEvent, LeakOptions, OptionError};
use crate::record::FullGcSample;
use crate::stats::{ClassicStats, StatsAccumulator};

/// One event for the JS layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// After every full GC (boxed: it is much larger than a leak report).
    Stats(Box<StatsEvent>),
    /// When the leak rule completes a report.
    Leak(LeakEvent),
}

/// A `stats` event: the classic figures and the sample they were computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsEvent {
    /// memwatch's figures.
    pub classic: ClassicStats,
    /// The GC's own figures (time, pause, heap, counters).
    pub sample: FullGcSample,
    /// Samples lost so far to a full queue.
    pub dropped: u64,
}

/// What a metrics scrape reads of one thread's statistics and leak rule.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WatchFigures {
    /// The newest `stats` figures; none before the first full GC.
    pub last: Option<ClassicStats>,
    /// `leak` events so far, across leak rule changes.
    pub leak_events: u64,
    /// Whether the rule still suspects a leak: from a report until the heap stops growing
    /// (see `LeakDetector::suspected`).
    pub leak_suspected: bool,
    /// Bytes per second (see `LeakDetector::growth_rate`).
    pub growth_rate: f64,
}

/// One thread's statistics and leak rule, fed only from the JS thread.
#[derive(Clone, Debug)]
pub struct Watcher {
    stats: StatsAccumulator,
    leak: LeakDetector,
    last: Option<ClassicStats>,
    leak_events: u64,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher {
            stats: StatsAccumulator::new(),
            leak: LeakDetector::new(LeakOptions::default()).expect("default options are valid"),
            last: None,
            leak_events: 0,
        }
    }
}

impl Watcher {
    /// Replaces the leak rule, forgetting its history; the statistics go on.
    pub fn set_leak_options(&mut self, opts: LeakOptions) -> Result<(), OptionError> {
        self.leak = LeakDetector::new(opts)?;
        Ok(())
    }

    /// The figures metrics export, as of the newest observed sample. A new leak rule
    /// (`set_leak_options`) starts unsuspecting; the event count goes on.
    pub fn figures(&self) -> WatchFigures {
        WatchFigures {
            last: self.last,
            leak_events: self.leak_events,
            leak_suspected: self.leak.suspected(),
            growth_rate: self.leak.growth_rate(),
        }
    }

    /// Runs each sample through the statistics and the leak rule: a `stats` event each, and a
    /// `leak` event right after the sample that completed a report.
    pub fn observe(&mut self, samples: Vec<FullGcSample>, dropped: u64) -> Vec<Event> {
        let mut events = Vec::with_capacity(samples.len() + 1);
        for sample in samples {
            let mut classic = self.stats.record_full(sample.heap.used_heap_size);
            // The counters come from the hook, which sees every GC, not only those delivered
            // while someone listened.
            classic.num_full_gc = sample.counters.full();
            classic.num_inc_gc = sample.counters.other();
            let leak = self
                .leak
                .observe(sample.time_ms, sample.heap.used_heap_size);
            self.last = Some(classic);
            self.leak_events += leak.is_some() as u64;
            events.push(Event::Stats(Box::new(StatsEvent {
                classic,
                sample,
                dropped,
            })));
            events.extend(leak.map(Event::Leak));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::LeakRule;
    use crate::record::{GcKind, HeapFigures, Recorder, Source};

    #[test]
    fn each_full_gc_is_a_stats_event_and_a_streak_adds_a_leak_event_after_it() {
        let mut rec = Recorder::default();
        let mut w = Watcher::default();
        w.set_leak_options(LeakOptions {
            rule: LeakRule::Classic,
            fast_gcs: 0,
            ..LeakOptions::default()
        })
        .unwrap();
        for i in 0..6u64 {
            rec.gc_ended(GcKind::Scavenge, 1, true, Source::V8Callback, || None);
            let heap = HeapFigures {
                used_heap_size: (10 + i) << 20,
                ..HeapFigures::default()
            };
            let at = i as f64 * 1000.0;
            rec.gc_ended(
                GcKind::MarkSweepCompact,
                1,
                true,
                Source::V8Callback,
                || Some((at, heap)),
            );
        }
        let events = w.observe(rec.drain(), rec.dropped());
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                Event::Stats(_) => "stats",
                Event::Leak(_) => "leak",
            })
            .collect();
        assert_eq!(
            kinds,
            ["stats"; 6]
                .iter()
                .chain(&["leak"])
                .copied()
                .collect::<Vec<_>>()
        );
        let Event::Stats(last) = &events[5] else {
            unreachable!()
        };
        assert_eq!(last.classic.num_full_gc, 6);
        assert_eq!(last.classic.num_inc_gc, 6);
        assert_eq!(last.classic.current_base, 15 << 20);
        let Event::Leak(leak) = &events[6] else {
            unreachable!()
        };
        assert_eq!(leak.growth, 5 << 20);
    }

    #[test]
    fn bad_leak_options_leave_the_rule_as_it_was() {
        let mut w = Watcher::default();
        let err = w
            .set_leak_options(LeakOptions {
                window: 2,
                ..LeakOptions::default()
            })
            .unwrap_err();
        assert_eq!(err.option, crate::leak::LeakOption::Window);
        assert_eq!(w.leak.options(), &LeakOptions::default());
    }
}
