//! Standard base64 (RFC 4648 §4: `A–Z a–z 0–9 + /`, `=` padding), written by hand because the
//! core has no base64 dependency and signed notes and checkpoints need it.
//!
//! Decoding is strict: the length must be a multiple of four, padding may only close the input,
//! and unused trailing bits must be zero. So every byte string has exactly one accepted encoding,
//! and a signature line cannot be re-encoded into a different but equivalent string.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a string is not canonical standard base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// The length is not a multiple of four.
    #[error("base64 length {len} is not a multiple of 4")]
    BadLength {
        /// The input length in bytes.
        len: usize,
    },
    /// A character outside the alphabet, or padding in the wrong place.
    #[error("invalid base64 character at offset {offset}")]
    BadChar {
        /// Byte offset of the offending character.
        offset: usize,
    },
    /// The unused low bits of the last character are not zero.
    #[error("non-canonical base64: trailing bits are not zero")]
    NonCanonical,
}

/// Encodes `data` as padded standard base64.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes padded standard base64, refusing any non-canonical form.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(Base64Error::BadLength { len: bytes.len() });
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let last_chunk = bytes.len() / 4;
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != last_chunk) {
            let first_pad = ci * 4 + 4 - pad;
            return Err(Base64Error::BadChar { offset: first_pad });
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                value(c).ok_or(Base64Error::BadChar { offset: ci * 4 + i })?
            };
            n = (n << 6) | v;
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        // INVARIANT: pad <= 2, so the dropped bits are the low 8 * pad bits of `n`.
        if n & ((1u32 << (8 * pad)) - 1) != 0 {
            return Err(Base64Error::NonCanonical);
        }
        out.extend_from_slice(decoded.get(..keep).unwrap_or(&[]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in vectors {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn uses_the_standard_alphabet() {
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(decode("+/+/").unwrap(), vec![0xfb, 0xff, 0xbf]);
        assert!(decode("-_-_").is_err());
    }

    #[test]
    fn round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..data.len() {
            assert_eq!(decode(&encode(&data[..n])).unwrap(), &data[..n]);
        }
    }

    #[test]
    fn refuses_malformed_input() {
        assert_eq!(decode("Zg="), Err(Base64Error::BadLength { len: 3 }));
        assert_eq!(decode("Z==="), Err(Base64Error::BadChar { offset: 1 }));
        assert_eq!(decode("Zg==Zg=="), Err(Base64Error::BadChar { offset: 2 }));
        assert_eq!(decode("Zm9v Zg="), Err(Base64Error::BadChar { offset: 4 }));
        assert_eq!(decode("Zh=="), Err(Base64Error::NonCanonical));
        assert_eq!(decode("Zm9="), Err(Base64Error::NonCanonical));
        assert!(decode("=m9v").is_err());
    }
}
