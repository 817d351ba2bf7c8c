//! Retry policy as data. A policy never sleeps: it only answers "how long to wait before
//! attempt n+1", and the runtime owns the timer (the idea of restate's
//! `crates/types/src/retries.rs`). Delays grow exponentially with bounded, deterministic jitter,
//! replacing the reference's linear `1 s × attempt` sleep inside the HTTP request (spec §17.4).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Most attempts a single step (or its compensation) may make; bounds each attempt history.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest delay a policy may ask for between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(24 * 3600);
/// Largest accepted growth factor between two consecutive delays.
pub const MAX_MULTIPLIER: f64 = 100.0;

/// Why a retry policy was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RetryPolicyError {
    /// `max_attempts` outside `1..=MAX_ATTEMPTS`.
    #[error("max_attempts must be between 1 and {MAX_ATTEMPTS}, got {0}")]
    MaxAttempts(u32),
    /// The multiplier was not finite or below 1 (delays would shrink).
    #[error("multiplier must be a finite number between 1 and {MAX_MULTIPLIER}, got {0}")]
    Multiplier(f64),
    /// Jitter outside `[0, 1]`.
    #[error("jitter must be a number between 0 and 1, got {0}")]
    Jitter(f64),
    /// `max_delay` above [`MAX_RETRY_DELAY`].
    #[error("max_delay must be at most {} ms, got {} ms", MAX_RETRY_DELAY.as_millis(), .0.as_millis())]
    MaxDelay(Duration),
    /// `initial_delay` above `max_delay`.
    #[error("initial_delay ({} ms) must not exceed max_delay ({} ms)", .0.as_millis(), .1.as_millis())]
    InitialAboveMax(Duration, Duration),
}

/// How often and how patiently a step (and, separately, its compensation) is retried.
///
/// Construct with [`RetryPolicy::new`] or start from [`RetryPolicy::default`] (one attempt, no
/// retry) and use [`RetryPolicy::with_max_attempts`]. Deserialisation re-validates, so a
/// tampered snapshot cannot smuggle in a negative multiplier.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRetryPolicy", into = "RawRetryPolicy")]
pub struct RetryPolicy {
    // INVARIANT: 1 <= max_attempts <= MAX_ATTEMPTS; 1 <= multiplier <= MAX_MULTIPLIER;
    // 0 <= jitter <= 1; initial_delay <= max_delay <= MAX_RETRY_DELAY.
    max_attempts: u32,
    initial_delay: Duration,
    multiplier: f64,
    max_delay: Duration,
    jitter: f64,
}

/// Serialised shape of [`RetryPolicy`]; exists only so deserialisation goes through validation.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct RawRetryPolicy {
    max_attempts: u32,
    initial_delay_ms: u64,
    multiplier: f64,
    max_delay_ms: u64,
    jitter: f64,
}

impl TryFrom<RawRetryPolicy> for RetryPolicy {
    type Error = RetryPolicyError;
    fn try_from(r: RawRetryPolicy) -> Result<Self, Self::Error> {
        RetryPolicy::new(
            r.max_attempts,
            Duration::from_millis(r.initial_delay_ms),
            r.multiplier,
            Duration::from_millis(r.max_delay_ms),
            r.jitter,
        )
    }
}

impl From<RetryPolicy> for RawRetryPolicy {
    fn from(p: RetryPolicy) -> Self {
        RawRetryPolicy {
            max_attempts: p.max_attempts,
            initial_delay_ms: millis(p.initial_delay),
            multiplier: p.multiplier,
            max_delay_ms: millis(p.max_delay),
            jitter: p.jitter,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Default for RetryPolicy {
    /// One attempt (no retry); if retries are enabled later: 1 s, ×2, capped at 60 s, 10 % jitter.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_delay: Duration::from_secs(1),
            multiplier: 2.0,
            max_delay: Duration::from_secs(60),
            jitter: 0.1,
        }
    }
}

impl RetryPolicy {
    /// A validated policy.
    pub fn new(
        max_attempts: u32,
        initial_delay: Duration,
        multiplier: f64,
        max_delay: Duration,
        jitter: f64,
    ) -> Result<Self, RetryPolicyError> {
        if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(RetryPolicyError::MaxAttempts(max_attempts));
        }
        if !multiplier.is_finite() || !(1.0..=MAX_MULTIPLIER).contains(&multiplier) {
            return Err(RetryPolicyError::Multiplier(multiplier));
        }
        if !jitter.is_finite() || !(0.0..=1.0).contains(&jitter) {
            return Err(RetryPolicyError::Jitter(jitter));
        }
        if max_delay > MAX_RETRY_DELAY {
            return Err(RetryPolicyError::MaxDelay(max_delay));
        }
        if initial_delay > max_delay {
            return Err(RetryPolicyError::InitialAboveMax(initial_delay, max_delay));
        }
        Ok(RetryPolicy {
            max_attempts,
            initial_delay,
            multiplier,
            max_delay,
            jitter,
        })
    }

