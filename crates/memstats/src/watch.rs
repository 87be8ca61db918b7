//! Turning recorded full GCs into `stats` and `leak` events, in order of occurrence.

use crate::leak::{LeakDetector, LeakEvent, LeakOptions, Memory, OptionError};
use crate::record::{FullGcSample, GcCounters};
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
    /// The same figures over external memory (its base, trend, min and max).
    pub external: ClassicStats,
    /// The GC's own figures (time, pause, heap, counters).
    pub sample: FullGcSample,
    /// Samples lost so far to a full queue.
    pub dropped: u64,
}

/// What a metrics scrape reads of one thread's statistics and leak rules.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WatchFigures {
    /// The newest `stats` figures; none before the first full GC.
    pub last: Option<ClassicStats>,
    /// The newest figures over external memory.
    pub external_last: Option<ClassicStats>,
    /// The newest estimate of native memory (`HeapFigures::native_estimate`).
    pub native: Option<u64>,
    /// The heap's leak rule.
    pub heap: LeakFigures,
    /// External memory's leak rule.
    pub external: LeakFigures,
}

/// One leak rule's verdict, as metrics export it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LeakFigures {
    /// `leak` events so far, across leak rule changes.
    pub events: u64,
    /// Whether the rule still suspects a leak: from a report until the memory stops growing
    /// (see `LeakDetector::suspected`).
    pub suspected: bool,
    /// Bytes per second (see `LeakDetector::growth_rate`).
    pub growth_rate: f64,
    /// Whether growth shows now (see `LeakDetector::rising`).
    pub rising: bool,
}

/// One memory's statistics and leak rule.
#[derive(Clone, Debug)]
struct Series {
    stats: StatsAccumulator,
    leak: LeakDetector,
    last: Option<ClassicStats>,
    events: u64,
}

impl Series {
    fn new(leak: LeakDetector) -> Self {
        Series {
            stats: StatsAccumulator::new(),
            leak,
            last: None,
            events: 0,
        }
    }

    fn figures(&self) -> LeakFigures {
        LeakFigures {
            events: self.events,
            suspected: self.leak.suspected(),
            growth_rate: self.leak.growth_rate(),
            rising: self.leak.rising(),
        }
    }

    /// `counters` replace the accumulator's GC counts: the hook sees every GC, not only those
    /// delivered while someone listened.
    fn observe(
        &mut self,
        time_ms: f64,
        base: u64,
        counters: &GcCounters,
        judge: bool,
    ) -> (ClassicStats, Option<LeakEvent>) {
        let mut stats = self.stats.record_full(base);
        stats.num_full_gc = counters.full();
        stats.num_inc_gc = counters.other();
        self.last = Some(stats);
        let leak = if judge {
            self.leak.observe(time_ms, base)
        } else {
            None
        };
        self.events += leak.is_some() as u64;
        (stats, leak)
    }
}

/// One thread's statistics and leak rules (the heap's and external memory's), fed only from the
/// JS thread.
#[derive(Clone, Debug)]
pub struct Watcher {
    heap: Series,
    external: Series,
    judge_external: bool,
    native: Option<u64>,
}

impl Default for Watcher {
    fn default() -> Self {
        let opts = LeakOptions::default();
        let rule = || LeakDetector::new(opts.clone()).expect("default options are valid");
        Watcher {
            heap: Series::new(rule()),
            external: Series::new(rule().watching(Memory::External)),
            judge_external: opts.external,
            native: None,
        }
    }
}

impl Watcher {
    /// Replaces both leak rules, forgetting their history; the statistics go on.
    pub fn set_leak_options(&mut self, opts: LeakOptions) -> Result<(), OptionError> {
        let heap = LeakDetector::new(opts.clone())?;
        self.external.leak = heap.clone().watching(Memory::External);
        self.heap.leak = heap;
        self.judge_external = opts.external;
        Ok(())
    }

    /// The figures metrics export, as of the newest observed sample. A new leak rule
    /// (`set_leak_options`) starts unsuspecting; the event counts go on.
    pub fn figures(&self) -> WatchFigures {
        WatchFigures {
            last: self.heap.last,
            external_last: self.external.last,
            native: self.native,
            heap: self.heap.figures(),
            external: self.external.figures(),
        }
    }

