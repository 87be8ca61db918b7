//! Turning recorded full GCs into `stats` and `leak` events, in order of occurrence.

use crate::leak::{LeakDetector, LeakEvent, LeakOptions, OptionError};
use crate::record::FullGcSample;
use crate::stats::{ClassicStats, StatsAccumulator};

/// One event for the JS layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Stats(Box<StatsEvent>),
    Leak(LeakEvent),
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatsEvent {
    pub classic: ClassicStats,
    pub sample: FullGcSample,
    /// Samples lost so far to a full queue.
    pub dropped: u64,
}

/// One thread's statistics and leak rule, fed only from the JS thread.
#[derive(Clone, Debug)]
pub struct Watcher {
    stats: StatsAccumulator,
    leak: LeakDetector,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher {
            stats: StatsAccumulator::new(),
            leak: LeakDetector::new(LeakOptions::default()).expect("default options are valid"),
        }
    }
}

impl Watcher {
    /// Replaces the leak rule, forgetting its history; the statistics go on.
    pub fn set_leak_options(&mut self, opts: LeakOptions) -> Result<(), OptionError> {
        self.leak = LeakDetector::new(opts)?;
        Ok(())
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
