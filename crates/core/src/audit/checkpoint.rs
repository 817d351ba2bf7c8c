//! Signed tree heads in the C2SP tlog-checkpoint format (<https://c2sp.org/tlog-checkpoint>).
//!
//! Why this exists: the reference's "blockchain commitment" stored a root in a local map and
//! never signed or sent it anywhere. A checkpoint binds a log's origin, size and root hash under
//! an Ed25519 signature, so a third party holding only the public key can check a root, and two
//! checkpoints plus a consistency proof show that the log only grew. The body is
//!
//! ```text
//! <origin>
//! <tree size in decimal, no leading zeros>
//! <base64 of the 32-byte root hash>
//! ```
//!
//! wrapped in a [signed note](crate::audit::note). We write no extension lines and refuse them on
//! parsing (the spec discourages them), so a checkpoint's text has exactly one meaning.
//! Signing keys are passed in: the runtime generates and stores them; the core never does.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::audit::base64;
use crate::audit::digest::Digest32;
use crate::audit::note::{NoteError, NoteVerifier, SignedNote};

/// Longest accepted origin, in bytes.
pub const MAX_ORIGIN_LEN: usize = 256;

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The origin is empty, too long, or has spaces, `+` or control characters.
    #[error(
        "origin `{origin}` must be 1 to {MAX_ORIGIN_LEN} bytes without spaces, `+` or control characters"
    )]
    BadOrigin {
        /// The offending origin (escaped, shortened).
        origin: String,
    },
    /// The body does not have exactly the three checkpoint lines.
    #[error("checkpoint body must be exactly three lines: origin, size, root hash")]
    BadShape,
    /// The size line is not a canonical decimal `u64`.
    #[error("checkpoint size `{line}` is not a decimal number without leading zeros")]
    BadSize {
        /// The offending line (escaped, shortened).
        line: String,
    },
    /// The root line is not base64 of 32 bytes.
    #[error("checkpoint root hash is not base64 of 32 bytes")]
    BadRoot,
    /// The signed note around it was refused.
    #[error(transparent)]
    Note(#[from] NoteError),
}

fn escaped(s: &str) -> String {
    s.chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// Checks an origin: 1 to [`MAX_ORIGIN_LEN`] bytes without Unicode spaces, `+` or controls.
pub fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty()
        || origin.len() > MAX_ORIGIN_LEN
        || origin
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
    {
        return Err(CheckpointError::BadOrigin {
            origin: escaped(origin),
        });
    }
    Ok(())
}

/// A log's tree head: who (origin), how many leaves (size) and what root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Unique name of the log, a schema-less URL by convention, e.g. `ahv.example/session:…`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash at that size.
    pub root: Digest32,
}

impl Checkpoint {
    /// A checkpoint with a validated origin.
    pub fn new(origin: &str, size: u64, root: Digest32) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            base64::encode(self.root.as_bytes())
        )
    }

    /// Parses a note text produced by [`Checkpoint::body`].
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::BadShape)?
            .split('\n')
            .collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(CheckpointError::BadShape);
        };
        check_origin(origin)?;
        let canonical = size == &"0" || (!size.starts_with('0') && !size.starts_with('+'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| CheckpointError::BadSize {
                line: escaped(size),
            })?;
        let root: [u8; 32] = base64::decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::BadRoot)?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root: Digest32::from_bytes(root),
        })
    }

    /// Signs the checkpoint with `key` under `key_name` (by convention the origin or the
    /// operator's name). `to_string()` of the result is the text to publish.
    pub fn sign(&self, key: &SigningKey, key_name: &str) -> Result<SignedNote, CheckpointError> {
        check_origin(&self.origin)?;
        Ok(SignedNote::sign(&self.body(), key, key_name)?)
    }
}

/// Verifies a signed checkpoint against one trusted key and returns its contents.
pub fn verify(
    note_text: &str,
    key_name: &str,
    key: &VerifyingKey,
) -> Result<Checkpoint, CheckpointError> {
    verify_with(note_text, &NoteVerifier::new(key_name, *key)?)
}

/// [`verify`] with a parsed verifier key (e.g. from a vkey string).
pub fn verify_with(
    note_text: &str,
    verifier: &NoteVerifier,
) -> Result<Checkpoint, CheckpointError> {
    let note = SignedNote::parse(note_text)?;
    let text = note.verify(verifier)?;
    Checkpoint::parse_body(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sample() -> Checkpoint {
        let leaves: Vec<Digest32> = (0..5u8).map(|i| merkle::leaf_hash(&[i])).collect();
        Checkpoint::new("ahv.example/hypervisor", 5, merkle::root(&leaves)).unwrap()
    }

    #[test]
    fn body_has_the_tlog_checkpoint_shape() {
        let cp = Checkpoint::new("example.com/log", 0, merkle::empty_root()).unwrap();
        assert_eq!(
            cp.body(),
            "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
        );
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let cp = sample();
        let note = cp.sign(&key(9), "ahv.example").unwrap().to_string();
        assert!(note.starts_with(&cp.body()));
        assert!(note.contains("\n\n\u{2014} ahv.example "));
        let back = verify(&note, "ahv.example", &key(9).verifying_key()).unwrap();
        assert_eq!(back, cp);
    }

    #[test]
    fn any_changed_character_of_body_or_signature_fails() {
        let note = sample().sign(&key(9), "ahv.example").unwrap().to_string();
        let vk = key(9).verifying_key();
        let chars: Vec<char> = note.chars().collect();
        for i in 0..chars.len() {
            let mut c = chars.clone();
            c[i] = if c[i] == 'A' { 'B' } else { 'A' };
            let s: String = c.into_iter().collect();
            assert!(
                verify(&s, "ahv.example", &vk).is_err(),
                "change at {i} accepted"
            );
        }
    }

    #[test]
    fn wrong_key_fails() {
        let note = sample().sign(&key(9), "ahv.example").unwrap().to_string();
        assert_eq!(
            verify(&note, "ahv.example", &key(8).verifying_key()),
            Err(CheckpointError::Note(NoteError::NoKnownSignature {
                name: "ahv.example".into()
            }))
        );
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let r = base64::encode(&[0; 32]);
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n01\n{r}\n")),
            Err(CheckpointError::BadSize { line: "01".into() })
        );
        assert!(Checkpoint::parse_body(&format!("o\n+1\n{r}\n")).is_err());
        assert!(Checkpoint::parse_body(&format!("o\n-1\n{r}\n")).is_err());
        assert!(Checkpoint::parse_body(&format!("o\n18446744073709551616\n{r}\n")).is_err());
        assert_eq!(
            Checkpoint::parse_body("o\n1\nAAAA\n"),
            Err(CheckpointError::BadRoot)
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n1\n{r}\next\n")),
            Err(CheckpointError::BadShape)
        );
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n1\n{r}")),
            Err(CheckpointError::BadShape)
        );
        assert!(matches!(
            Checkpoint::new("has space", 1, merkle::empty_root()),
            Err(CheckpointError::BadOrigin { .. })
        ));
        assert!(Checkpoint::new("", 1, merkle::empty_root()).is_err());
    }
}