    /// The default backoff with `max_attempts` attempts (the DSL's `retries: n` is `n + 1`).
    pub fn with_max_attempts(max_attempts: u32) -> Result<Self, RetryPolicyError> {
        let d = RetryPolicy::default();
        RetryPolicy::new(
            max_attempts,
            d.initial_delay,
            d.multiplier,
            d.max_delay,
            d.jitter,
        )
    }

    /// Total attempts allowed, the first one included (≥ 1).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Delay before the first retry.
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// Growth factor between consecutive delays.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// Upper bound of any single delay, jitter included.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Relative jitter in `[0, 1]`: a delay `d` becomes a value in `[d·(1−j), d·(1+j)]`.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Whether another attempt may follow attempt number `attempt` (1-based).
    pub fn allows_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// Delay to wait after failed attempt number `attempt` (1-based; 0 is treated as 1) before
    /// the next one: `initial × multiplier^(attempt−1)`, capped at `max_delay`, then jittered by
    /// `jitter_sample` (any `u64`, mapped uniformly onto `[−jitter, +jitter]`) and capped again.
    ///
    /// The caller supplies the sample, so the core stays pure and a replay reproduces the same
    /// schedule; the saga machine derives it from a hash of the idempotency key and attempt.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ahv_core::saga::RetryPolicy;
    /// let p = RetryPolicy::new(5, Duration::from_secs(1), 2.0, Duration::from_secs(60), 0.0).unwrap();
    /// assert_eq!(p.delay_for(3, 0), Duration::from_secs(4));
    /// ```
    pub fn delay_for(&self, attempt: u32, jitter_sample: u64) -> Duration {
        let max_ms = self.max_delay.as_secs_f64() * 1000.0;
        let exponent = i32::try_from(attempt.max(1) - 1).unwrap_or(i32::MAX);
        let base_ms = (self.initial_delay.as_secs_f64() * 1000.0) * self.multiplier.powi(exponent);
        // `powi` may overflow to +inf for large attempts; `min` keeps it finite.
        let base_ms = base_ms.min(max_ms);
        // u in [0, 1] → factor in [1 − j, 1 + j].
        let u = jitter_sample as f64 / u64::MAX as f64;
        let factor = 1.0 - self.jitter + 2.0 * self.jitter * u;
        let ms = (base_ms * factor).clamp(0.0, max_ms);
        // `as` saturates and maps NaN to 0; the clamp above already bounds the value.
        Duration::from_millis(ms.round() as u64)
    }
}

/// Whether a failed attempt may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Transient: retrying the same request may succeed (5xx, 408, 429, transport errors).
    Retryable,
    /// Permanent: the same request will fail again (other 4xx); never retried.
    Final,
}

impl ErrorClass {
    /// Lower-case name used in events and messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Final => "final",
        }
    }
}

