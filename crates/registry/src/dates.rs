//! How dates are compared: each FHIR date, dateTime and instant is the closed range of
//! microseconds since the Unix epoch (UTC) it covers, and a search value with a prefix
//! (`ge2026-03`) is a bound on those ranges.

use renhice_model::values::{Date, DateParts, Instant, Precision};
use renhice_store::search::{DateComparator, Match};

use crate::RuleError;

/// The closed range of microseconds a date of some precision covers (UTC): a year, a
/// month or a day.
#[must_use]
pub fn date_range(parts: &DateParts) -> Option<(i64, i64)> {
    use time::{Date, Month};
    let year = i32::from(parts.year);
    let (first, last) = match parts.precision {
        Precision::Year => (
            Date::from_calendar_date(year, Month::January, 1).ok()?,
            Date::from_calendar_date(year, Month::December, 31).ok()?,
        ),
        Precision::Month => {
            let month = Month::try_from(parts.month?).ok()?;
            let first = Date::from_calendar_date(year, month, 1).ok()?;
            let next = if month == Month::December {
                Date::from_calendar_date(year + 1, Month::January, 1).ok()?
            } else {
                Date::from_calendar_date(year, month.next(), 1).ok()?
            };
            (first, next.previous_day()?)
        }
        _ => {
            let day =
                Date::from_calendar_date(year, Month::try_from(parts.month?).ok()?, parts.day?)
                    .ok()?;
            (day, day)
        }
    };
    let start = first.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let end = (last.next_day()?.midnight().assume_utc().unix_timestamp()) * 1_000_000 - 1;
    Some((start, end))
}

/// The closed range of microseconds a dateTime covers: the instant itself when a time
/// is given (at its offset), otherwise the whole year, month or day (UTC).
#[must_use]
pub fn datetime_range(parts: &DateParts) -> Option<(i64, i64)> {
    let Some(t) = parts.time else {
        return date_range(parts);
    };
    let date = time::Date::from_calendar_date(
        i32::from(parts.year),
        time::Month::try_from(parts.month?).ok()?,
        parts.day?,
    )
    .ok()?;
    // A leap second (60) counts as the last second of its minute.
    let clock =
        time::Time::from_hms_nano(t.hour, t.minute, t.second.min(59), t.nanos.unwrap_or(0)).ok()?;
    let offset =
        time::UtcOffset::from_whole_seconds(i32::from(parts.offset_minutes.unwrap_or(0)) * 60)
            .ok()?;
    let at = time::PrimitiveDateTime::new(date, clock).assume_offset(offset);
    let micros = i64::try_from(at.unix_timestamp_nanos() / 1000).ok()?;
    Some((micros, micros))
}

/// `meta.lastUpdated` text of a stored time: RFC 3339 with microseconds, UTC.
#[must_use]
pub fn instant_text(micros: i64) -> String {
    renhice_store::Timestamp::from_micros(micros).to_rfc3339()
}

/// The microsecond an instant names.
#[must_use]
pub fn instant_micros(instant: &Instant) -> Option<i64> {
    time::OffsetDateTime::parse(
        instant.as_str(),
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
    .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).ok())
}

/// A `date` search value (`2026`, `ge2026-03-01`, `lt2026-04`) as the store's match:
/// a comparator and the range the date covers. `name` is the parameter, for errors.
pub fn search_value(name: &str, raw: &str) -> Result<Match, RuleError> {
    let (comparator, text) = match raw.get(..2) {
        Some("eq") => (DateComparator::Eq, &raw[2..]),
        Some("ge") => (DateComparator::Ge, &raw[2..]),
        Some("le") => (DateComparator::Le, &raw[2..]),
        Some("gt") => (DateComparator::Gt, &raw[2..]),
        Some("lt") => (DateComparator::Lt, &raw[2..]),
        Some(p) if p.bytes().all(|b| b.is_ascii_lowercase()) => {
            return Err(RuleError::invalid(
                name,
                format!("the prefix {p:?} is not supported on {name}; use eq, ge, le, gt or lt"),
            ));
        }
        _ => (DateComparator::Eq, raw),
    };
    if text.contains('T') {
        // A dateTime or instant (`2026-12-07T10:00:00Z`, `…:00.123456-05:00`): the second
        // it names, or the microsecond when it has a fraction.
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                RuleError::invalid(
                    name,
                    format!("{name} {text:?} is not a FHIR dateTime with its zone (2026-12-07T10:00:00Z): {e}"),
                )
            })?;
        let low = i64::try_from(at.unix_timestamp_nanos() / 1000)
            .map_err(|_| RuleError::invalid(name, format!("{name} {text:?} is out of range")))?;
        let high = if text.contains('.') {
            low
        } else {
            low + 999_999
        };
        return Ok(Match::Date {
            comparator,
            low,
            high,
        });
    }
    let date: Date = text.parse().map_err(|e| {
        RuleError::invalid(
            name,
            format!("{name} {text:?} is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD): {e}"),
        )
    })?;
    let (low, high) = date_range(&date.parts())
        .ok_or_else(|| RuleError::invalid(name, format!("{name} {text:?} is out of range")))?;
    Ok(Match::Date {
        comparator,
        low,
        high,
    })
}

