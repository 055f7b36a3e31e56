//! Identifiers. Ours are UUIDs (v7, time-ordered); GHL's are opaque strings,
//! parsed once so that an empty or absurd id never reaches an adapter.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies an appointment.
    AppointmentId
);
uuid_id!(
    /// Identifies a lead (a person who booked or who came from GHL).
    LeadId
);
uuid_id!(
    /// Identifies one sync job (one outbox row).
    SyncJobId
);

impl SyncJobId {
    /// A short reference to this job, written into every note and task the job
    /// creates in GHL so that a retry after an unknown outcome can find them.
    /// It takes the random tail of the UUID (the head of a v7 UUID is a timestamp).
    pub fn short_ref(&self) -> String {
        let simple = self.0.simple().to_string();
        simple[simple.len() - 12..].to_owned()
    }
}

/// An opaque GHL id was empty, too long or held characters GHL never uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 1 to 64 characters of letters, digits, '-' or '_'")]
pub struct InvalidGhlId {
    pub kind: &'static str,
}

fn parse_ghl_id(raw: &str, kind: &'static str) -> Result<String, InvalidGhlId> {
    let id = raw.trim();
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(InvalidGhlId { kind })
    }
}

macro_rules! ghl_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidGhlId> {
                parse_ghl_id(raw, $kind).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

ghl_id!(
    /// A GHL contact id, e.g. `ocQHyuzHvysMo5N5VsXc`.
    GhlContactId,
    "ghlContactId"
);
ghl_id!(
    /// A GHL location (sub-account) id. Every lead, appointment and job carries one.
    LocationId,
    "locationId"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghl_ids_are_trimmed_and_checked() {
        assert_eq!(
            GhlContactId::parse(" abc_123-X ").unwrap().as_str(),
            "abc_123-X"
        );
        assert!(GhlContactId::parse("").is_err());
        assert!(GhlContactId::parse("a b").is_err());
        assert!(GhlContactId::parse("../etc").is_err());
        assert!(GhlContactId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn short_refs_differ_for_jobs_created_in_the_same_millisecond() {
        let a = SyncJobId::new();
        let b = SyncJobId::new();
        assert_eq!(a.short_ref().len(), 12);
        assert_ne!(a.short_ref(), b.short_ref());
    }

    #[test]
    fn uuid_ids_round_trip_through_strings() {
        let id = AppointmentId::new();
        let parsed: AppointmentId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert!("not-a-uuid".parse::<AppointmentId>().is_err());
    }
}
