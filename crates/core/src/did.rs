//! `did:key` identifiers for Ed25519 public keys (<https://w3c-ccg.github.io/did-method-key/>).
//!
//! Why this exists: in the reference a DID was any string and nothing ever proved that an agent
//! held the key behind it. A `did:key` *is* the public key, so a signature checked against
//! [`decode_ed25519`] proves possession without any registry. Form:
//!
//! ```text
//! did:key:z<base58btc(0xed 0x01 ‖ 32-byte Ed25519 public key)>
//! ```
//!
//! `z` is the multibase prefix of base58btc and `0xed 0x01` the varint multicodec of
//! `ed25519-pub`; such DIDs therefore all start with `did:key:z6Mk`. Only Ed25519 is supported.
//! Decoding refuses keys that are not valid curve points and small-order (weak) keys.

use ed25519_dalek::VerifyingKey;

use crate::id::{AgentDid, IdError};

/// The DID method prefix.
pub const DID_KEY_PREFIX: &str = "did:key:";
/// The multicodec prefix of an Ed25519 public key (varint of 0xed).
pub const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
/// Longest accepted input, in bytes (an Ed25519 did:key is 56 bytes).
const MAX_DID_LEN: usize = 128;

/// Why a string is not an Ed25519 `did:key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    /// The string does not start with `did:key:`.
    #[error("`{did}` is not a did:key")]
    NotDidKey {
        /// The input (escaped, shortened).
        did: String,
    },
    /// The method-specific id does not start with the base58btc multibase prefix `z`.
    #[error("`{did}` is not base58btc encoded (it must start with `did:key:z`)")]
    NotBase58Btc {
        /// The input (escaped, shortened).
        did: String,
    },
    /// The method-specific id is not valid base58.
    #[error("`{did}` contains invalid base58")]
    BadBase58 {
        /// The input (escaped, shortened).
        did: String,
    },
    /// The multicodec prefix is not `ed25519-pub` (0xed 0x01).
    #[error("`{did}` has multicodec prefix `{found}`, not ed25519-pub (ed01)")]
    WrongMulticodec {
        /// The input (escaped, shortened).
        did: String,
        /// The first bytes found, in hex.
        found: String,
    },
    /// The key is not 32 bytes long.
    #[error("`{did}` holds a {len}-byte key; Ed25519 keys are 32 bytes")]
    WrongLength {
        /// The input (escaped, shortened).
        did: String,
        /// The key length found.
        len: usize,
    },
    /// The input is far longer than any Ed25519 did:key.
    #[error("did:key is {len} bytes long; the limit is {MAX_DID_LEN}")]
    TooLong {
        /// The input length in bytes.
        len: usize,
    },
    /// The 32 bytes are not a usable Ed25519 point (not on the curve, or of small order).
    #[error("`{did}` does not hold a valid Ed25519 public key")]
    InvalidPoint {
        /// The input (escaped, shortened).
        did: String,
    },
    /// The DID failed the generic id checks.
    #[error(transparent)]
    Id(#[from] IdError),
}

