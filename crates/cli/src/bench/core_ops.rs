//! Benchmarks of core building blocks, defined as the reference's `bench_hypervisor.py` defines
//! them: ring computation, vouching with σ_eff, audit capture, Merkle roots, chain verification,
//! plus our inclusion-proof and vouching-at-scale extras, and the cost of SHA-256 per block
//! (the unit of every audit hash, used to work out how much of a benchmark is hashing).

use std::hint::black_box;

use ahv_core::audit::digest::Digest32;
use ahv_core::audit::entry::Decision;
use ahv_core::audit::merkle;
use ahv_core::engine::AuditTrail;
use ahv_core::id::{AgentDid, IdGen, SessionId};
use ahv_core::liability::{VouchBook, VouchPolicy, sigma_eff};
use ahv_core::ring::Ring;
use ahv_core::score::Score;

use super::fixture::{T0, did};
use super::harness::{Stats, measure};

/// Audit entries kept in memory by the benchmark trails (the engine's default).
const TRAIL_CAPACITY: usize = 1_000_000;

/// `ring_computation`: σ 0.85 → ring (the reference's `RingEnforcer.compute_ring(0.85)`).
pub fn ring_computation(iterations: usize) -> Result<Stats, String> {
    measure(iterations, || {
        black_box(Ring::from_sigma(
            Score::clamped(black_box(0.85)),
            black_box(false),
        ));
        Ok(())
    })
}

/// A shared, growing vouch book: each call a new session, voucher and vouchee, one vouch (σ 0.9,
/// bond 20 %) and one σ_eff (σ_raw 0.4, ω 0.5), as the reference's `vouching_sigma_eff`.
struct VouchBench {
    book: VouchBook,
    ids: IdGen,
    n: u64,
}

impl VouchBench {
    fn new() -> Result<Self, String> {
        let book = VouchBook::new(VouchPolicy::default()).map_err(|e| e.to_string())?;
        Ok(VouchBench {
            book,
            ids: IdGen::new([7; 16]),
            n: 0,
        })
    }

    fn step(&mut self) -> Result<(), String> {
        self.n += 1;
        let n = self.n;
        let sid = SessionId::new(format!("bench-{n}")).map_err(|e| e.to_string())?;
        let voucher = AgentDid::new(format!("did:v:{n}")).map_err(|e| e.to_string())?;
        let vouchee = AgentDid::new(format!("did:e:{n}")).map_err(|e| e.to_string())?;
        let bond = Some(Score::clamped(0.2));
        self.book
            .vouch(
                &mut self.ids,
                &sid,
                &voucher,
                Score::clamped(0.9),
                &vouchee,
                bond,
                None,
                T0,
            )
            .map_err(|e| e.to_string())?;
        let eff = sigma_eff(
            Score::clamped(0.4),
            self.book.bonded_into(&sid, &vouchee, T0),
            Score::clamped(0.5),
        );
        black_box(eff);
        Ok(())
    }
}

/// `vouching_sigma_eff`: the reference's definition (the book grows by one bond per call,
/// warm-up included).
pub fn vouching_sigma_eff(iterations: usize) -> Result<Stats, String> {
    let mut b = VouchBench::new()?;
    measure(iterations, || b.step())
}

/// Bonds stored before `vouching_sigma_eff_at_10k` starts timing.
pub const PREFILLED_VOUCHES: usize = 10_000;

/// `vouching_sigma_eff_at_10k`: the same call with 10,000 bonds already stored (the reference
/// scans every stored bond on each call, so this is where O(n) shows).
pub fn vouching_sigma_eff_at_10k(iterations: usize) -> Result<Stats, String> {
    let mut b = VouchBench::new()?;
    for _ in 0..PREFILLED_VOUCHES {
        b.step()?;
    }
    measure(iterations, || b.step())
}

/// One audit entry shaped like the reference's one-file VFS delta.
fn capture(trail: &mut AuditTrail, sid: &SessionId, agent: &AgentDid, path: &str, hash: &str) {
    let change = ahv_core::detail! { "content_hash": hash, "operation": "add", "path": path };
    let detail = ahv_core::detail! { "changes": [change] };
    trail.append(
        T0,
        Some(sid),
        Some(agent),
        "vfs.delta",
        Decision::Allowed,
        "allowed",
        detail,
    );
}

/// `delta_capture`: a fresh audit trail and one appended entry.
pub fn delta_capture(iterations: usize) -> Result<Stats, String> {
    let sid = SessionId::new("bench-session").map_err(|e| e.to_string())?;
    let agent = did("did:mesh:a")?;
    measure(iterations, || {
        let mut trail = AuditTrail::new("bench-session", TRAIL_CAPACITY);
        capture(&mut trail, &sid, &agent, "/data/file.txt", "abc123");
        black_box(&trail);
        Ok(())
    })
}

