//! Latency statistics over every recorded sample (nothing is sampled or bucketed away).

use std::time::Duration;

use serde::Serialize;

/// The nearest-rank percentile of ascending `sorted` samples: the smallest sample with at
/// least `pct` % of all samples at or below it (`pct` in 1..=100). `None` when empty.
pub fn percentile(sorted: &[Duration], pct: u32) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // rank = ceil(pct/100 · n), 1-based, in integers so that e.g. p99 of 100 is exactly 99.
    let rank = (pct as usize * n).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// Milliseconds, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A latency distribution, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    /// Summarises `samples` (any order). `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Latency> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let at = |p| percentile(&sorted, p).map(ms);
        let total: Duration = sorted.iter().sum();
        Some(Latency {
            count: sorted.len(),
            p50_ms: at(50)?,
            p90_ms: at(90)?,
            p99_ms: at(99)?,
            min_ms: ms(*sorted.first()?),
            max_ms: ms(*sorted.last()?),
            mean_ms: ms(total) / sorted.len() as f64,
        })
    }
}

/// Operations per second; 0 for an empty window.
pub fn throughput(count: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// The median of `samples` (any order), for the per-phase breakdown.
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    percentile(&sorted, 50).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn ms_list(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank() {
        let one_to_hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let at = |p| percentile(&one_to_hundred, p).map(|d| d.as_millis());
        assert_eq!(at(50), Some(50));
        assert_eq!(at(90), Some(90));
        assert_eq!(at(99), Some(99));
        assert_eq!(at(100), Some(100));
        assert_eq!(at(1), Some(1));

        let ten = ms_list(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(percentile(&ten, 50), Some(Duration::from_millis(5)));
        assert_eq!(percentile(&ten, 90), Some(Duration::from_millis(9)));
        // p99 of 10 samples is the largest: rank ceil(9.9) = 10.
        assert_eq!(percentile(&ten, 99), Some(Duration::from_millis(10)));

        let single = ms_list(&[7]);
        for p in [1, 50, 90, 99, 100] {
            assert_eq!(percentile(&single, p), Some(Duration::from_millis(7)));
        }
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn summary_sorts_and_averages() {
        let s = Latency::of(&ms_list(&[30, 10, 20, 40])).expect("non-empty");
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ms, 20.0);
        assert_eq!(s.p90_ms, 40.0);
        assert_eq!(s.p99_ms, 40.0);
        assert_eq!(s.min_ms, 10.0);
        assert_eq!(s.max_ms, 40.0);
        assert_eq!(s.mean_ms, 25.0);
        assert!(Latency::of(&[]).is_none());
        assert_eq!(median(&ms_list(&[3, 1, 2])), Duration::from_millis(2));
    }

    #[test]
    fn rates() {
        assert_eq!(throughput(50, Duration::from_secs(2)), 25.0);
        assert_eq!(throughput(5, Duration::ZERO), 0.0);
    }
}
