//! RFC 6962 / RFC 9162 §2.1 Merkle tree hashing, inclusion proofs and consistency proofs.
//!
//! Why this exists: the reference built its tree over hex *strings*, paired an odd last node with
//! itself and used no domain separation, so `[a, b, c]` and `[a, b, c, c]` had the same root (the
//! CVE-2012-2459 pattern) and a leaf could pose as an interior node. Here:
//!
//! - `leaf_hash(d) = SHA-256(0x00 ‖ d)` and `node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)` over raw
//!   bytes, so leaves and interior nodes can never be confused;
//! - a tree of `n > 1` leaves splits at `k`, the largest power of two strictly below `n`; the last
//!   node is never duplicated;
//! - the empty tree's root is SHA-256 of the empty string, as RFC 6962 defines;
//! - verification is a pure function of its arguments (nothing is stored, nothing is mutated).
//!
//! A root hash does not commit to the tree size: a proof can verify for several sizes with the
//! same tree shape. Sizes must therefore come from a signed checkpoint (see
//! [`crate::audit::checkpoint`]), never from the party presenting the proof.
//!
//! Proof generation takes the leaf *hashes* of the whole tree and costs O(n) hashing;
//! verification costs O(log n). Proofs are ordered bottom-up, exactly as RFC 9162 prints them,
//! so they interoperate with other implementations (tested against the `ct-merkle` crate).

use crate::audit::digest::Digest32;

/// Domain-separation prefix hashed before a leaf's data.
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix hashed before two child hashes.
pub const NODE_PREFIX: u8 = 0x01;

/// Why a proof could not be produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The requested index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from the empty tree was requested; every tree extends it trivially,
    /// so there is nothing to prove.
    #[error("a consistency proof needs an old tree size of at least 1")]
    EmptyOldTree,
    /// The old tree is bigger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeLarger {
        /// The old size.
        old_size: u64,
        /// The new size.
        new_size: u64,
    },
    /// The proof has the wrong number of hashes for the given sizes and index.
    #[error("proof has {got} hashes; {expected} are needed")]
    WrongLength {
        /// Hashes needed.
        expected: usize,
        /// Hashes supplied.
        got: usize,
    },
    /// The inclusion proof leads to a different root.
    #[error("inclusion proof does not lead to the expected root")]
    RootMismatch,
    /// The consistency proof does not reproduce the old root.
    #[error("consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the new root.
    #[error("consistency proof does not reproduce the new root")]
    NewRootMismatch,
    /// Two roots claimed for the same tree size differ.
    #[error("the two roots of a tree of size {size} differ")]
    SameSizeRootsDiffer {
        /// The common size.
        size: u64,
    },
}

/// The hash of one leaf: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Digest32 {
    Digest32::sha256_parts(&[&[LEAF_PREFIX], data])
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Digest32, right: &Digest32) -> Digest32 {
    // One contiguous 65-byte input: the hasher takes it without staging the parts.
    let mut input = [0u8; 65];
    input[0] = NODE_PREFIX;
    input[1..33].copy_from_slice(left.as_bytes());
    input[33..].copy_from_slice(right.as_bytes());
    Digest32::sha256(&input)
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
pub fn empty_root() -> Digest32 {
    Digest32::sha256(b"")
}

/// The largest power of two strictly below `n`; `n` must be at least 2.
fn split_point(n: usize) -> usize {
    // INVARIANT: callers pass n >= 2, so n - 1 >= 1 and the shift is below usize::BITS.
    let below = n.saturating_sub(1).max(1);
    1usize << (usize::BITS - 1 - below.leading_zeros())
}

/// [`split_point`] for `u64` sizes.
fn split_point_u64(n: u64) -> u64 {
    let below = n.saturating_sub(1).max(1);
    1u64 << (u64::BITS - 1 - below.leading_zeros())
}

/// The Merkle Tree Hash (MTH) of a list of leaf hashes.
pub fn root(leaves: &[Digest32]) -> Digest32 {
    match leaves {
        [] => empty_root(),
        _ => subtree_root(leaves),
    }
}

/// MTH of a non-empty range; recursion depth is at most log2(n) + 1.
fn subtree_root(leaves: &[Digest32]) -> Digest32 {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            // INVARIANT: len >= 2, so 1 <= k < len and both halves are non-empty.
            let (left, right) = leaves.split_at(split_point(leaves.len()));
            node_hash(&subtree_root(left), &subtree_root(right))
        }
    }
}

