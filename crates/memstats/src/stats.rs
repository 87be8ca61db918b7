//! The classic `stats` figures, computed as memwatch intended rather than as its C++ happened to.
//!
//! Differences from the original, all deliberate (see the README's deviations): 64-bit and
//! floating-point arithmetic (the original wrapped above ~455 MB and at 4 GiB), a trend that can
//! be negative (it subtracted unsigned values), and start-up damping that actually damps (it
//! computed `n / 10` in integers, so the weight was always 0).

/// Full GCs over which the "recent" base is averaged.
pub const RECENT_PERIOD: u64 = 10;
/// Full GCs over which the slow "ancient" base is averaged.
pub const ANCIENT_PERIOD: u64 = 120;

/// One `stats` event's classic fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassicStats {
    /// Full GCs the hook saw on this thread (`gc()` runs two).
    pub num_full_gc: u64,
    /// Every other GC the hook saw.
    pub num_inc_gc: u64,
    /// Full GCs that fed these statistics (one per `gc()` call).
    pub heap_compactions: u64,
    /// `current_base` averaged over about `RECENT_PERIOD` full GCs, damped at start-up.
    pub estimated_base: u64,
    /// Used heap right after this GC, bytes.
    pub current_base: u64,
    /// Lowest `current_base` from the third full GC on (0 before: start-up is not a base).
    pub min: u64,
    /// Highest `current_base` from the third full GC on (0 before).
    pub max: u64,
    /// Percent by which the recent base exceeds the long-run one; negative when shrinking.
    pub usage_trend: f64,
}

#[derive(Clone, Debug, Default)]
pub struct StatsAccumulator {
    full: u64,
    recent: f64,
    ancient: f64,
    min: u64,
    max: u64,
}

impl StatsAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// A full (mark-sweep-compact) GC that left `used_heap` bytes in use.
    pub fn record_full(&mut self, used_heap: u64) -> ClassicStats {
        self.full += 1;
        let n = self.full;
        let current = used_heap as f64;
        if n < RECENT_PERIOD {
            // Early on the averages would be dominated by their zero start; weight history by
            // how much of it exists, as the original meant to: w = (n / 10)^2.5 · n.
            let frac = n as f64 / RECENT_PERIOD as f64;
            let w = frac.powf(2.5) * n as f64;
            self.recent = (self.recent * w + current) / (w + 1.0);
            let w = frac.powf(2.4) * n as f64;
            self.ancient = (self.ancient * w + current) / (w + 1.0);
        } else {
            let r = RECENT_PERIOD as f64;
            self.recent = (self.recent * (r - 1.0) + current) / r;
            let d = n.min(ANCIENT_PERIOD) as f64;
            self.ancient = (self.ancient * (d - 1.0) + current) / d;
        }
        if n >= 3 {
            if self.min == 0 || used_heap < self.min {
                self.min = used_heap;
            }
            self.max = self.max.max(used_heap);
        }
        ClassicStats {
            num_full_gc: self.full,
            // Counted by the hook, which sees every GC (`Watcher` fills it in).
            num_inc_gc: 0,
            heap_compactions: self.full,
            estimated_base: self.recent.round() as u64,
            current_base: used_heap,
            min: self.min,
            max: self.max,
            usage_trend: self.usage_trend(),
        }
    }

    /// Percent by which the recent base exceeds the long-run base, one decimal.
    fn usage_trend(&self) -> f64 {
        if self.ancient == 0.0 {
            return 0.0;
        }
        ((self.recent - self.ancient) / self.ancient * 1000.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_compactions_follow_the_damped_average() {
        let mut acc = StatsAccumulator::new();
        let s1 = acc.record_full(1000);
        // n = 1: w = 0.1^2.5 = 0.003162..., so recent = 1000 / 1.003162 (from a zero start).
        assert_eq!(s1.estimated_base, 997);
        assert_eq!(s1.current_base, 1000);
        assert_eq!((s1.min, s1.max), (0, 0));
        assert_eq!(s1.heap_compactions, 1);
        let s2 = acc.record_full(2000);
        // n = 2: w = 0.2^2.5 · 2 = 0.035777; recent = (996.85 · w + 2000) / (1 + w) = 1965.3
        assert_eq!(s2.estimated_base, 1965);
        assert_eq!((s2.min, s2.max), (0, 0));
        let s3 = acc.record_full(1500);
        assert_eq!((s3.min, s3.max), (1500, 1500));
        let s4 = acc.record_full(1200);
        assert_eq!((s4.min, s4.max), (1200, 1500));
    }

    #[test]
    fn steady_heap_has_zero_trend_and_converges() {
        let mut acc = StatsAccumulator::new();
        let mut last = None;
        for _ in 0..200 {
            last = Some(acc.record_full(50_000_000));
        }
        let s = last.unwrap();
        assert_eq!(s.estimated_base, 50_000_000);
        assert_eq!(s.usage_trend, 0.0);
        assert_eq!(s.num_full_gc, 200);
    }

    #[test]
    fn trend_is_positive_when_growing_and_negative_when_shrinking() {
        let mut acc = StatsAccumulator::new();
        for _ in 0..130 {
            acc.record_full(100 << 20);
        }
        let mut s = acc.record_full(100 << 20);
        for i in 1..=10u64 {
            s = acc.record_full((100 << 20) + i * (5 << 20));
        }
        assert!(s.usage_trend > 5.0, "{}", s.usage_trend);
        for _ in 0..40 {
            s = acc.record_full(20 << 20);
        }
        assert!(s.usage_trend < -20.0, "{}", s.usage_trend);
    }

    #[test]
    fn steady_state_average_matches_hand_computation() {
        let mut acc = StatsAccumulator::new();
        for _ in 0..9 {
            acc.record_full(1000);
        }
        // Converged at 1000 (the damped start-up always mixes in the current value).
        let s = acc.record_full(2000); // n = 10: recent = (1000·9 + 2000) / 10
        assert_eq!(s.estimated_base, 1100);
        // ancient: d = 10 → (1000·9 + 2000) / 10 as well; trend 0.
        assert_eq!(s.usage_trend, 0.0);
        let s = acc.record_full(2000); // recent = (1100·9+2000)/10 = 1190; ancient = (1100·10+2000)/11 = 1181.8
        assert_eq!(s.estimated_base, 1190);
        assert_eq!(
            s.usage_trend,
            ((1190.0 - 13000.0 / 11.0) / (13000.0 / 11.0) * 1000.0_f64).round() / 10.0
        );
    }

    #[test]
    fn heaps_above_4_gib_do_not_wrap() {
        let mut acc = StatsAccumulator::new();
        let big = 6u64 << 30;
        let mut s = acc.record_full(big);
        for _ in 0..400 {
            s = acc.record_full(big);
        }
        assert_eq!(s.current_base, big);
        assert_eq!(s.estimated_base, big);
        assert_eq!((s.min, s.max), (big, big));
    }
}
