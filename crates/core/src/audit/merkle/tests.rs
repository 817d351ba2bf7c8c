//! Tests for the Merkle tree: known answers, cross-checks against `ct-merkle`, and failures.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use proptest::prelude::*;
use sha2::Sha256;

use super::*;

/// Leaf data for test trees: distinct, deterministic byte strings.
fn data(seed: u64, n: usize) -> Vec<Vec<u8>> {
    (0..n as u64)
        .map(|i| format!("leaf-{seed}-{i}").into_bytes())
        .collect()
}

fn hashes(data: &[Vec<u8>]) -> Vec<Digest32> {
    data.iter().map(|d| leaf_hash(d)).collect()
}

fn ct_tree(data: &[Vec<u8>]) -> MemoryBackedTree<Sha256, Vec<u8>> {
    let mut t = MemoryBackedTree::new();
    for d in data {
        t.push(d.clone());
    }
    t
}

fn concat(proof: &[Digest32]) -> Vec<u8> {
    proof.iter().flat_map(|h| h.as_bytes().to_vec()).collect()
}

fn h(s: &str) -> Digest32 {
    Digest32::from_hex(s).unwrap()
}

/// The eight leaves of the RFC 6962 / transparency-dev reference vectors.
fn rfc_leaves() -> Vec<Digest32> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|x| leaf_hash(&hex::decode(x).unwrap()))
    .collect()
}

#[test]
fn empty_tree_root_is_sha256_of_nothing() {
    assert_eq!(
        root(&[]).to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn known_answer_roots_from_rfc_vectors() {
    let leaves = rfc_leaves();
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    for (n, want) in roots.iter().enumerate() {
        assert_eq!(root(&leaves[..=n]), h(want), "size {}", n + 1);
    }
}

#[test]
fn known_answer_proofs_from_rfc_vectors() {
    let leaves = rfc_leaves();
    let p = inclusion_proof(&leaves[..5], 1).unwrap();
    assert_eq!(
        p,
        vec![
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ]
    );
    let c = consistency_proof(&leaves, 6).unwrap();
    assert_eq!(
        c,
        vec![
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ]
    );
    assert!(consistency_proof(&leaves[..1], 1).unwrap().is_empty());
}

/// The reference's tree: hex strings concatenated, odd node paired with itself, no prefixes.
fn reference_style_root(leaves: &[String]) -> String {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(level[level.len() - 1].clone());
        }
        level = level
            .chunks(2)
            .map(|p| Digest32::sha256(format!("{}{}", p[0], p[1]).as_bytes()).to_hex())
            .collect();
    }
    level[0].clone()
}

#[test]
fn duplicated_last_leaf_changes_root_unlike_reference() {
    let [a, b, c] = [b"a".as_slice(), b"b", b"c"].map(|d| Digest32::sha256(d).to_hex());
    // The reference's construction collides (CVE-2012-2459 pattern)…
    assert_eq!(
        reference_style_root(&[a.clone(), b.clone(), c.clone()]),
        reference_style_root(&[a, b, c.clone(), c])
    );
    // …ours does not.
    let [a, b, c] = [b"a".as_slice(), b"b", b"c"].map(leaf_hash);
    assert_ne!(root(&[a, b, c]), root(&[a, b, c, c]));
}

#[test]
fn a_leaf_cannot_pose_as_an_interior_node() {
    let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
    let mut forged = Vec::new();
    forged.extend_from_slice(l.as_bytes());
    forged.extend_from_slice(r.as_bytes());
    assert_ne!(root(&[leaf_hash(&forged)]), root(&[l, r]));
}

#[test]
fn every_proof_of_small_trees_verifies_and_matches_ct_merkle() {
    for n in 1..=40usize {
        let d = data(n as u64, n);
        let leaves = hashes(&d);
        let t = ct_tree(&d);
        let r = root(&leaves);
        assert_eq!(r.as_bytes().as_slice(), t.root().as_bytes().as_slice());
        for i in 0..n {
            let p = inclusion_proof(&leaves, i as u64).unwrap();
            assert_eq!(concat(&p), t.prove_inclusion(i).as_bytes());
            verify_inclusion(&leaves[i], i as u64, n as u64, &p, &r).unwrap();
        }
        for old in 1..=n {
            let p = consistency_proof(&leaves, old as u64).unwrap();
            assert_eq!(concat(&p), t.prove_consistency(n - old).as_bytes());
            let old_root = root(&leaves[..old]);
            verify_consistency(old as u64, n as u64, &old_root, &r, &p).unwrap();
        }
    }
}