/// A fresh trail with `n` entries `/f{i}` / `h{i}`.
fn trail_of(n: usize, sid: &SessionId, agent: &AgentDid) -> AuditTrail {
    let mut trail = AuditTrail::new(sid.as_str(), TRAIL_CAPACITY);
    for i in 0..n {
        capture(&mut trail, sid, agent, &format!("/f{i}"), &format!("h{i}"));
    }
    trail
}

/// `merkle_root_{n}_deltas`: a fresh trail, `n` entries, then its root. Appends hash only their
/// leaves; the log folds them into its tree when the root is asked for, so the tree is really
/// built from the `n` leaves here (a unit test checks it against a from-scratch recomputation).
pub fn merkle_root(n: usize, iterations: usize) -> Result<Stats, String> {
    let sid = SessionId::new("bench-merkle").map_err(|e| e.to_string())?;
    let agent = did("did:mesh:a")?;
    measure(iterations, || {
        let trail = trail_of(n, &sid, &agent);
        black_box(trail.root());
        Ok(())
    })
}

/// `chain_verify_50_deltas`: 50 entries, then verification: every entry re-hashed and compared
/// with its stored leaf hash, and the root recomputed from the re-hashed leaves and compared
/// with the log's root.
pub fn chain_verify_50(iterations: usize) -> Result<Stats, String> {
    let sid = SessionId::new("bench-verify").map_err(|e| e.to_string())?;
    let agent = did("did:mesh:a")?;
    measure(iterations, || {
        let trail = trail_of(50, &sid, &agent);
        if !verify_trail(&trail) {
            return Err("a freshly built audit trail failed verification".into());
        }
        Ok(())
    })
}

/// Re-hashes every entry of `trail` and checks the leaves and the root.
pub fn verify_trail(trail: &AuditTrail) -> bool {
    let entries = trail.entries(0, usize::MAX);
    if entries.len() as u64 != trail.len() {
        return false;
    }
    let mut leaves = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let h = e.leaf_hash();
        if trail.log().leaf(i as u64) != Some(h) {
            return false;
        }
        leaves.push(h);
    }
    merkle::root(&leaves) == trail.root()
}

/// `inclusion_proof_1k`: an inclusion proof of one entry of a 1,000-entry log, built and
/// verified against the root.
pub fn inclusion_proof_1k(iterations: usize) -> Result<Stats, String> {
    let sid = SessionId::new("bench-proof").map_err(|e| e.to_string())?;
    let agent = did("did:mesh:a")?;
    let trail = trail_of(1_000, &sid, &agent);
    let log = trail.log();
    let (size, root) = (log.len(), log.root());
    let mut i: u64 = 0;
    measure(iterations, || {
        i = (i + 7) % size;
        let proof = log.inclusion_proof(i, size).map_err(|e| e.to_string())?;
        let leaf = log.leaf(i).ok_or("leaf missing")?;
        merkle::verify_inclusion(&leaf, i, size, &proof, &root).map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// `sha256_64_blocks`: SHA-256 of a message that fills exactly 64 compression blocks with its
/// padding. Audit leaves and nodes are hashed block by block; per block, this is the cheapest
/// SHA-256 gets (the per-message set-up is spread over 64 blocks), so `scripts/hash-floor.sh`
/// multiplies it by the blocks a benchmark hashes to get a lower bound of its hashing time.
pub fn sha256_64_blocks(iterations: usize) -> Result<Stats, String> {
    let message = vec![0x5au8; SHA256_FLOOR_BLOCKS * 64 - 9];
    measure(iterations, || {
        black_box(Digest32::sha256(black_box(&message)));
        Ok(())
    })
}

/// Blocks hashed per call of [`sha256_64_blocks`].
pub const SHA256_FLOOR_BLOCKS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_trail_verifies_and_a_changed_one_does_not() {
        let sid = SessionId::new("s").unwrap();
        let agent = did("did:mesh:a").unwrap();
        let trail = trail_of(50, &sid, &agent);
        assert!(verify_trail(&trail));
        assert_eq!(
            trail_of(10, &sid, &agent).root(),
            merkle::root(trail_of(10, &sid, &agent).log().leaves())
        );
        let mut other = trail_of(49, &sid, &agent);
        capture(&mut other, &sid, &agent, "/tampered", "x");
        assert_ne!(other.root(), trail.root());
    }

    #[test]
    fn core_benchmarks_run() {
        for (want, r) in [
            (20, ring_computation(20)),
            (20, vouching_sigma_eff(20)),
            (20, delta_capture(20)),
            (20, merkle_root(10, 20)),
            (5, chain_verify_50(5)),
            (20, inclusion_proof_1k(20)),
            (20, sha256_64_blocks(20)),
        ] {
            assert_eq!(r.unwrap().iterations, want);
        }
    }
}
