//! Lock intents and which pairs of them may be held together.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::err::LockError;

/// What an agent intends to do with a path while it holds the lock.
///
/// Ordered by strength: `Read < Write < Exclusive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockIntent {
    /// Read the path; shares with other readers.
    Read,
    /// Modify the path.
    Write,
    /// Sole access of any kind.
    Exclusive,
}

impl LockIntent {
    /// Every intent, weakest first.
    pub const ALL: [LockIntent; 3] = [LockIntent::Read, LockIntent::Write, LockIntent::Exclusive];

    /// The wire name: `read`, `write` or `exclusive`.
    pub const fn name(self) -> &'static str {
        match self {
            LockIntent::Read => "read",
            LockIntent::Write => "write",
            LockIntent::Exclusive => "exclusive",
        }
    }

    /// True if locks with these intents held by *different* agents may coexist on overlapping
    /// paths. Only read + read is compatible. Symmetric. (Locks of one agent never conflict with
    /// each other whatever their intents; the table applies that rule, not this function.)
    pub const fn compatible_with(self, other: LockIntent) -> bool {
        matches!((self, other), (LockIntent::Read, LockIntent::Read))
    }
}

impl fmt::Display for LockIntent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LockIntent {
    type Err = LockError;

    /// Parses the wire name.
    fn from_str(s: &str) -> Result<Self, LockError> {
        LockIntent::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| LockError::UnknownIntent {
                value: s.escape_debug().to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn full_compatibility_matrix() {
        use LockIntent::*;
        let expected = [
            (Read, Read, true),
            (Read, Write, false),
            (Read, Exclusive, false),
            (Write, Read, false),
            (Write, Write, false),
            (Write, Exclusive, false),
            (Exclusive, Read, false),
            (Exclusive, Write, false),
            (Exclusive, Exclusive, false),
        ];
        for (a, b, ok) in expected {
            assert_eq!(a.compatible_with(b), ok, "{a} vs {b}");
            assert_eq!(b.compatible_with(a), ok, "{b} vs {a}");
        }
    }

    #[test]
    fn wire_names() {
        for i in LockIntent::ALL {
            assert_eq!(serde_json::to_string(&i).unwrap(), format!("\"{i}\""));
            assert_eq!(i.name().parse::<LockIntent>().unwrap(), i);
        }
        assert_eq!(
            "shared".parse::<LockIntent>().unwrap_err().to_string(),
            "unknown lock intent `shared`: expected `read`, `write` or `exclusive`"
        );
    }

    fn arb_intent() -> impl Strategy<Value = LockIntent> {
        prop_oneof![
            Just(LockIntent::Read),
            Just(LockIntent::Write),
            Just(LockIntent::Exclusive)
        ]
    }

    proptest! {
        #[test]
        fn compatibility_is_symmetric(a in arb_intent(), b in arb_intent()) {
            prop_assert_eq!(a.compatible_with(b), b.compatible_with(a));
        }
    }
}