proptest! {
    // 100 random trees per property keeps the debug-build suite fast; sizes 1..=40 are also
    // covered exhaustively above.
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn roots_and_proofs_match_ct_merkle(
        n in 1usize..=200,
        seed in any::<u64>(),
        pick in any::<prop::sample::Index>(),
        pick_old in any::<prop::sample::Index>(),
    ) {
        let d = data(seed, n);
        let leaves = hashes(&d);
        let t = ct_tree(&d);
        let r = root(&leaves);
        let ct_root = t.root();
        prop_assert_eq!(r.as_bytes().as_slice(), ct_root.as_bytes().as_slice());

        let i = pick.index(n);
        let p = inclusion_proof(&leaves, i as u64).unwrap();
        prop_assert_eq!(concat(&p), t.prove_inclusion(i).as_bytes().to_vec());
        prop_assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &p, &r).is_ok());

        let old = pick_old.index(n) + 1;
        let c = consistency_proof(&leaves, old as u64).unwrap();
        prop_assert_eq!(concat(&c), t.prove_consistency(n - old).as_bytes().to_vec());
        let old_root = root(&leaves[..old]);
        prop_assert!(verify_consistency(old as u64, n as u64, &old_root, &r, &c).is_ok());
    }

    #[test]
    fn any_flipped_proof_byte_fails(
        n in 2usize..=200,
        seed in any::<u64>(),
        pick in any::<prop::sample::Index>(),
        pick_old in any::<prop::sample::Index>(),
        byte in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let leaves = hashes(&data(seed, n));
        let r = root(&leaves);
        let i = pick.index(n);
        let mut p = inclusion_proof(&leaves, i as u64).unwrap();
        let b = byte.index(p.len() * 32);
        let mut raw = p[b / 32].to_bytes();
        raw[b % 32] ^= 1 << bit;
        p[b / 32] = Digest32::from_bytes(raw);
        prop_assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &p, &r).is_err());

        let old = pick_old.index(n - 1) + 1; // 1..n, so the proof is non-empty
        let old_root = root(&leaves[..old]);
        let mut c = consistency_proof(&leaves, old as u64).unwrap();
        let b = byte.index(c.len() * 32);
        let mut raw = c[b / 32].to_bytes();
        raw[b % 32] ^= 1 << bit;
        c[b / 32] = Digest32::from_bytes(raw);
        prop_assert!(verify_consistency(old as u64, n as u64, &old_root, &r, &c).is_err());
    }
}

#[test]
fn wrong_leaf_index_size_or_root_fails_inclusion() {
    let leaves = hashes(&data(1, 13));
    let r = root(&leaves);
    let p = inclusion_proof(&leaves, 5).unwrap();
    assert!(verify_inclusion(&leaves[5], 5, 13, &p, &r).is_ok());
    assert_eq!(
        verify_inclusion(&leaves[6], 5, 13, &p, &r),
        Err(ProofError::RootMismatch)
    );
    assert!(verify_inclusion(&leaves[5], 4, 13, &p, &r).is_err());
    // A size that changes the tree's shape fails. (A root does not commit to its size, so a
    // size with the same shape can verify: the size must come from a signed checkpoint.)
    assert!(verify_inclusion(&leaves[5], 5, 8, &p, &r).is_err());
    assert!(verify_inclusion(&leaves[5], 5, 17, &p, &r).is_err());
    assert_eq!(
        verify_inclusion(&leaves[5], 5, 13, &p, &leaves[0]),
        Err(ProofError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&leaves[5], 13, 13, &p, &r),
        Err(ProofError::IndexOutOfRange {
            index: 13,
            size: 13
        })
    );
    assert_eq!(
        verify_inclusion(&leaves[5], 5, 13, &p[..p.len() - 1], &r),
        Err(ProofError::WrongLength {
            expected: p.len(),
            got: p.len() - 1
        })
    );
    let mut longer = p;
    longer.push(r);
    assert!(matches!(
        verify_inclusion(&leaves[5], 5, 13, &longer, &r),
        Err(ProofError::WrongLength { .. })
    ));
}

#[test]
fn wrong_sizes_or_roots_fail_consistency() {
    let leaves = hashes(&data(2, 11));
    let (old_root, new_root) = (root(&leaves[..6]), root(&leaves));
    let p = consistency_proof(&leaves, 6).unwrap();
    assert!(verify_consistency(6, 11, &old_root, &new_root, &p).is_ok());
    assert_eq!(
        verify_consistency(6, 11, &new_root, &new_root, &p),
        Err(ProofError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(6, 11, &old_root, &old_root, &p),
        Err(ProofError::NewRootMismatch)
    );
    assert!(verify_consistency(5, 11, &old_root, &new_root, &p).is_err());
    assert!(verify_consistency(6, 17, &old_root, &new_root, &p).is_err());
    assert!(verify_consistency(6, 8, &old_root, &new_root, &p).is_err());
    assert_eq!(
        verify_consistency(0, 11, &old_root, &new_root, &p),
        Err(ProofError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(12, 11, &old_root, &new_root, &p),
        Err(ProofError::OldSizeLarger {
            old_size: 12,
            new_size: 11
        })
    );
    assert_eq!(
        verify_consistency(11, 11, &old_root, &new_root, &[]),
        Err(ProofError::SameSizeRootsDiffer { size: 11 })
    );
    assert!(verify_consistency(11, 11, &new_root, &new_root, &[]).is_ok());
}

#[test]
fn proof_generation_refuses_bad_arguments() {
    let leaves = hashes(&data(3, 4));
    assert_eq!(
        inclusion_proof(&leaves, 4),
        Err(ProofError::IndexOutOfRange { index: 4, size: 4 })
    );
    assert_eq!(
        inclusion_proof(&[], 0).unwrap_err().to_string(),
        "leaf index 0 is outside a tree of size 0"
    );
    assert_eq!(consistency_proof(&leaves, 0), Err(ProofError::EmptyOldTree));
    assert_eq!(
        consistency_proof(&leaves, 5),
        Err(ProofError::OldSizeLarger {
            old_size: 5,
            new_size: 4
        })
    );
}

#[test]
fn verification_handles_huge_sizes_without_panicking() {
    let x = leaf_hash(b"x");
    assert!(verify_inclusion(&x, u64::MAX - 1, u64::MAX, &[x; 64], &x).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &x, &x, &[x; 3]).is_err());
    assert!(verify_consistency(1, u64::MAX, &x, &x, &[x; 64]).is_err());
}
