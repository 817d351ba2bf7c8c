//! Timing harness with the reference's method: warm up `min(100, iterations / 10)` calls, then
//! time every call on its own (`Instant`, nanoseconds) and report mean, median (p50), p99
//! (`sorted[floor(n × 0.99)]`) and 1e9 / mean operations per second.
//!
//! Sub-microsecond operations: reading the clock costs 20–30 ns, more than a whole call of the
//! fastest benchmarks, so when the warm-up shows a call takes under [`BATCH_BELOW_NS`], the
//! synchronous harness times batches of [`BATCH`] consecutive calls instead and reports
//! per-call values (batch time / batch size) from those samples. The mean is then exact (total
//! time / calls); p50 and p99 are over batch averages, so they hide single-call outliers.

use std::future::Future;
use std::time::Instant;

use serde::Serialize;

/// Summary of one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Mean time per call, ns.
    pub mean_ns: f64,
    /// Median time per call, ns (mean of the two middle values for an even count, as Python's
    /// `statistics.median`).
    pub p50_ns: f64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 1e9 / mean.
    pub ops_per_s: f64,
    /// Timed calls (warm-up not included).
    pub iterations: usize,
}

/// Calls per timed sample for operations faster than [`BATCH_BELOW_NS`].
pub const BATCH: usize = 100;
/// Warm-up mean per call under which samples are batches of [`BATCH`] calls.
pub const BATCH_BELOW_NS: f64 = 1_000.0;

/// Warm-up calls before timing, as in the reference.
pub fn warmup_count(iterations: usize) -> usize {
    100.min(iterations / 10)
}

/// Summarises per-call times.
pub fn summarise(mut times: Vec<u64>) -> Stats {
    let n = times.len();
    if n == 0 {
        return Stats {
            mean_ns: 0.0,
            p50_ns: 0.0,
            p99_ns: 0,
            ops_per_s: 0.0,
            iterations: 0,
        };
    }
    times.sort_unstable();
    let sum: u128 = times.iter().map(|&t| u128::from(t)).sum();
    let mean = sum as f64 / n as f64;
    let p50 = if n % 2 == 1 {
        times.get(n / 2).copied().unwrap_or(0) as f64
    } else {
        let a = times.get(n / 2 - 1).copied().unwrap_or(0);
        let b = times.get(n / 2).copied().unwrap_or(0);
        (a as f64 + b as f64) / 2.0
    };
    let i99 = ((n as f64) * 0.99) as usize;
    let p99 = times.get(i99.min(n - 1)).copied().unwrap_or(0);
    Stats {
        mean_ns: mean,
        p50_ns: p50,
        p99_ns: p99,
        ops_per_s: if mean > 0.0 { 1e9 / mean } else { 0.0 },
        iterations: n,
    }
}

fn nanos(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Times `op` `iterations` times after the warm-up. `op` returns an error to abort the run (a
/// benchmark that stopped doing what it claims to measure must not report a number).
pub fn measure<F>(iterations: usize, mut op: F) -> Result<Stats, String>
where
    F: FnMut() -> Result<(), String>,
{
    let warm = warmup_count(iterations);
    let start = Instant::now();
    for _ in 0..warm {
        op()?;
    }
    let warm_mean = nanos(start) as f64 / warm.max(1) as f64;
    if warm > 0 && warm_mean < BATCH_BELOW_NS && iterations >= BATCH {
        return measure_batched(iterations, op);
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let r = op();
        times.push(nanos(start));
        r?;
    }
    Ok(summarise(times))
}

/// Times `iterations` calls (rounded down to whole batches) in batches of [`BATCH`].
fn measure_batched<F>(iterations: usize, mut op: F) -> Result<Stats, String>
where
    F: FnMut() -> Result<(), String>,
{
    let batches = iterations / BATCH;
    let mut times = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..BATCH {
            op()?;
        }
        times.push(nanos(start));
    }
    Ok(summarise_batches(times, BATCH))
}

/// Per-call statistics from samples that each time `batch` calls.
pub fn summarise_batches(times: Vec<u64>, batch: usize) -> Stats {
    let b = batch.max(1) as f64;
    let total: u128 = times.iter().map(|&t| u128::from(t)).sum();
    let calls = times.len() * batch.max(1);
    let s = summarise(times);
    let mean = if calls > 0 {
        total as f64 / calls as f64
    } else {
        0.0
    };
    Stats {
        mean_ns: mean,
        p50_ns: s.p50_ns / b,
        p99_ns: (s.p99_ns as f64 / b).round() as u64,
        ops_per_s: if mean > 0.0 { 1e9 / mean } else { 0.0 },
        iterations: calls,
    }
}

/// As [`measure`] for an async operation, timed inside the runtime around each `.await`.
pub async fn measure_async<F, Fut>(iterations: usize, mut op: F) -> Result<Stats, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    for _ in 0..warmup_count(iterations) {
        op().await?;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let r = op().await;
        times.push(nanos(start));
        r?;
    }
    Ok(summarise(times))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_follow_the_reference() {
        let s = summarise(vec![4, 1, 3, 2]);
        assert_eq!(s.p50_ns, 2.5);
        assert_eq!(s.mean_ns, 2.5);
        assert_eq!(s.p99_ns, 4);
        let t = summarise((1..=100).collect());
        assert_eq!(t.p99_ns, 100);
        assert_eq!(t.iterations, 100);
    }

    #[test]
    fn batched_samples_report_per_call_values() {
        let s = summarise_batches(vec![100, 300, 200], 100);
        assert_eq!(s.iterations, 300);
        assert_eq!(s.mean_ns, 2.0);
        assert_eq!(s.p50_ns, 2.0);
        assert_eq!(s.p99_ns, 3);
        let mut calls = 0;
        let fast = measure(1_000, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(fast.iterations, 1_000);
        assert_eq!(calls, 1_100);
    }

    #[test]
    fn warmup_is_a_tenth_capped_at_100() {
        assert_eq!(warmup_count(50_000), 100);
        assert_eq!(warmup_count(500), 50);
    }

    #[test]
    fn an_error_aborts_the_measurement() {
        let mut n = 0;
        let r = measure(10, || {
            n += 1;
            if n > 3 { Err("stop".into()) } else { Ok(()) }
        });
        assert_eq!(r, Err("stop".to_string()));
    }
}
