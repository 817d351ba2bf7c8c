//! Response shapes shared by several routes (the reference's field names where it had them),
//! and small parsers for outside input.

use ahv_core::liability::VouchRecord;
use ahv_core::time::Timestamp;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// A bond as the reference showed it (`voucher_did`, `vouchee_did`, …) plus its times.
pub(crate) fn vouch_json(v: &VouchRecord) -> Value {
    json!({
        "vouch_id": v.vouch_id,
        "voucher_did": v.voucher,
        "vouchee_did": v.vouchee,
        "session_id": v.session_id,
        "bonded_amount": v.bonded_amount,
        "bonded_sigma_pct": v.bonded_sigma_pct,
        "is_active": v.is_active,
        "created_at": v.created_at.to_rfc3339(),
        "expiry": v.expiry.map(Timestamp::to_rfc3339),
        "released_at": v.released_at.map(Timestamp::to_rfc3339),
    })
}

/// Any serializable value as JSON (a serialization failure is a server fault).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

/// 200 with `v` serialized straight into the body (no intermediate [`Value`] tree, one
/// buffer of `capacity` bytes to start with).
pub(crate) fn json_ok<T: serde::Serialize + ?Sized>(
    v: &T,
    capacity: usize,
) -> ApiResult<axum::response::Response> {
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, v).map_err(ApiError::internal)?;
    let mut resp = axum::response::Response::new(axum::body::Body::from(buf));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// A random `prefix:{uuid v4}` id.
pub(crate) fn new_uuid(prefix: &str) -> ApiResult<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "{prefix}:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn num(s: &str, what: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} `{s}`"));
    }
    s.parse().map_err(|_| format!("bad {what} `{s}`"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses RFC 3339 text (`2026-01-02T03:04:05Z`, optional fraction, `Z` or `±HH:MM`).
/// Instants before 1970 are refused.
pub(crate) fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    let bad = || format!("`{s}` is not an RFC 3339 timestamp (e.g. 2030-01-01T00:00:00Z)");
    let (date, rest) = s.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let mut dp = date.split('-');
    let (Some(y), Some(mo), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(bad());
    };
    let (time, offset_min): (&str, i64) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let i = rest.rfind(['+', '-']).ok_or_else(bad)?;
        let (t, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off
            .get(1..)
            .and_then(|o| o.split_once(':'))
            .ok_or_else(bad)?;
        (
            t,
            sign * (i64::try_from(num(oh, "offset")?).map_err(|_| bad())? * 60
                + i64::try_from(num(om, "offset")?).map_err(|_| bad())?),
        )
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut tp = hms.split(':');
    let (Some(h), Some(mi), Some(se), None) = (tp.next(), tp.next(), tp.next(), tp.next()) else {
        return Err(bad());
    };
    let v = |x: &str, w: &str| num(x, w).and_then(|n| i64::try_from(n).map_err(|_| bad()));
    let (y, mo, d, h, mi, se) = (
        v(y, "year")?,
        v(mo, "month")?,
        v(d, "day")?,
        v(h, "hour")?,
        v(mi, "minute")?,
        v(se, "second")?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    let millis = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        v(&digits, "fraction")?
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    let ms = secs
        .checked_mul(1000)
        .and_then(|x| x.checked_add(millis))
        .ok_or_else(bad)?;
    u64::try_from(ms)
        .map(Timestamp::from_millis)
        .map_err(|_| format!("`{s}` is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_core_formatting() {
        let t = Timestamp::from_millis(1_796_000_123_456);
        assert_eq!(parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00Z").unwrap(),
            Timestamp::ZERO
        );
        assert_eq!(
            parse_rfc3339("2000-01-01T01:00:00+01:00").unwrap(),
            Timestamp::from_secs(946_684_800)
        );
        assert!(parse_rfc3339("2000-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("1960-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn uuids_have_the_v4_shape() {
        let u = new_uuid("step").unwrap();
        assert_eq!(u.len(), 5 + 36);
        assert_eq!(&u[5 + 14..5 + 15], "4");
    }
}
