//! Parsing of database URLs: the scheme alone picks the backend.

use std::fmt;
use std::path::PathBuf;

use crate::backend::Backend;
use crate::error::StoreError;

/// A database URL, checked and split by backend.
///
/// Accepted forms:
/// - `postgres://user:password@host:port/database?…` (also `postgresql://`), passed to libpq
///   unchanged; several hosts, for a replicated cluster, as libpq takes them:
///   `postgres://user@host1:5432,host2:5432/database?target_session_attrs=read-write` (or
///   `?host=host1,host2&port=5432,5432`);
/// - `sqlite://PATH` (relative to the working directory) or `sqlite:///ABSOLUTE/PATH`,
///   optionally followed by `?mode=rw` (the default: the file must exist) or `?mode=rwc`
///   (create the file if it is missing; its directory must exist).
///
/// Anything else, including a path without a scheme, is rejected, so that a typo never
/// turns into a fresh empty database.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL connection URL.
    Postgres(String),
    /// An SQLite database file.
    Sqlite {
        /// Path of the database file.
        path: PathBuf,
        /// Whether a missing file may be created.
        create: bool,
    },
}

impl DatabaseUrl {
    /// Parses and checks a database URL.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: mask_password(url),
            reason: reason.to_owned(),
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(invalid(
                "expected a URL starting with postgres://, postgresql:// or sqlite://",
            ));
        };
        match scheme {
            "postgres" | "postgresql" => {
                // libpq's list of hosts is not a URL authority the `url` crate reads.
                if let Some(hosts) = host_list(rest) {
                    check_hosts(hosts).map_err(|reason| invalid(&reason))?;
                    return Ok(Self::Postgres(url.to_owned()));
                }
                let parsed = ::url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
                if parsed.host_str().is_none_or(str::is_empty)
                    && !parsed.query_pairs().any(|(k, _)| k == "host")
                {
                    return Err(invalid("a PostgreSQL URL needs a host"));
                }
                Ok(Self::Postgres(url.to_owned()))
            }
            "sqlite" => {
                let (path, query) = match rest.split_once('?') {
                    Some((path, query)) => (path, Some(query)),
                    None => (rest, None),
                };
                if path.is_empty() {
                    return Err(invalid(
                        "an SQLite URL needs a file path, e.g. sqlite://renhice.db",
                    ));
                }
                let mut create = false;
                for pair in query
                    .into_iter()
                    .flat_map(|q| q.split('&'))
                    .filter(|p| !p.is_empty())
                {
                    match pair {
                        "mode=rw" => create = false,
                        "mode=rwc" => create = true,
                        other => {
                            return Err(invalid(&format!(
                                "unsupported SQLite URL parameter {other:?} (supported: mode=rw, mode=rwc)"
                            )));
                        }
                    }
                }
                Ok(Self::Sqlite {
                    path: PathBuf::from(path),
                    create,
                })
            }
            other => Err(invalid(&format!(
                "unsupported scheme {other:?}; expected postgres://, postgresql:// or sqlite://"
            ))),
        }
    }

    /// The backend this URL selects.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite { .. } => Backend::Sqlite,
        }
    }
}

/// Shows the URL with its password masked, so it can go into logs and error messages.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(url) => write!(f, "{}", mask_password(url)),
            Self::Sqlite { path, create } => {
                write!(
                    f,
                    "sqlite://{}{}",
                    path.display(),
                    if *create { "?mode=rwc" } else { "" }
                )
            }
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The part of a URL (after `scheme://`) before its path or query.
fn authority(rest: &str) -> (&str, &str) {
    rest.find(['/', '?'])
        .map_or((rest, ""), |i| rest.split_at(i))
}

/// The comma-separated `host:port` list of a multi-host PostgreSQL URL, if it is one.
fn host_list(rest: &str) -> Option<&str> {
    let (authority, _) = authority(rest);
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    hosts.contains(',').then_some(hosts)
}

