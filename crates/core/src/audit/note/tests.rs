//! Tests for signed notes, including the Go `sumdb/note` interoperability vector.

use super::*;

/// golang.org/x/mod/sumdb/note's example: signer key
/// `PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz`.
const GO_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn go_key() -> SigningKey {
    let raw = base64::decode(GO_SKEY_B64).unwrap();
    assert_eq!(raw[0], SIG_TYPE_ED25519);
    SigningKey::from_bytes(&raw[1..].try_into().unwrap())
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn reproduces_the_go_sumdb_note_vector_byte_for_byte() {
    let sk = go_key();
    let v = NoteVerifier::new("PeterNeumann", sk.verifying_key()).unwrap();
    assert_eq!(v.to_vkey(), GO_VKEY);
    assert_eq!(NoteVerifier::parse(GO_VKEY).unwrap(), v);
    let note = SignedNote::sign(GO_TEXT, &sk, "PeterNeumann").unwrap();
    assert_eq!(note.to_string(), GO_NOTE);
    let parsed = SignedNote::parse(GO_NOTE).unwrap();
    assert_eq!(parsed, note);
    assert_eq!(parsed.verify(&v).unwrap(), GO_TEXT);
}

#[test]
fn any_changed_character_is_rejected() {
    let v = NoteVerifier::parse(GO_VKEY).unwrap();
    let chars: Vec<char> = GO_NOTE.chars().collect();
    for i in 0..chars.len() {
        let mut c = chars.clone();
        c[i] = if c[i] == 'X' { 'Y' } else { 'X' };
        let s: String = c.into_iter().collect();
        let r = SignedNote::parse(&s).and_then(|n| n.verify(&v).map(str::to_owned));
        assert!(r.is_err(), "change at {i} accepted");
    }
}

#[test]
fn wrong_key_or_forged_signature_is_rejected() {
    let note = SignedNote::sign("hello\n", &key(1), "example.com/log").unwrap();
    let other = NoteVerifier::new("example.com/log", key(2).verifying_key()).unwrap();
    assert_eq!(
        note.verify(&other),
        Err(NoteError::NoKnownSignature {
            name: "example.com/log".into()
        })
    );
    let renamed = NoteVerifier::new("example.com/other", key(1).verifying_key()).unwrap();
    assert!(matches!(
        note.verify(&renamed),
        Err(NoteError::NoKnownSignature { .. })
    ));
    // Same name and key id, but signature bytes from a different message.
    let right = NoteVerifier::new("example.com/log", key(1).verifying_key()).unwrap();
    let mut forged = note;
    forged.signatures[0].signature = SignedNote::sign("other\n", &key(1), "example.com/log")
        .unwrap()
        .signatures[0]
        .signature
        .clone();
    assert_eq!(
        forged.verify(&right).unwrap_err().to_string(),
        "signature from key `example.com/log` does not verify"
    );
    forged.signatures[0].signature.truncate(10);
    assert!(matches!(
        forged.verify(&right),
        Err(NoteError::BadSignature { .. })
    ));
}

#[test]
fn unknown_signatures_are_ignored() {
    let a = SignedNote::sign("hi\n", &key(1), "a.example").unwrap();
    let b = SignedNote::sign("hi\n", &key(2), "b.example").unwrap();
    let both = format!("{}{}", b, a.to_string().split_once("\n\n").unwrap().1);
    let parsed = SignedNote::parse(&both).unwrap();
    assert_eq!(parsed.signatures().len(), 2);
    let va = NoteVerifier::new("a.example", key(1).verifying_key()).unwrap();
    assert_eq!(parsed.verify(&va).unwrap(), "hi\n");
}

#[test]
fn text_may_contain_blank_lines() {
    let text = "one\n\ntwo\n";
    let note = SignedNote::sign(text, &key(3), "k").unwrap();
    let parsed = SignedNote::parse(&note.to_string()).unwrap();
    assert_eq!(parsed.text(), text);
    let v = NoteVerifier::new("k", key(3).verifying_key()).unwrap();
    assert!(parsed.verify(&v).is_ok());
}

#[test]
fn malformed_notes_are_refused_with_reasons() {
    let good = SignedNote::sign("t\n", &key(1), "k").unwrap().to_string();
    assert_eq!(
        SignedNote::parse("t\n\u{2014} k AAAA\n"),
        Err(NoteError::NoSignatureBlock)
    );
    assert!(matches!(
        SignedNote::parse(&good.replace('\u{2014}', "-")),
        Err(NoteError::BadSignatureLine { line: 1, .. })
    ));
    assert!(SignedNote::parse(good.trim_end()).is_err());
    assert_eq!(
        SignedNote::parse(&good.replace("t\n", "t\r\n")),
        Err(NoteError::BadText)
    );
    assert!(matches!(
        SignedNote::parse("t\n\n\u{2014} k AAAA\n"),
        Err(NoteError::BadSignatureLine { .. })
    ));
    let many = good.clone() + &good.split_once("\n\n").unwrap().1.repeat(MAX_SIGNATURES);
    assert_eq!(SignedNote::parse(&many), Err(NoteError::TooManySignatures));
    assert_eq!(
        SignedNote::parse(&"x".repeat(MAX_NOTE_BYTES + 1)),
        Err(NoteError::TooLarge {
            len: MAX_NOTE_BYTES + 1
        })
    );
}

#[test]
fn signing_refuses_bad_names_and_texts() {
    for name in ["", "a b", "a+b", "a\u{2003}b", "a\nb"] {
        assert!(matches!(
            SignedNote::sign("t\n", &key(1), name),
            Err(NoteError::BadKeyName { .. })
        ));
    }
    for text in ["", "no newline", "tab\there\n"] {
        assert_eq!(
            SignedNote::sign(text, &key(1), "k"),
            Err(NoteError::BadText)
        );
    }
}

#[test]
fn malformed_verifier_keys_are_refused() {
    let bad = |s: &str| NoteVerifier::parse(s).unwrap_err().to_string();
    assert_eq!(
        bad("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        "malformed verifier key: key id does not match name and key"
    );
    assert_eq!(
        bad("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        "malformed verifier key: signature type is not Ed25519 (0x01)"
    );
    assert_eq!(
        bad("PeterNeumann"),
        "malformed verifier key: expected name+id+key"
    );
    assert_eq!(
        bad("P+zz+AQ=="),
        "malformed verifier key: key id must be 8 hex digits"
    );
    assert_eq!(
        bad("P+00000000+AQ=="),
        "malformed verifier key: Ed25519 key must be 32 bytes"
    );
    // The identity point has small order.
    let mut small = vec![SIG_TYPE_ED25519, 1];
    small.extend_from_slice(&[0; 31]);
    assert_eq!(
        bad(&format!("P+00000000+{}", base64::encode(&small))),
        "malformed verifier key: Ed25519 key has small order"
    );
}
