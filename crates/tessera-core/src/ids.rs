//! Identifiers. Each is a newtype over a UUID, so that a client id can never be passed where a
//! tenant id is expected, and parsing happens once, at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A string that is not an id of the kind expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {kind} (a UUID)")]
pub struct InvalidId {
    /// What was expected: `tenant id`, `client id` or `secret id`.
    pub kind: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }

            /// The UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            /// Accepts the hyphenated form only (case-insensitive), the one tessera prints.
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                let invalid = InvalidId { kind: $kind };
                if s.len() != 36 {
                    return Err(invalid);
                }
                Uuid::try_parse(s).map(Self).map_err(|_| invalid)
            }
        }
    };
}

uuid_id!(
    /// A tenant: a gateway, partner, ISO, agent or merchant.
    TenantId,
    "tenant id"
);
uuid_id!(
    /// An application (OAuth client): its `client_id`.
    ClientId,
    "client id"
);
uuid_id!(
    /// A client secret's id (never its value).
    SecretId,
    "secret id"
);
uuid_id!(
    /// A person who signs in to the Developer Hub console.
    UserId,
    "user id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_parse() {
        let id = ClientId::random();
        assert_eq!(id.to_string().parse::<ClientId>().unwrap(), id);
        assert_eq!(
            id.to_string().to_uppercase().parse::<ClientId>().unwrap(),
            id
        );
        assert!(
            id.as_uuid()
                .simple()
                .to_string()
                .parse::<ClientId>()
                .is_err()
        );
        let err = "nope".parse::<ClientId>().unwrap_err();
        assert_eq!(err.to_string(), "not a client id (a UUID)");
    }
}
