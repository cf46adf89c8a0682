//! Which versions an instance's history answers with: `_since`, `_at`, `_count` and the
//! page a `next` link names (FHIR R4 §3.1.0.9).

use crate::RuleError;

/// A history request's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryRequest {
    /// Versions written at or after this microsecond (`_since`).
    pub since: Option<i64>,
    /// Versions current at some point of this range (`_at`), inclusive.
    pub at: Option<(i64, i64)>,
    /// The page size (`_count`); all when absent.
    pub count: Option<usize>,
    /// Versions older than this one (`_cursor` of a `next` link).
    pub before: Option<i64>,
}

/// The largest page of a history.
pub const MAX_COUNT: usize = 200;

/// Reads a history request from its query parameters; any other parameter is refused.
///
/// # Errors
/// A parameter this history does not take, or a value it cannot read.
pub fn parse(pairs: &[(String, String)]) -> Result<HistoryRequest, RuleError> {
    let mut request = HistoryRequest::default();
    for (name, raw) in pairs {
        match name.as_str() {
            "_since" => {
                request.since = Some(instant_or_day(name, raw)?.0);
            }
            "_at" => request.at = Some(instant_or_day(name, raw)?),
            "_count" => {
                let count = raw.parse::<usize>().map_err(|_| {
                    RuleError::invalid("_count", format!("_count {raw:?} is not a number"))
                })?;
                request.count = Some(count.clamp(1, MAX_COUNT));
            }
            "_cursor" => {
                request.before = Some(raw.parse::<i64>().map_err(|_| {
                    RuleError::invalid(
                        "_cursor",
                        format!("_cursor {raw:?} is not from a next link of this history"),
                    )
                })?);
            }
            "_format" | "_summary" | "_elements" => {}
            other => {
                return Err(RuleError::invalid(
                    other,
                    format!(
                        "{other:?} is not a parameter of a history here; use _since, _at, _count"
                    ),
                ));
            }
        }
    }
    Ok(request)
}

/// A type-level history request (`GET /fhir/{type}/_history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeHistoryRequest {
    /// Versions written at or after this microsecond (`_since`).
    pub since: Option<i64>,
    /// The page size (`_count`, default [`TYPE_DEFAULT_COUNT`]).
    pub count: usize,
    /// Where the previous page ended (`_cursor` of a `next` link):
    /// `(last_updated, resource key, version)`.
    pub after: Option<(i64, i64, i64)>,
}

/// The page size of a type's history when `_count` is not given.
pub const TYPE_DEFAULT_COUNT: usize = 50;

/// Reads a type-level history request. `_at` (the versions current at a moment) is
/// offered on an instance's history only: across a type it would need every resource's
/// next version to be found, for each one.
///
/// # Errors
/// A parameter this history does not take, or a value it cannot read.
pub fn parse_type(pairs: &[(String, String)]) -> Result<TypeHistoryRequest, RuleError> {
    let mut request = TypeHistoryRequest {
        since: None,
        count: TYPE_DEFAULT_COUNT,
        after: None,
    };
    for (name, raw) in pairs {
        match name.as_str() {
            "_since" => request.since = Some(instant_or_day(name, raw)?.0),
            "_count" => {
                let count = raw.parse::<usize>().map_err(|_| {
                    RuleError::invalid("_count", format!("_count {raw:?} is not a number"))
                })?;
                request.count = count.clamp(1, MAX_COUNT);
            }
            "_cursor" => {
                let parts: Vec<i64> = raw.split('.').filter_map(|p| p.parse().ok()).collect();
                let [updated, key, version] = parts[..] else {
                    return Err(RuleError::invalid(
                        "_cursor",
                        format!("_cursor {raw:?} is not from a next link of this history"),
                    ));
                };
                request.after = Some((updated, key, version));
            }
            "_format" | "_summary" | "_elements" => {}
            "_at" => {
                return Err(RuleError::invalid(
                    "_at",
                    "_at is offered on one resource's history (GET /fhir/{type}/{id}/_history); \
                     across a type, use _since",
                ));
            }
            other => {
                return Err(RuleError::invalid(
                    other,
                    format!("{other:?} is not a parameter of a type's history; use _since, _count"),
                ));
            }
        }
    }
    Ok(request)
}

/// The `_cursor` of the page after the one ending at `(last_updated, key, version)`.
#[must_use]
pub fn type_cursor((updated, key, version): (i64, i64, i64)) -> String {
    format!("{updated}.{key}.{version}")
}

