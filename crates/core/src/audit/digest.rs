//! A 32-byte SHA-256 digest as a value type.
//!
//! The reference hashed lowercase hex *strings* (so every parent hashed 128 ASCII bytes instead of
//! 64 raw ones) and passed them around as `str`. Here a digest is 32 raw bytes in a newtype, so a
//! hash can never be confused with other text; hex appears only at the edges (display and JSON).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a string is not a 32-byte hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// The text is not 64 characters long.
    #[error("digest `{value}` must be 64 hex characters, got {len}")]
    WrongLength {
        /// The offending text (shortened to 80 characters).
        value: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The text contains a character that is not a hex digit.
    #[error("digest `{value}` is not hex")]
    NotHex {
        /// The offending text (shortened to 80 characters).
        value: String,
    },
}

/// A SHA-256 output: a Merkle leaf hash, node hash or root.
///
/// Serialized as a 64-character lowercase hex string; deserialization accepts upper or lower
/// case and refuses anything that is not exactly 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest32([u8; 32]);

impl Digest32 {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest32(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        crate::id::push_hex(&mut out, &self.0);
        out
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Self, DigestParseError> {
        if s.len() != 64 {
            return Err(DigestParseError::WrongLength {
                value: shorten(s),
                len: s.len(),
            });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| DigestParseError::NotHex { value: shorten(s) })?;
        Ok(Digest32(out))
    }

    /// SHA-256 of `data` in one call.
    pub fn sha256(data: &[u8]) -> Self {
        Self::sha256_parts(&[data])
    }

    /// SHA-256 of the concatenation of `parts`, without allocating the concatenation.
    pub fn sha256_parts(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Digest32(h.finalize().into())
    }
}

fn shorten(s: &str) -> String {
    s.chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

impl fmt::Display for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest32({})", self.to_hex())
    }
}

impl FromStr for Digest32 {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl From<[u8; 32]> for Digest32 {
    fn from(bytes: [u8; 32]) -> Self {
        Digest32(bytes)
    }
}

impl AsRef<[u8]> for Digest32 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Digest32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_string_is_the_known_value() {
        assert_eq!(
            Digest32::sha256(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Digest32::sha256(b"abc"),
            Digest32::sha256_parts(&[b"a", b"bc"])
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let d = Digest32::sha256(b"x");
        assert_eq!(Digest32::from_hex(&d.to_hex()).unwrap(), d);
        assert_eq!(Digest32::from_hex(&d.to_hex().to_uppercase()).unwrap(), d);
        assert!(matches!(
            Digest32::from_hex("abcd"),
            Err(DigestParseError::WrongLength { len: 4, .. })
        ));
        let bad = "zz".repeat(32);
        let err = Digest32::from_hex(&bad).unwrap_err();
        assert!(matches!(err, DigestParseError::NotHex { .. }));
        assert!(err.to_string().starts_with("digest `zz"));
    }

    #[test]
    fn serde_uses_hex_strings() {
        let d = Digest32::from_bytes([0xab; 32]);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<Digest32>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest32>("\"ab\"").is_err());
    }
}
