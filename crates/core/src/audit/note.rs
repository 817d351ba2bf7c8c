//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 signatures.
//!
//! Why this exists: the reference's "commitments" were self-attested records that nothing
//! signed. A signed note is the transparency-log ecosystem's format for signed text (Go's
//! `sumdb/note`, Sigstore, transparency-dev witnesses); using it lets any of their tools check our
//! checkpoints. The format:
//!
//! ```text
//! <text, ending in a newline>
//! <blank line>
//! — <key name> <base64(4-byte key id ‖ 64-byte Ed25519 signature)>
//! ```
//!
//! The signature covers the text including its final newline. The key id is the first four bytes
//! of `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)`; 0x01 is the Ed25519 signature type. A
//! verifier key ("vkey") is distributed as `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
//!
//! Verification follows the spec: signatures from unknown keys (a different name or id) are
//! ignored; a signature from the known key must verify (strict Ed25519), otherwise the whole
//! note is rejected; with no signature from the known key the note is rejected.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::audit::base64;
use crate::audit::digest::Digest32;

/// Signature type byte of Ed25519 in the signed-note spec.
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Most signature lines accepted in one note (the spec requires at least 16; Go uses 100).
pub const MAX_SIGNATURES: usize = 100;
/// Largest note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// The signature-line prefix: em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, key name or verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The key name is empty or contains a Unicode space, a `+` or a control character.
    #[error("key name `{name}` must be non-empty without spaces, `+` or control characters")]
    BadKeyName {
        /// The offending name (escaped).
        name: String,
    },
    /// The text is empty, does not end in a newline, or holds a control character.
    #[error("note text must be non-empty, end in a newline and contain no control characters")]
    BadText,
    /// The note is larger than [`MAX_NOTE_BYTES`].
    #[error("note is {len} bytes; the limit is {MAX_NOTE_BYTES}")]
    TooLarge {
        /// Its size in bytes.
        len: usize,
    },
    /// The note has no blank line separating text and signatures.
    #[error("note has no blank line before its signatures")]
    NoSignatureBlock,
    /// A signature line is malformed.
    #[error("malformed signature line {line}: {why}")]
    BadSignatureLine {
        /// 1-based number of the line within the signature block.
        line: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// No signature line is from the expected key (name and key id).
    #[error("note has no signature from key `{name}`")]
    NoKnownSignature {
        /// The expected key name.
        name: String,
    },
    /// The signature from the expected key does not verify.
    #[error("signature from key `{name}` does not verify")]
    BadSignature {
        /// The key name.
        name: String,
    },
    /// A verifier key string is malformed.
    #[error("malformed verifier key: {why}")]
    BadVerifierKey {
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Checks a key name against the spec: non-empty, no Unicode spaces, no `+`, no controls.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
    {
        return Err(NoteError::BadKeyName {
            name: name
                .chars()
                .take(80)
                .collect::<String>()
                .escape_debug()
                .to_string(),
        });
    }
    Ok(())
}

/// The 4-byte key id of an Ed25519 key: `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[..4]`.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let d = Digest32::sha256_parts(&[name.as_bytes(), b"\n", &[SIG_TYPE_ED25519], key.as_bytes()]);
    let b = d.as_bytes();
    [b[0], b[1], b[2], b[3]]
}

/// A named Ed25519 public key that verifies notes; serialises as its vkey string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Pairs a key name with a public key.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            key,
        })
    }

    /// Parses a vkey `<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte key)>`, checking the id.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let bad = |why| NoteError::BadVerifierKey { why };
        // The base64 part may itself contain '+', so split from the left twice.
        let (name, rest) = vkey.split_once('+').ok_or(bad("expected name+id+key"))?;
        let (id_hex, key_b64) = rest.split_once('+').ok_or(bad("expected name+id+key"))?;
        check_key_name(name)?;
        let mut id = [0u8; 4];
        if id_hex.len() != 8 || hex::decode_to_slice(id_hex, &mut id).is_err() {
            return Err(bad("key id must be 8 hex digits"));
        }
        let raw = base64::decode(key_b64).map_err(|_| bad("key is not base64"))?;
        let (ty, key_bytes) = raw.split_first().ok_or(bad("key is empty"))?;
        if *ty != SIG_TYPE_ED25519 {
            return Err(bad("signature type is not Ed25519 (0x01)"));
        }
        let key_bytes: &[u8; 32] = key_bytes
            .try_into()
            .map_err(|_| bad("Ed25519 key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(key_bytes).map_err(|_| bad("not an Ed25519 point"))?;
        if key.is_weak() {
            return Err(bad("Ed25519 key has small order"));
        }
        if key_id(name, &key) != id {
            return Err(bad("key id does not match name and key"));
        }
        Self::new(name, key)
    }

    /// The vkey text to publish.
    pub fn to_vkey(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(SIG_TYPE_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            base64::encode(&raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The 4-byte key id.
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key)
    }
}

/// One signature line of a note (not yet verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub name: String,
    /// The signer's 4-byte key id.
    pub key_id: [u8; 4],
    /// The signature bytes after the key id (64 bytes for Ed25519).
    pub signature: Vec<u8>,
}