/// Each host of a list is a name or address, with a port of digits if it has one.
fn check_hosts(hosts: &str) -> Result<(), String> {
    for entry in hosts.split(',') {
        // An IPv6 address is bracketed: `[::1]:5432`.
        let (host, port) = match entry.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((address, after)) => (address, after.strip_prefix(':')),
                None => return Err(format!("unclosed [ in host {entry:?}")),
            },
            None => match entry.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (entry, None),
            },
        };
        if host.is_empty() {
            return Err(format!("an empty host in the host list {hosts:?}"));
        }
        if let Some(port) = port
            && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!("host {entry:?} has an invalid port"));
        }
    }
    Ok(())
}

/// Replaces the password of a URL with `***` (in its user information, and libpq's
/// `password` parameter); leaves strings that are not URLs alone.
pub(crate) fn mask_password(url: &str) -> String {
    let masked = match ::url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one, which this has.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // A multi-host PostgreSQL URL (or a broken one): the user information is what
        // precedes the authority's last `@`.
        Err(_) => match url.split_once("://") {
            Some((scheme, rest)) => {
                let (authority, tail) = authority(rest);
                match authority.rsplit_once('@') {
                    Some((userinfo, hosts)) if userinfo.contains(':') => {
                        let user = userinfo.split_once(':').map_or("", |(u, _)| u);
                        format!("{scheme}://{user}:***@{hosts}{tail}")
                    }
                    _ => url.to_owned(),
                }
            }
            None => url.to_owned(),
        },
    };
    match masked.split_once('?') {
        Some((base, query)) if query.split('&').any(|p| p.starts_with("password=")) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("password=") {
                        "password=***"
                    } else {
                        p
                    }
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        _ => masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls() {
        let url = DatabaseUrl::parse("postgres://u:secret@127.0.0.1:5432/renhice").unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        assert!(!url.to_string().contains("secret"), "{url}");
        assert!(DatabaseUrl::parse("postgresql://localhost/x").is_ok());
        assert!(DatabaseUrl::parse("postgresql:///x?host=/run/postgresql").is_ok());
        assert!(DatabaseUrl::parse("postgres:///x").is_err());
        let url = DatabaseUrl::parse("postgres://u@h?password=secret&sslmode=disable").unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://u@h?password=***&sslmode=disable"
        );
    }

    #[test]
    fn multi_host_postgres_urls_as_libpq_takes_them() {
        let url = DatabaseUrl::parse(
            "postgresql://u:secret@127.0.0.1:55431,127.0.0.1:55432,[::1]:55433/renhice\
             ?target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        assert_eq!(
            url.to_string(),
            "postgresql://u:***@127.0.0.1:55431,127.0.0.1:55432,[::1]:55433/renhice\
             ?target_session_attrs=read-write"
        );
        assert!(DatabaseUrl::parse("postgresql://db1,db2/renhice").is_ok());
        assert!(
            DatabaseUrl::parse("postgresql://h?host=db1,db2&port=5432,5433").is_ok(),
            "libpq's other form"
        );
        for (bad, reason) in [
            ("postgresql://u@h1:5432,:5433/x", "empty host"),
            ("postgresql://h1:54x2,h2/x", "invalid port"),
            ("postgresql://h1,[::1/x", "unclosed"),
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/r.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "data/r.db".into(),
                create: false
            }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/r.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite {
                path: "/var/lib/r.db".into(),
                create: true
            }
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite://r.db?mode=ro").is_err());
    }

    #[test]
    fn mistyped_urls_are_rejected_with_the_reason() {
        for bad in [
            "postgress://localhost/x",
            "renhice.db",
            "sqlite:renhice.db",
            "mysql://x/y",
        ] {
            let err = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("expected") || err.contains("unsupported"),
                "{bad}: {err}"
            );
        }
        let err = DatabaseUrl::parse("postgress://u:pw@h/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw@"), "password leaked: {err}");
    }
}