/// Classifies the HTTP status of a failed step call.
///
/// - `408 Request Timeout` and `429 Too Many Requests` are [`ErrorClass::Retryable`]: the
///   server asks us to come back later;
/// - every other `4xx` is [`ErrorClass::Final`]: the request itself is wrong (bad input,
///   unauthorised, not found, conflict) and repeating it cannot help;
/// - every `5xx` is [`ErrorClass::Retryable`]: the server failed, not the request;
/// - anything else (1xx, 2xx, 3xx, or a number outside 100–599) is not an error the runtime
///   should report; if it does, it is [`ErrorClass::Final`] because repeating an unexpected
///   answer yields the same answer.
///
/// Transport failures with no status (connection refused, reset) should be reported by the
/// runtime as [`ErrorClass::Retryable`]; a deadline miss is a timeout, not an error.
pub fn classify_http_status(status: u16) -> ErrorClass {
    match status {
        408 | 429 => ErrorClass::Retryable,
        500..=599 => ErrorClass::Retryable,
        _ => ErrorClass::Final,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delays_grow_exponentially_and_are_capped() {
        let p = RetryPolicy::new(20, secs(1), 2.0, secs(60), 0.0).unwrap();
        let got: Vec<u64> = (1..=8).map(|a| p.delay_for(a, 12345).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.delay_for(0, 0), secs(1));
        assert_eq!(p.delay_for(u32::MAX, u64::MAX), secs(60));
    }

    #[test]
    fn delays_are_not_linear_unlike_reference() {
        // The reference slept 1 s, 2 s, 3 s; the fourth delay here is 8 s, not 4 s.
        let p = RetryPolicy::new(5, secs(1), 2.0, secs(60), 0.0).unwrap();
        assert_eq!(p.delay_for(4, 0), secs(8));
    }

    #[test]
    fn jitter_spans_both_sides_and_is_deterministic() {
        let p = RetryPolicy::new(5, secs(10), 2.0, secs(600), 0.1).unwrap();
        assert_eq!(p.delay_for(1, 0), secs(9));
        assert_eq!(p.delay_for(1, u64::MAX), secs(11));
        assert_eq!(p.delay_for(1, u64::MAX / 2), p.delay_for(1, u64::MAX / 2));
    }

    #[test]
    fn default_is_one_attempt() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts(), 1);
        assert!(!p.allows_retry_after(1));
        assert_eq!(p.initial_delay(), secs(1));
        assert_eq!(p.max_delay(), secs(60));
    }

    #[test]
    fn invalid_policies_are_refused_with_reasons() {
        let e = RetryPolicy::new(0, secs(1), 2.0, secs(60), 0.1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "max_attempts must be between 1 and 100, got 0"
        );
        let e = RetryPolicy::new(3, secs(1), 0.5, secs(60), 0.1).unwrap_err();
        assert!(e.to_string().starts_with("multiplier must be"), "{e}");
        assert!(RetryPolicy::new(3, secs(1), f64::NAN, secs(60), 0.1).is_err());
        let e = RetryPolicy::new(3, secs(1), 2.0, secs(60), 1.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "jitter must be a number between 0 and 1, got 1.5"
        );
        let e = RetryPolicy::new(3, secs(90), 2.0, secs(60), 0.1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "initial_delay (90000 ms) must not exceed max_delay (60000 ms)"
        );
        assert!(RetryPolicy::new(3, secs(1), 2.0, secs(100_000), 0.1).is_err());
    }

    #[test]
    fn deserialisation_revalidates() {
        let ok = serde_json::to_string(&RetryPolicy::with_max_attempts(3).unwrap()).unwrap();
        let back: RetryPolicy = serde_json::from_str(&ok).unwrap();
        assert_eq!(back.max_attempts(), 3);
        let bad = ok.replace("\"max_attempts\":3", "\"max_attempts\":0");
        assert!(serde_json::from_str::<RetryPolicy>(&bad).is_err());
    }

    #[test]
    fn http_statuses_are_classified() {
        assert_eq!(classify_http_status(400), ErrorClass::Final);
        assert_eq!(classify_http_status(404), ErrorClass::Final);
        assert_eq!(classify_http_status(409), ErrorClass::Final);
        assert_eq!(classify_http_status(408), ErrorClass::Retryable);
        assert_eq!(classify_http_status(429), ErrorClass::Retryable);
        assert_eq!(classify_http_status(500), ErrorClass::Retryable);
        assert_eq!(classify_http_status(503), ErrorClass::Retryable);
        assert_eq!(classify_http_status(302), ErrorClass::Final);
    }

    proptest! {
        #[test]
        fn jittered_delay_is_bounded(
            attempt in 1u32..40,
            sample in any::<u64>(),
            jitter in 0.0f64..=1.0,
            initial_ms in 0u64..5_000,
            mult in 1.0f64..5.0,
        ) {
            let max = secs(120);
            let p = RetryPolicy::new(40, Duration::from_millis(initial_ms), mult, max, jitter).unwrap();
            let d = p.delay_for(attempt, sample);
            prop_assert!(d <= max);
            let no_jitter = RetryPolicy::new(40, Duration::from_millis(initial_ms), mult, max, 0.0)
                .unwrap()
                .delay_for(attempt, sample)
                .as_secs_f64();
            prop_assert!(d.as_secs_f64() >= no_jitter * (1.0 - jitter) - 0.001);
            prop_assert!(d.as_secs_f64() <= no_jitter * (1.0 + jitter) + 0.001);
        }

        #[test]
        fn delays_never_decrease_without_jitter(attempt in 1u32..60) {
            let p = RetryPolicy::new(60, secs(1), 3.0, secs(3600), 0.0).unwrap();
            prop_assert!(p.delay_for(attempt + 1, 0) >= p.delay_for(attempt, 0));
        }
    }
}