/// A `date` search value as the closed range of microseconds it admits:
/// `(since, until)`, either open (for parameters read into a range, such as the audit
/// trail's `date`).
pub fn bounds(name: &str, raw: &str) -> Result<(Option<i64>, Option<i64>), RuleError> {
    let Match::Date {
        comparator,
        low,
        high,
    } = search_value(name, raw)?
    else {
        return Err(RuleError::invalid(
            name,
            format!("{name} {raw:?} is not a date"),
        ));
    };
    Ok(match comparator {
        DateComparator::Eq => (Some(low), Some(high)),
        DateComparator::Ge => (Some(low), None),
        DateComparator::Gt => (Some(high.saturating_add(1)), None),
        DateComparator::Le => (None, Some(high)),
        DateComparator::Lt => (None, Some(low.saturating_sub(1))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(text: &str) -> (i64, i64) {
        let date: Date = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        date_range(&date.parts()).unwrap_or_else(|| panic!("{text} has no range"))
    }

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn a_day_a_month_and_a_year_cover_their_microseconds() {
        let (low, high) = range("2026-03-01");
        assert_eq!(low, 1_772_323_200_000_000);
        assert_eq!(high - low + 1, DAY);
        assert_eq!(range("2024-02").1 - range("2024-02").0 + 1, 29 * DAY);
        assert_eq!(range("2026-12").1 + 1, range("2027").0);
        assert_eq!(range("2026").1 - range("2026").0 + 1, 365 * DAY);
    }

    #[test]
    fn a_datetime_with_a_time_is_one_instant_at_its_offset() {
        let parts = |t: &str| {
            renhice_model::values::DateTime::parse(t)
                .unwrap_or_else(|e| panic!("{t}: {e}"))
                .parts()
        };
        let utc = datetime_range(&parts("2026-03-01T10:00:00Z"));
        let lima = datetime_range(&parts("2026-03-01T05:00:00-05:00"));
        assert_eq!(utc, lima);
        assert_eq!(utc.map(|(l, h)| h - l), Some(0));
        assert_eq!(datetime_range(&parts("2026-03")), Some(range("2026-03")));
    }

    #[test]
    fn stored_times_round_trip_through_their_text() {
        for micros in [0, 1_772_323_200_123_456, 1_000_000] {
            let text = instant_text(micros);
            let instant = Instant::parse(text.clone()).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(instant_micros(&instant), Some(micros), "{text}");
        }
        assert_eq!(
            instant_text(1_772_323_200_000_001),
            "2026-03-01T00:00:00.000001Z"
        );
    }

    #[test]
    fn prefixes_bound_the_range() {
        let (low, high) = range("2026-03");
        assert_eq!(bounds("date", "2026-03"), Ok((Some(low), Some(high))));
        assert_eq!(bounds("date", "ge2026-03"), Ok((Some(low), None)));
        assert_eq!(bounds("date", "gt2026-03"), Ok((Some(high + 1), None)));
        assert_eq!(bounds("date", "le2026-03"), Ok((None, Some(high))));
        assert_eq!(bounds("date", "lt2026-03"), Ok((None, Some(low - 1))));
    }

    #[test]
    fn unknown_prefixes_and_bad_dates_name_the_parameter() {
        let e = bounds("birthdate", "sa2026").unwrap_err();
        assert_eq!(e.path(), "birthdate");
        assert!(matches!(e, RuleError::Invalid { .. }));
        assert_eq!(bounds("date", "2026-13").unwrap_err().path(), "date");
        assert_eq!(bounds("date", "03/2026").unwrap_err().path(), "date");
    }

    proptest! {
        /// Consecutive days tile the time line: each starts where the previous ended.
        #[test]
        fn days_tile(y in 1i32..9999, d in 0u32..364) {
            let first = time::Date::from_ordinal_date(y, 1).unwrap_or(time::Date::MIN);
            let Some(day) = first.checked_add(time::Duration::days(i64::from(d))) else {
                return Ok(());
            };
            let Some(next) = day.next_day() else { return Ok(()) };
            let a = range(&day.to_string());
            let b = range(&next.to_string());
            prop_assert_eq!(a.1 + 1, b.0);
            prop_assert_eq!(a.1 - a.0 + 1, DAY);
        }

        /// A month is the union of its days, a year of its months.
        #[test]
        fn coarser_ranges_contain_finer(y in 1i32..9999, m in 1u8..=12) {
            let month = range(&format!("{y:04}-{m:02}"));
            let year = range(&format!("{y:04}"));
            let first_day = range(&format!("{y:04}-{m:02}-01"));
            prop_assert!(year.0 <= month.0 && month.1 <= year.1);
            prop_assert_eq!(first_day.0, month.0);
        }

        /// `gt` and `le` of one date split the time line without gap or overlap, as do
        /// `lt` and `ge`.
        #[test]
        fn complementary_prefixes_partition(y in 1i32..9999, m in 1u8..=12) {
            let date = format!("{y:04}-{m:02}");
            let (_, le) = bounds("d", &format!("le{date}")).unwrap_or_default();
            let (gt, _) = bounds("d", &format!("gt{date}")).unwrap_or_default();
            prop_assert_eq!(le.map(|h| h + 1), gt);
            let (_, lt) = bounds("d", &format!("lt{date}")).unwrap_or_default();
            let (ge, _) = bounds("d", &format!("ge{date}")).unwrap_or_default();
            prop_assert_eq!(lt.map(|h| h + 1), ge);
        }
    }
}
