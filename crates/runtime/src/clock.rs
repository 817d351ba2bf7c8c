//! Where the runtime gets "now". The core never reads a clock; the runtime passes it a
//! [`Timestamp`] from a [`Clock`]. The system clock is anchored to the wall clock once and then
//! advanced by a monotonic `Instant`, so a wall-clock step (NTP, a VM resume) can never make TTLs,
//! windows or token buckets run backwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use ahv_core::time::Timestamp;

/// A source of timestamps.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// Wall-clock anchored, monotonically advancing clock. It advances with Tokio's clock, so tests
/// that pause Tokio time (`start_paused`) see the hypervisor's time move exactly as their timers do.
#[derive(Debug, Clone)]
pub struct SystemClock {
    anchor_wall: Timestamp,
    anchor_mono: Instant,
}

impl SystemClock {
    /// Anchors a new clock at the current wall-clock time.
    pub fn new() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        SystemClock {
            anchor_wall: Timestamp::from_millis(u64::try_from(wall.as_millis()).unwrap_or(0)),
            anchor_mono: Instant::now(),
        }
    }

    /// Anchors the clock so that it never reports a time earlier than `floor` (the last time
    /// recorded before a restart), in case the wall clock moved backwards across the restart.
    pub fn not_before(mut self, floor: Timestamp) -> Self {
        if self.anchor_wall < floor {
            self.anchor_wall = floor;
        }
        self
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        self.anchor_wall.plus(self.anchor_mono.elapsed())
    }
}

/// A clock that moves only when told to. For tests and deterministic demos.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock starting at `start`.
    pub fn starting_at(start: Timestamp) -> Self {
        ManualClock {
            ms: Arc::new(AtomicU64::new(start.as_millis())),
        }
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_respects_floor() {
        let c = SystemClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        let far = Timestamp::from_secs(4_000_000_000);
        assert!(SystemClock::new().not_before(far).now() >= far);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::starting_at(Timestamp::from_secs(10));
        assert_eq!(c.now(), Timestamp::from_secs(10));
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now().as_millis(), 11_500);
    }
}