/// A note text with its signature lines. `Display` prints the wire form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') || text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::BadText);
    }
    Ok(())
}

impl SignedNote {
    /// Signs `text` (non-empty, newline-terminated, no control characters) with `key` under
    /// `key_name`.
    pub fn sign(text: &str, key: &SigningKey, key_name: &str) -> Result<Self, NoteError> {
        check_key_name(key_name)?;
        check_text(text)?;
        // Leave room for the blank line and the signature line.
        if text.len() > MAX_NOTE_BYTES - 1024 {
            return Err(NoteError::TooLarge { len: text.len() });
        }
        let sig: Signature = key.sign(text.as_bytes());
        Ok(SignedNote {
            text: text.to_owned(),
            signatures: vec![NoteSignature {
                name: key_name.to_owned(),
                key_id: key_id(key_name, &key.verifying_key()),
                signature: sig.to_bytes().to_vec(),
            }],
        })
    }

    /// Parses the wire form. Checks syntax only; call [`SignedNote::verify`] before trusting it.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge { len: note.len() });
        }
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::BadText);
        }
        // The text ends at the LAST blank line; it keeps its final newline.
        let split = note.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = note
            .get(..=split)
            .zip(note.get(split + 2..))
            .ok_or(NoteError::NoSignatureBlock)?;
        check_text(text)?;
        if block.is_empty() || !block.ends_with('\n') {
            return Err(NoteError::BadSignatureLine {
                line: 1,
                why: "signature block must be non-empty and end in a newline",
            });
        }
        let mut signatures = Vec::new();
        for (i, line) in block.trim_end_matches('\n').split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line, i + 1)?);
        }
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text (including its final newline). Untrusted until verified.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verifies the note against one trusted key and returns the text.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<&str, NoteError> {
        let id = verifier.key_id();
        let mut known = self
            .signatures
            .iter()
            .filter(|s| s.name == verifier.name && s.key_id == id)
            .peekable();
        if known.peek().is_none() {
            return Err(NoteError::NoKnownSignature {
                name: verifier.name.clone(),
            });
        }
        for s in known {
            let bytes: &[u8; 64] =
                s.signature
                    .as_slice()
                    .try_into()
                    .map_err(|_| NoteError::BadSignature {
                        name: verifier.name.clone(),
                    })?;
            verifier
                .key
                .verify_strict(self.text.as_bytes(), &Signature::from_bytes(bytes))
                .map_err(|_| NoteError::BadSignature {
                    name: verifier.name.clone(),
                })?;
        }
        Ok(&self.text)
    }
}

fn parse_signature_line(line: &str, n: usize) -> Result<NoteSignature, NoteError> {
    let bad = |why| NoteError::BadSignatureLine { line: n, why };
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or(bad("must start with an em dash and a space"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(bad("expected a key name and a signature"))?;
    check_key_name(name).map_err(|_| bad("invalid key name"))?;
    let raw = base64::decode(b64).map_err(|_| bad("signature is not canonical base64"))?;
    if raw.len() < 5 {
        return Err(bad("signature is shorter than 5 bytes"));
    }
    let (id, sig) = raw.split_at(4);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: id.try_into().map_err(|_| bad("missing key id"))?,
        signature: sig.to_vec(),
    })
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            let mut raw = s.key_id.to_vec();
            raw.extend_from_slice(&s.signature);
            writeln!(f, "{SIG_PREFIX}{} {}", s.name, base64::encode(&raw))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