    /// Runs each sample through the statistics and the leak rules: a `stats` event each, and a
    /// `leak` event right after the sample that completed a report (the heap's first).
    pub fn observe(&mut self, samples: Vec<FullGcSample>, dropped: u64) -> Vec<Event> {
        let mut events = Vec::with_capacity(samples.len() + 1);
        for sample in samples {
            let (t, heap) = (sample.time_ms, &sample.heap);
            let counters = &sample.counters;
            let (classic, heap_leak) = self.heap.observe(t, heap.used_heap_size, counters, true);
            let (external, external_leak) =
                self.external
                    .observe(t, heap.external_memory, counters, self.judge_external);
            self.native = heap.native_estimate().or(self.native);
            events.push(Event::Stats(Box::new(StatsEvent {
                classic,
                external,
                sample,
                dropped,
            })));
            events.extend(heap_leak.map(Event::Leak));
            events.extend(external_leak.map(Event::Leak));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::{LeakRule, Memory};
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

    /// Full GCs one second apart with the given used heap and external memory, MiB.
    fn feed(w: &mut Watcher, series: &[(u64, u64)]) -> Vec<Event> {
        let mut rec = Recorder::default();
        let mut events = Vec::new();
        for (i, &(heap, external)) in series.iter().enumerate() {
            let figures = HeapFigures {
                used_heap_size: heap << 20,
                total_physical_size: (heap + 2) << 20,
                external_memory: external << 20,
                rss: Some((heap + external + 40) << 20),
                ..HeapFigures::default()
            };
            let at = 1.7e12 + i as f64 * 1000.0;
            rec.gc_ended(
                GcKind::MarkSweepCompact,
                1,
                true,
                Source::V8Callback,
                || Some((at, figures)),
            );
            events.extend(w.observe(rec.drain(), 0));
        }
        events
    }

    fn leaks(events: &[Event]) -> Vec<&LeakEvent> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Leak(l) => Some(l),
                Event::Stats(_) => None,
            })
            .collect()
    }

    #[test]
    fn external_growth_under_a_flat_heap_is_an_external_leak() {
        let mut w = Watcher::default();
        // 1.25 MiB of Buffers kept per GC (20 × 64 KiB), the heap flat at 4 MiB.
        let series: Vec<(u64, u64)> = (0..12).map(|i| (4, 2 + i * 5 / 4)).collect();
        let events = feed(&mut w, &series);
        let found = leaks(&events);
        assert_eq!(found.len(), 1, "{found:?}");
        let leak = found[0];
        assert_eq!(leak.memory, Memory::External);
        assert!(
            leak.reason
                .starts_with("external memory growth over 10 consecutive GCs (9s) - "),
            "{}",
            leak.reason
        );
        // Ten GCs from index 0 to 9: 2 + 9·5/4 = 13 MiB (integer steps), minus the 2 at the start.
        assert_eq!(leak.growth, (13 - 2) << 20);
        let f = w.figures();
        assert!(f.external.suspected && !f.heap.suspected);
        assert_eq!((f.external.events, f.heap.events), (1, 0));
        assert!(f.external.growth_rate > 1e6, "{}", f.external.growth_rate);
        let Some(Event::Stats(last)) = events.iter().rev().find(|e| matches!(e, Event::Stats(_)))
        else {
            unreachable!()
        };
        assert_eq!(last.external.current_base, (2 + 11 * 5 / 4) << 20);
        assert!(last.external.usage_trend > 0.0);
        assert_eq!(last.classic.current_base, 4 << 20);
        // rss − physical heap − external = 40 MiB − 2 MiB of unused heap pages.
        assert_eq!(f.native, Some(38 << 20));
    }

    #[test]
    fn heap_and_external_leaks_are_told_apart_and_external_can_be_left_unjudged() {
        let both: Vec<(u64, u64)> = (0..10).map(|i| (10 + i, 3 + 2 * i)).collect();
        let mut w = Watcher::default();
        let events = feed(&mut w, &both);
        let kinds: Vec<Memory> = leaks(&events).iter().map(|l| l.memory).collect();
        assert_eq!(kinds, [Memory::Heap, Memory::External]);
        assert!(leaks(&events)[0].reason.starts_with("heap growth over 10"));

        let mut w = Watcher::default();
        w.set_leak_options(LeakOptions {
            external: false,
            ..LeakOptions::default()
        })
        .unwrap();
        let kinds: Vec<Memory> = leaks(&feed(&mut w, &both))
            .iter()
            .map(|l| l.memory)
            .collect();
        assert_eq!(kinds, [Memory::Heap]);
    }

    #[test]
    fn a_fixed_pool_of_buffers_is_never_an_external_leak() {
        let mut w = Watcher::default();
        // 400 × 64 KiB replaced in turn: ~25 MiB whichever buffers are live.
        let series: Vec<(u64, u64)> = (0..60).map(|i| (4, 25 + (i % 3) / 2)).collect();
        assert!(leaks(&feed(&mut w, &series)).is_empty());
        assert!(!w.figures().external.suspected);
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
        assert_eq!(w.heap.leak.options(), &LeakOptions::default());
    }
}