fn size_of(leaves: &[Digest32]) -> u64 {
    u64::try_from(leaves.len()).unwrap_or(u64::MAX)
}

/// The audit path (RFC 6962 `PATH`) proving that leaf `index` is in the tree of `leaves`.
pub fn inclusion_proof(leaves: &[Digest32], index: u64) -> Result<Vec<Digest32>, ProofError> {
    let size = size_of(leaves);
    let m = usize::try_from(index)
        .ok()
        .filter(|&m| m < leaves.len())
        .ok_or(ProofError::IndexOutOfRange { index, size })?;
    let mut out = Vec::new();
    path(m, leaves, &mut out);
    Ok(out)
}

fn path(m: usize, d: &[Digest32], out: &mut Vec<Digest32>) {
    if d.len() <= 1 {
        return;
    }
    let k = split_point(d.len());
    let (left, right) = d.split_at(k);
    if m < k {
        path(m, left, out);
        out.push(subtree_root(right));
    } else {
        path(m - k, right, out);
        out.push(subtree_root(left));
    }
}

/// The consistency proof (RFC 6962 `PROOF`) that the first `old_size` leaves of `leaves` form a
/// prefix of the whole list. `old_size == leaves.len()` gives the empty proof.
pub fn consistency_proof(leaves: &[Digest32], old_size: u64) -> Result<Vec<Digest32>, ProofError> {
    let new_size = size_of(leaves);
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    let m = usize::try_from(old_size)
        .ok()
        .filter(|&m| m <= leaves.len())
        .ok_or(ProofError::OldSizeLarger { old_size, new_size })?;
    let mut out = Vec::new();
    subproof(m, leaves, true, &mut out);
    Ok(out)
}

fn subproof(m: usize, d: &[Digest32], complete: bool, out: &mut Vec<Digest32>) {
    if m == d.len() {
        if !complete {
            out.push(subtree_root(d));
        }
        return;
    }
    let k = split_point(d.len());
    let (left, right) = d.split_at(k);
    if m <= k {
        subproof(m, left, complete, out);
        out.push(subtree_root(right));
    } else {
        subproof(m - k, right, false, out);
        out.push(subtree_root(left));
    }
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size` (`index < size`).
fn inclusion_len(mut index: u64, mut size: u64) -> usize {
    let mut len = 0;
    while size > 1 {
        let k = split_point_u64(size);
        len += 1;
        if index < k {
            size = k;
        } else {
            index -= k;
            size -= k;
        }
    }
    len
}

/// Number of hashes in the consistency proof from `old` to `new` (`0 < old <= new`).
fn consistency_len(mut old: u64, mut new: u64) -> usize {
    let mut len = 0;
    let mut complete = true;
    while old != new {
        let k = split_point_u64(new);
        len += 1;
        if old <= k {
            new = k;
        } else {
            old -= k;
            new -= k;
            complete = false;
        }
    }
    if !complete {
        len += 1;
    }
    len
}

/// Checks that `leaf_hash` sits at `index` in the tree of `tree_size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2). Pure: reads its arguments only.
pub fn verify_inclusion(
    leaf_hash: &Digest32,
    index: u64,
    tree_size: u64,
    proof: &[Digest32],
    root: &Digest32,
) -> Result<(), ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    let expected = inclusion_len(index, tree_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut f, mut s) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if r == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2). Pure: reads its arguments only.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest32,
    new_root: &Digest32,
    proof: &[Digest32],
) -> Result<(), ProofError> {
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old_size > new_size {
        return Err(ProofError::OldSizeLarger { old_size, new_size });
    }
    let expected = consistency_len(old_size, new_size);
    let wrong_length = ProofError::WrongLength {
        expected,
        got: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::SameSizeRootsDiffer { size: old_size })
        };
    }
    let mut rest = proof.iter();
    // When the old tree is a complete subtree its root is the starting node and is not in the
    // proof; otherwise the proof starts with the node common to both trees.
    let start = if old_size.is_power_of_two() {
        *old_root
    } else {
        *rest.next().ok_or(wrong_length.clone())?
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if s == 0 {
            return Err(wrong_length);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong_length);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
