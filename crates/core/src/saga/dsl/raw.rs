//! The DSL exactly as written: loosely typed, every field optional and wrapped in
//! [`Spanned`] so validation can collect *all* problems and point at each one's line and
//! column. Unknown keys are refused by serde (`deny_unknown_fields`) with their location.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;

/// A whole document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSaga {
    pub(super) name: Option<Spanned<String>>,
    pub(super) session_id: Option<Spanned<String>>,
    pub(super) saga_id: Option<Spanned<String>>,
    pub(super) steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    pub(super) fan_out: Option<Vec<Spanned<RawFanOut>>>,
    pub(super) timeout: Option<Spanned<Seconds>>,
    pub(super) metadata: Option<BTreeMap<String, serde_json::Value>>,
}

/// One entry of `steps`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) id: Option<Spanned<String>>,
    pub(super) action_id: Option<Spanned<String>>,
    pub(super) agent: Option<Spanned<String>>,
    pub(super) execute_api: Option<Spanned<String>>,
    pub(super) undo_api: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<Seconds>>,
    pub(super) undo_timeout: Option<Spanned<Seconds>>,
    pub(super) retries: Option<Spanned<u32>>,
    pub(super) retry: Option<Spanned<RawRetry>>,
    pub(super) checkpoint_goal: Option<Spanned<String>>,
    pub(super) input: Option<serde_json::Value>,
}

/// A step's `retry:` block; absent fields take [`crate::saga::RetryPolicy::default`] values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    pub(super) max_attempts: Option<u32>,
    pub(super) initial_delay_ms: Option<u64>,
    pub(super) multiplier: Option<f64>,
    pub(super) max_delay_ms: Option<u64>,
    pub(super) jitter: Option<f64>,
}

/// One entry of `fan_out`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFanOut {
    pub(super) id: Option<Spanned<String>>,
    pub(super) policy: Option<Spanned<String>>,
    pub(super) branches: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A whole number of seconds; any other value is a type error that names the expectation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seconds(pub(super) u64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                u64::try_from(v)
                    .map(Seconds)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}
