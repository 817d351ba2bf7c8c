//! Serde helper: a map whose keys are not strings (e.g. `(AgentDid, SessionId)` tuples) is
//! written as a sequence of `[key, value]` pairs.
//!
//! State keyed by (agent, session) uses a tuple key so that two different pairs can never
//! collide (the reference concatenated `"{agent}:{session}"`, and DIDs contain `:`). JSON maps
//! only allow string keys, so such maps are snapshotted as pair lists with
//! `#[serde(with = "crate::ring::pairs")]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes the map as a sequence of `(key, value)` pairs in key order.
pub fn serialize<K, V, S>(map: &BTreeMap<K, V>, s: S) -> Result<S::Ok, S::Error>
where
    K: Serialize,
    V: Serialize,
    S: Serializer,
{
    s.collect_seq(map.iter())
}

/// Reads a sequence of `(key, value)` pairs back into a map (a later duplicate key wins).
pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
    D: Deserializer<'de>,
{
    let pairs: Vec<(K, V)> = Vec::deserialize(d)?;
    Ok(pairs.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Holder {
        #[serde(with = "super")]
        m: BTreeMap<(String, String), u32>,
    }

    #[test]
    fn tuple_keyed_map_round_trips_through_json() {
        let mut m = BTreeMap::new();
        m.insert(("a:b".to_string(), "c".to_string()), 1);
        m.insert(("a".to_string(), "b:c".to_string()), 2);
        let h = Holder { m };
        let json = serde_json::to_string(&h).unwrap();
        let back: Holder = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.m.len(), 2);
    }
}
