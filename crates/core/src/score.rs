//! Bounded numbers: trust scores σ, risk weights ω and bond fractions all live in [0, 1].
//!
//! The reference range-checked almost nothing (a NaN σ or a bond of 150 % was accepted). Here
//! outside input becomes a [`Score`] only through [`Score::new`], which refuses NaN, infinities
//! and values outside the unit interval, so the rest of the engine can rely on the bound.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a number is not a valid score.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// NaN or infinite.
    #[error("{field} must be a finite number, got {value}")]
    NotFinite {
        /// Name of the field being checked.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// Below 0 or above 1.
    #[error("{field} must be between 0 and 1, got {value}")]
    OutOfRange {
        /// Name of the field being checked.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
}

/// A finite number in the closed interval [0, 1].
#[derive(Clone, Copy, Default, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Score(f64);

impl Score {
    /// Zero.
    pub const ZERO: Score = Score(0.0);
    /// One.
    pub const ONE: Score = Score(1.0);

    /// Checks `value` for the field named `field` (the name appears in the error message).
    pub fn checked(field: &'static str, value: f64) -> Result<Self, ScoreError> {
        if !value.is_finite() {
            return Err(ScoreError::NotFinite { field, value });
        }
        if !(0.0..=1.0).contains(&value) {
            return Err(ScoreError::OutOfRange { field, value });
        }
        Ok(Score(value))
    }

    /// Checks `value` as a generic score.
    pub fn new(value: f64) -> Result<Self, ScoreError> {
        Self::checked("score", value)
    }

    /// Clamps any number into [0, 1] (NaN becomes 0). For results of internal arithmetic only.
    pub fn clamped(value: f64) -> Self {
        if value.is_nan() {
            Score(0.0)
        } else {
            Score(value.clamp(0.0, 1.0))
        }
    }

    /// The value as `f64`.
    pub const fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Debug for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Score::new(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_out_of_range_and_nan() {
        assert!(Score::checked("sigma", f64::NAN).is_err());
        assert!(Score::checked("sigma", f64::INFINITY).is_err());
        assert!(Score::checked("sigma", -0.01).is_err());
        assert!(Score::checked("sigma", 1.01).is_err());
        assert_eq!(
            Score::checked("sigma", 2.0).unwrap_err().to_string(),
            "sigma must be between 0 and 1, got 2"
        );
        assert_eq!(Score::checked("sigma", 0.0).unwrap().get(), 0.0);
        assert_eq!(Score::checked("sigma", 1.0).unwrap().get(), 1.0);
    }

    #[test]
    fn clamps() {
        assert_eq!(Score::clamped(f64::NAN).get(), 0.0);
        assert_eq!(Score::clamped(1.5).get(), 1.0);
        assert_eq!(Score::clamped(-3.0).get(), 0.0);
    }
}
