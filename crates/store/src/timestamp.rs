//! Stored times.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A time the registry stores: microseconds since the Unix epoch, UTC. Versions'
/// `meta.lastUpdated`, audit events and the instants of index entries are kept at this
/// precision, which PostgreSQL and SQLite both hold exactly in a 64-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// The time `micros` microseconds after the epoch.
    #[must_use]
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    #[must_use]
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Now, by the system clock.
    #[must_use]
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// A date and time, to the microsecond (later than year 294 246 saturates).
    #[must_use]
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        Self(i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX))
    }

    /// As a date and time (out of `time`'s range: the epoch).
    #[must_use]
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 text in UTC with as many fractional digits as it needs, as FHIR's
    /// `instant` is written (`2026-03-01T10:00:00.000001Z`).
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_date_time_round_trip() {
        let t = Timestamp::from_micros(1_772_359_200_000_001);
        assert_eq!(t.to_rfc3339(), "2026-03-01T10:00:00.000001Z");
        assert_eq!(Timestamp::from_datetime(t.to_datetime()), t);
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00Z");
        assert!(Timestamp::now() > t);
    }
}