fn shown(did: &str) -> String {
    did.chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// The `did:key` string of an Ed25519 public key.
pub fn encode_ed25519(key: &VerifyingKey) -> String {
    let mut raw = Vec::with_capacity(34);
    raw.extend_from_slice(&ED25519_MULTICODEC);
    raw.extend_from_slice(key.as_bytes());
    format!("{DID_KEY_PREFIX}z{}", bs58::encode(raw).into_string())
}

/// The `did:key` of an Ed25519 public key as a validated [`AgentDid`].
pub fn agent_did(key: &VerifyingKey) -> Result<AgentDid, DidError> {
    Ok(AgentDid::new(encode_ed25519(key))?)
}

/// The Ed25519 public key inside a `did:key`.
pub fn decode_ed25519(did: &str) -> Result<VerifyingKey, DidError> {
    let id = did
        .strip_prefix(DID_KEY_PREFIX)
        .ok_or_else(|| DidError::NotDidKey { did: shown(did) })?;
    let encoded = id
        .strip_prefix('z')
        .ok_or_else(|| DidError::NotBase58Btc { did: shown(did) })?;
    if did.len() > MAX_DID_LEN {
        return Err(DidError::TooLong { len: did.len() });
    }
    let raw = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| DidError::BadBase58 { did: shown(did) })?;
    let key = raw
        .strip_prefix(&ED25519_MULTICODEC)
        .ok_or_else(|| DidError::WrongMulticodec {
            did: shown(did),
            found: hex::encode(raw.get(..2).unwrap_or(&raw)),
        })?;
    let key: &[u8; 32] = key.try_into().map_err(|_| DidError::WrongLength {
        did: shown(did),
        len: key.len(),
    })?;
    let key =
        VerifyingKey::from_bytes(key).map_err(|_| DidError::InvalidPoint { did: shown(did) })?;
    if key.is_weak() {
        return Err(DidError::InvalidPoint { did: shown(did) });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    /// The did:key spec's first Ed25519 example; it is the public key of the all-zero seed.
    const SPEC_DID: &str = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
    const SPEC_KEY_HEX: &str = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";

    fn did_of(raw: &[u8]) -> String {
        format!("did:key:z{}", bs58::encode(raw).into_string())
    }

    #[test]
    fn matches_the_spec_test_vector() {
        let key = decode_ed25519(SPEC_DID).unwrap();
        assert_eq!(hex::encode(key.as_bytes()), SPEC_KEY_HEX);
        assert_eq!(SigningKey::from_bytes(&[0; 32]).verifying_key(), key);
        assert_eq!(encode_ed25519(&key), SPEC_DID);
    }

    #[test]
    fn matches_an_independent_vector_with_base58_key() {
        // From a DID document: the DID and its `publicKeyBase58` (the raw key in base58btc).
        let did = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th";
        let raw = bs58::decode("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K")
            .into_vec()
            .unwrap();
        let key = decode_ed25519(did).unwrap();
        assert_eq!(key.as_bytes().as_slice(), raw.as_slice());
        assert_eq!(encode_ed25519(&key), did);
    }

    #[test]
    fn round_trips_and_starts_with_z6mk() {
        for seed in 0..20u8 {
            let key = SigningKey::from_bytes(&[seed; 32]).verifying_key();
            let did = agent_did(&key).unwrap();
            assert!(did.as_str().starts_with("did:key:z6Mk"), "{did}");
            assert_eq!(decode_ed25519(did.as_str()).unwrap(), key);
        }
    }

    #[test]
    fn refuses_malformed_dids_with_clear_errors() {
        let e = |s: &str| decode_ed25519(s).unwrap_err();
        assert_eq!(
            e("did:mesh:alpha").to_string(),
            "`did:mesh:alpha` is not a did:key"
        );
        assert!(matches!(e("did:key:f6Mk"), DidError::NotBase58Btc { .. }));
        assert!(matches!(e("did:key:z0OIl"), DidError::BadBase58 { .. }));
        assert!(matches!(
            e(&format!("{SPEC_DID}#frag")),
            DidError::BadBase58 { .. }
        ));
        // An X25519 key (multicodec 0xec 0x01) is refused.
        let mut x = vec![0xec, 0x01];
        x.extend_from_slice(&[9; 32]);
        assert_eq!(
            e(&did_of(&x)),
            DidError::WrongMulticodec {
                did: did_of(&x),
                found: "ec01".into()
            }
        );
        let mut short = ED25519_MULTICODEC.to_vec();
        short.extend_from_slice(&[9; 31]);
        assert!(matches!(
            e(&did_of(&short)),
            DidError::WrongLength { len: 31, .. }
        ));
        assert!(matches!(
            e(&format!("did:key:z{}", "1".repeat(200))),
            DidError::TooLong { len: 209 }
        ));
        // The identity point is on the curve but has small order.
        let mut weak = ED25519_MULTICODEC.to_vec();
        weak.push(1);
        weak.extend_from_slice(&[0; 31]);
        assert!(matches!(e(&did_of(&weak)), DidError::InvalidPoint { .. }));
    }

    #[test]
    fn refuses_bytes_that_are_not_a_curve_point() {
        // Find a 32-byte string that does not decompress; about half of all y values fail.
        let bad = (0u8..=255)
            .map(|b| {
                let mut k = [b; 32];
                k[31] &= 0x7f;
                k
            })
            .find(|k| VerifyingKey::from_bytes(k).is_err())
            .unwrap();
        let mut raw = ED25519_MULTICODEC.to_vec();
        raw.extend_from_slice(&bad);
        assert!(matches!(
            decode_ed25519(&did_of(&raw)),
            Err(DidError::InvalidPoint { .. })
        ));
    }
}
