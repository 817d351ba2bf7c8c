//! Outstanding login challenges: bounded, expiring, single use.

use std::collections::{BTreeMap, VecDeque};

use ahv_core::id::AgentDid;
use ahv_core::time::Timestamp;

/// Nonce → (DID, expiry), with insertion order for eviction.
#[derive(Debug)]
pub(crate) struct NonceStore {
    // INVARIANT: `order` holds exactly the keys of `live`, oldest first; len ≤ `max`.
    live: BTreeMap<String, (AgentDid, Timestamp)>,
    order: VecDeque<String>,
    max: usize,
}

impl NonceStore {
    pub(crate) fn new(max: usize) -> Self {
        NonceStore {
            live: BTreeMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Adds a nonce, first dropping expired ones and then the oldest beyond the bound.
    pub(crate) fn insert(
        &mut self,
        nonce: String,
        did: AgentDid,
        expires_at: Timestamp,
        now: Timestamp,
    ) {
        while let Some(front) = self.order.front() {
            let expired = self.live.get(front).is_none_or(|(_, exp)| *exp <= now);
            if expired || self.order.len() >= self.max {
                if let Some(old) = self.order.pop_front() {
                    self.live.remove(&old);
                }
            } else {
                break;
            }
        }
        self.order.push_back(nonce.clone());
        self.live.insert(nonce, (did, expires_at));
    }

    /// Removes the nonce and returns its DID if it had not expired.
    pub(crate) fn take(&mut self, nonce: &str, now: Timestamp) -> Option<AgentDid> {
        let (did, exp) = self.live.remove(nonce)?;
        self.order.retain(|n| n != nonce);
        (now < exp).then_some(did)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_single_use() {
        let d = AgentDid::new("did:mesh:a").unwrap();
        let mut s = NonceStore::new(2);
        let t = Timestamp::from_secs(10);
        s.insert("a".into(), d.clone(), Timestamp::from_secs(20), t);
        s.insert("b".into(), d.clone(), Timestamp::from_secs(20), t);
        s.insert("c".into(), d.clone(), Timestamp::from_secs(20), t);
        assert!(s.take("a", t).is_none(), "oldest evicted beyond the bound");
        assert_eq!(s.take("b", t), Some(d));
        assert!(s.take("b", t).is_none(), "single use");
        assert!(s.take("c", Timestamp::from_secs(20)).is_none(), "expired");
    }
}