/// The range of microseconds an instant (`2026-12-07T10:00:00Z`, one microsecond) or a
/// date (`2026-12-07`, `2026-12`, `2026`: the whole period) names.
fn instant_or_day(name: &str, raw: &str) -> Result<(i64, i64), RuleError> {
    if let Ok(at) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
    {
        let micros = i64::try_from(at.unix_timestamp_nanos() / 1000)
            .map_err(|_| RuleError::invalid(name, format!("{name} {raw:?} is out of range")))?;
        return Ok((micros, micros));
    }
    match crate::dates::bounds(name, raw) {
        Ok((Some(low), Some(high))) if !raw.starts_with(|c: char| c.is_ascii_lowercase()) => {
            Ok((low, high))
        }
        _ => Err(RuleError::invalid(
            name,
            format!("{name} {raw:?} is not an instant (2026-12-07T10:00:00Z) or a date"),
        )),
    }
}

/// The versions kept, newest first, given each as `(version, written at)` newest first;
/// and the version the next page starts below, if there is one.
#[must_use]
pub fn select(versions: &[(i64, i64)], request: &HistoryRequest) -> (Vec<i64>, Option<i64>) {
    let kept: Vec<i64> = versions
        .iter()
        .enumerate()
        .filter(|(_, (version, _))| request.before.is_none_or(|b| *version < b))
        .filter(|(_, (_, written))| request.since.is_none_or(|s| *written >= s))
        .filter(|(i, (_, written))| {
            request.at.is_none_or(|(low, high)| {
                // Current from its writing until the next (newer) version's.
                let replaced = i.checked_sub(1).map(|newer| versions[newer].1);
                *written <= high && replaced.is_none_or(|r| r > low)
            })
        })
        .map(|(_, (version, _))| *version)
        .collect();
    match request.count {
        Some(count) if kept.len() > count => {
            let page = kept[..count].to_vec();
            let next = page.last().copied();
            (page, next)
        }
        _ => (kept, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_types_history_pages_by_cursor_and_refuses_at() {
        let pairs = |q: &[(&str, &str)]| -> Vec<(String, String)> {
            q.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let asked = parse_type(&pairs(&[("_count", "2"), ("_since", "2026-12-07")])).unwrap();
        assert_eq!(asked.count, 2);
        assert!(asked.since.is_some() && asked.after.is_none());
        let cursor = type_cursor((1_765_000_000_000_000, 42, 3));
        let next = parse_type(&pairs(&[("_cursor", &cursor)])).unwrap();
        assert_eq!(next.after, Some((1_765_000_000_000_000, 42, 3)));
        assert_eq!(next.count, TYPE_DEFAULT_COUNT);
        for bad in [
            ("_at", "2026-12-07"),
            ("_cursor", "1.2"),
            ("_count", "x"),
            ("name", "x"),
        ] {
            assert!(parse_type(&pairs(&[bad])).is_err(), "{bad:?}");
        }
    }
    use crate::query::tests::pairs;

    // Versions 3, 2, 1 written at 300, 200, 100.
    const VERSIONS: [(i64, i64); 3] = [(3, 300), (2, 200), (1, 100)];

    #[test]
    fn count_pages_newest_first() {
        let first = select(&VERSIONS, &parse(&pairs("_count=2")).unwrap());
        assert_eq!(first, (vec![3, 2], Some(2)));
        let second = select(&VERSIONS, &parse(&pairs("_count=2&_cursor=2")).unwrap());
        assert_eq!(second, (vec![1], None));
        assert_eq!(
            select(&VERSIONS, &HistoryRequest::default()),
            (vec![3, 2, 1], None)
        );
    }

    #[test]
    fn since_and_at_follow_when_each_version_was_current() {
        let request = |since, at| HistoryRequest {
            since,
            at,
            ..HistoryRequest::default()
        };
        assert_eq!(select(&VERSIONS, &request(Some(200), None)).0, [3, 2]);
        // At 250, version 2 was current; from 150 to 250, versions 1 and 2 were.
        assert_eq!(select(&VERSIONS, &request(None, Some((250, 250)))).0, [2]);
        assert_eq!(
            select(&VERSIONS, &request(None, Some((150, 250)))).0,
            [2, 1]
        );
        assert_eq!(
            select(&VERSIONS, &request(None, Some((50, 60)))).0,
            Vec::<i64>::new()
        );
        assert_eq!(select(&VERSIONS, &request(None, Some((900, 900)))).0, [3]);
    }

    #[test]
    fn parameters_are_read_or_refused() {
        let r = parse(&pairs("_since=2026-12-07T10:00:00Z&_count=0")).unwrap();
        assert_eq!(r.count, Some(1));
        assert!(r.since.is_some());
        let day = parse(&pairs("_at=2026-12-07")).unwrap().at.unwrap();
        assert_eq!(day.1 - day.0, 86_400_000_000 - 1);
        for bad in [
            "_since=ayer",
            "_at=ge2026",
            "_count=x",
            "_cursor=x",
            "family=x",
        ] {
            assert!(parse(&pairs(bad)).is_err(), "{bad}");
        }
    }
}
