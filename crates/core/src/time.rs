//! Time as data. The core never reads a clock: every operation that depends on time takes a
//! [`Timestamp`] argument supplied by the runtime, so TTLs, windows and cooldowns are testable
//! without sleeping and replay deterministically.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
///
/// The runtime derives it from a monotonic clock anchored once at start-up, so it never goes
/// backwards within a process (the reference used the wall clock, which made token buckets go
/// negative after a clock step).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself; useful as a neutral start value in tests.
    pub const ZERO: Timestamp = Timestamp(0);

    /// Builds a timestamp from milliseconds since the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// Builds a timestamp from whole seconds since the epoch.
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(s.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `d`, saturating instead of overflowing.
    pub fn plus(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// This instant minus `d`, saturating at the epoch.
    pub fn minus(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(ms))
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 / ISO 8601 text in UTC with microsecond precision, e.g.
    /// `2026-11-26T05:09:44.123000+00:00` (the shape the reference's API returned).
    pub fn to_rfc3339(self) -> String {
        let mut out = String::with_capacity(32);
        self.write_rfc3339(&mut out);
        out
    }

    /// Appends [`Timestamp::to_rfc3339`]'s text to `out` (no formatting machinery: views and
    /// API replies write many of these).
    pub fn write_rfc3339(self, out: &mut String) {
        let secs = self.0 / 1000;
        let millis = self.0 % 1000;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        // Years beyond 9999 are written in full (the fixed fields stay two digits).
        if y > 9999 {
            push_digits(out, y, 1);
        } else {
            push_digits(out, y, 4);
        }
        out.push('-');
        push_digits(out, m, 2);
        out.push('-');
        push_digits(out, d, 2);
        out.push('T');
        push_digits(out, rem / 3600, 2);
        out.push(':');
        push_digits(out, (rem % 3600) / 60, 2);
        out.push(':');
        push_digits(out, rem % 60, 2);
        out.push('.');
        push_digits(out, millis * 1000, 6);
        out.push_str("+00:00");
    }
}

/// Appends `n` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 && i > 0 {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
    }
    let start = i.min(buf.len().saturating_sub(width));
    for &b in buf.get(start..).unwrap_or(&[]) {
        out.push(char::from(b));
    }
}

/// A [`Timestamp`] that serializes as RFC 3339 text (see [`Timestamp::to_rfc3339`]): the form
/// API views show, formatted only when a view is actually serialized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoTime(pub Timestamp);

impl From<Timestamp> for IsoTime {
    fn from(t: Timestamp) -> Self {
        IsoTime(t)
    }
}

impl fmt::Display for IsoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339())
    }
}

impl Serialize for IsoTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(
            Timestamp::ZERO.to_rfc3339(),
            "1970-01-01T00:00:00.000000+00:00"
        );
        // 2026-11-26T05:09:44.123Z
        assert_eq!(
            Timestamp::from_millis(1_795_669_784_123).to_rfc3339(),
            "2026-11-26T05:09:44.123000+00:00"
        );
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_rfc3339(),
            "2000-02-29T00:00:00.000000+00:00"
        );
    }

    proptest::proptest! {
        #[test]
        fn fast_formatting_equals_format_macro(ms in proptest::prelude::any::<u64>()) {
            let t = Timestamp::from_millis(ms);
            let (secs, millis) = (ms / 1000, ms % 1000);
            let (days, rem) = (secs / 86_400, secs % 86_400);
            let (y, m, d) = civil_from_days(days);
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                rem / 3600, (rem % 3600) / 60, rem % 60, millis * 1000
            );
            proptest::prop_assert_eq!(&t.to_rfc3339(), &want);
            proptest::prop_assert_eq!(serde_json::to_value(IsoTime(t)).unwrap(), serde_json::json!(want));
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_secs(10);
        assert_eq!(t.minus(Duration::from_secs(20)), Timestamp::ZERO);
        assert_eq!(Timestamp::ZERO.since(t), Duration::ZERO);
        assert_eq!(t.plus(Duration::from_millis(5)).as_millis(), 10_005);
    }
}
