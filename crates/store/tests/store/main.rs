//! Integration tests of the store against real PostgreSQL and SQLite databases.

#![allow(missing_docs, reason = "tests")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed step must stop the test"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test tells its story from start to end in one function"
)]

use renhice_store::Timestamp;
use renhice_store::resources::{self, NewVersion, SearchIndex, TokenEntry};
use renhice_store::{DatabaseConfig, Store, StoreError};
use renhice_testing::{TestDb, backend_tests};

mod audit;
#[cfg(feature = "postgres")]
mod plans;

fn config(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        url: url.to_owned(),
        ..DatabaseConfig::default()
    }
}

fn identifier(code: &str) -> SearchIndex {
    SearchIndex {
        tokens: vec![TokenEntry {
            param: "identifier".into(),
            system: Some("urn:pe:dni".into()),
            code: code.into(),
        }],
        ..SearchIndex::default()
    }
}

async fn write(
    store: &Store,
    id: &str,
    version_id: i64,
    body: Option<&str>,
    index: SearchIndex,
) -> Result<(), StoreError> {
    write_keyed(store, id, version_id, body, index, &[]).await
}

async fn write_keyed(
    store: &Store,
    id: &str,
    version_id: i64,
    body: Option<&str>,
    index: SearchIndex,
    keys: &[&str],
) -> Result<(), StoreError> {
    let (id, body) = (id.to_owned(), body.map(str::to_owned));
    let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    store
        .run(move |conn| {
            resources::write_version(
                conn,
                &NewVersion {
                    resource_type: "Patient",
                    id: &id,
                    version_id,
                    last_updated: Timestamp::from_micros(1_700_000_000_000_000 + version_id),
                    body: body.as_deref(),
                    index: &index,
                    unique_keys: &keys,
                    record: None,
                    grants: &[],
                },
            )
        })
        .await
}

async fn migrates_from_empty(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let applied = store.run(renhice_store::applied_migrations).await.unwrap();
    assert!(!applied.is_empty());
    assert_eq!(applied, renhice_store::expected_migrations());
    store.check_ready().await.unwrap();
    // A second start finds the schema current and applies nothing.
    let again = Store::connect(&config(db.url())).await.unwrap();
    assert_eq!(
        again.run(renhice_store::applied_migrations).await.unwrap(),
        applied
    );
    assert_eq!(store.backend().name(), db.backend_name());
}

async fn writes_versions_reads_history_and_refuses_stale_versions(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    write(&store, "p1", 1, Some(r#"{"v":1}"#), identifier("12345678"))
        .await
        .unwrap();
    write(&store, "p1", 2, Some(r#"{"v":2}"#), identifier("87654321"))
        .await
        .unwrap();

    let current = store
        .run(|c| resources::read(c, "Patient", "p1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (current.version_id, current.body.as_deref()),
        (2, Some(r#"{"v":2}"#))
    );
    let first = store
        .run(|c| resources::read_version(c, "Patient", "p1", 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.body.as_deref(), Some(r#"{"v":1}"#));
    let history = store
        .run(|c| resources::history(c, "Patient", "p1"))
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|r| r.version_id).collect::<Vec<_>>(),
        vec![2, 1]
    );

    // The index follows the current version only.
    let by_new = store
        .run(|c| {
            resources::find_by_token(c, "Patient", "identifier", Some("urn:pe:dni"), "87654321")
        })
        .await
        .unwrap();
    assert_eq!(by_new, vec!["p1".to_owned()]);
    let by_old = store
        .run(|c| resources::find_by_token(c, "Patient", "identifier", None, "12345678"))
        .await
        .unwrap();
    assert!(by_old.is_empty());

    // Writing version 2 again (a stale update) and re-creating are conflicts.
    let stale = write(&store, "p1", 2, Some("{}"), SearchIndex::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            StoreError::VersionConflict {
                expected: 1,
                current: 2,
                ..
            }
        ),
        "{stale}"
    );
    let dup = write(&store, "p1", 1, Some("{}"), SearchIndex::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            dup,
            StoreError::VersionConflict {
                expected: 0,
                current: 2,
                ..
            }
        ),
        "{dup}"
    );

    // A deletion is a version without a body and drops the resource from searches.
    write(&store, "p1", 3, None, identifier("87654321"))
        .await
        .unwrap();
    let deleted = store
        .run(|c| resources::read(c, "Patient", "p1"))
        .await
        .unwrap()
        .unwrap();
    assert!(deleted.deleted && deleted.body.is_none());
    let gone = store
        .run(|c| resources::find_by_token(c, "Patient", "identifier", None, "87654321"))
        .await
        .unwrap();
    assert!(gone.is_empty());
}

async fn a_unique_key_has_one_holder_and_follows_the_current_version(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let dni = "1|PER|45678912";
    write_keyed(&store, "p1", 1, Some("{}"), identifier("45678912"), &[dni])
        .await
        .unwrap();
    // A second patient with the same document is refused, and nothing of it is kept.
    let taken = write_keyed(&store, "p2", 1, Some("{}"), identifier("45678912"), &[dni])
        .await
        .unwrap_err();
    assert!(
        matches!(
            &taken,
            StoreError::UniqueKeyTaken { key, holder, .. } if key == dni && holder == "p1"
        ),
        "{taken}"
    );
    assert!(
        store
            .run(|c| resources::read(c, "Patient", "p2"))
            .await
            .unwrap()
            .is_none()
    );
    let found = store
        .run(|c| resources::find_by_token(c, "Patient", "identifier", None, "45678912"))
        .await
        .unwrap();
    assert_eq!(found, vec!["p1".to_owned()]);
    // A new version of p1 with another document releases the first one.
    write_keyed(
        &store,
        "p1",
        2,
        Some("{}"),
        SearchIndex::default(),
        &["1|PER|11111111"],
    )
    .await
    .unwrap();
    write_keyed(&store, "p2", 1, Some("{}"), SearchIndex::default(), &[dni])
        .await
        .unwrap();
    assert_eq!(
        store
            .run(move |c| resources::key_holder(c, "Patient", dni))
            .await
            .unwrap()
            .as_deref(),
        Some("p2")
    );
    // A deletion releases the keys; keys are per resource type.
    write_keyed(
        &store,
        "p1",
        3,
        None,
        SearchIndex::default(),
        &["1|PER|11111111"],
    )
    .await
    .unwrap();
    write_keyed(
        &store,
        "p3",
        1,
        Some("{}"),
        SearchIndex::default(),
        &["1|PER|11111111"],
    )
    .await
    .unwrap();
    let other_type = store
        .run(|c| {
            resources::write_version(
                c,
                &NewVersion {
                    resource_type: "Organization",
                    id: "o1",
                    version_id: 1,
                    last_updated: Timestamp::from_micros(1),
                    body: Some("{}"),
                    index: &SearchIndex::default(),
                    unique_keys: &["1|PER|11111111".to_owned()],
                    record: None,
                    grants: &[],
                },
            )
        })
        .await;
    assert!(other_type.is_ok(), "{other_type:?}");
}

async fn a_batch_is_written_whole_or_not_at_all(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    write_keyed(
        &store,
        "holder",
        1,
        Some(r#"{"h":1}"#),
        identifier("1"),
        &["1|PER|00000009"],
    )
    .await
    .unwrap();
    // Everything a batch could touch, as text, to compare before and after.
    let dump = |store: Store| async move {
        store
            .run(|c| {
                let mut out = Vec::new();
                for id in ["holder", "a", "b", "c"] {
                    out.push(format!("{:?}", resources::history(c, "Patient", id)?));
                    out.push(format!(
                        "{:?}",
                        resources::find_by_token(c, "Patient", "identifier", None, id)?
                    ));
                }
                out.push(format!(
                    "{:?}",
                    resources::key_holder(c, "Patient", "1|PER|00000009")?
                ));
                out.push(format!(
                    "{:?}",
                    resources::key_holder(c, "Patient", "1|PER|00000001")?
                ));
                Ok(out)
            })
            .await
            .unwrap()
    };
    let before = dump(store.clone()).await;
    let failed = store
        .run(|c| {
            let (ia, ib, ic) = (identifier("a"), identifier("b"), identifier("c"));
            let (ka, kc) = (
                vec!["1|PER|00000001".to_owned()],
                vec!["1|PER|00000009".to_owned()],
            );
            let write = |id, index, keys| NewVersion {
                resource_type: "Patient",
                id,
                version_id: 1,
                last_updated: Timestamp::from_micros(5),
                body: Some("{}"),
                index,
                unique_keys: keys,
                record: None,
                grants: &[],
            };
            Ok(resources::write_all(
                c,
                &[
                    write("a", &ia, &ka),
                    write("b", &ib, &[]),
                    write("c", &ic, &kc),
                ],
            ))
        })
        .await
        .unwrap();
    let (at, error) = failed.unwrap_err();
    assert_eq!(at, 2);
    assert!(
        matches!(error, StoreError::UniqueKeyTaken { ref holder, .. } if holder == "holder"),
        "{error}"
    );
    assert_eq!(dump(store.clone()).await, before);
    // The same batch without the conflicting key is written whole.
    store
        .run(|c| {
            let (ia, ib) = (identifier("a"), identifier("b"));
            let write = |id, index| NewVersion {
                resource_type: "Patient",
                id,
                version_id: 1,
                last_updated: Timestamp::from_micros(5),
                body: Some("{}"),
                index,
                unique_keys: &[],
                record: None,
                grants: &[],
            };
            resources::write_all(c, &[write("a", &ia), write("b", &ib)]).map_err(|(_, e)| e)
        })
        .await
        .unwrap();
    assert_ne!(dump(store).await, before);
}

async fn concurrent_claims_of_one_key_let_exactly_one_win(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            write_keyed(
                &store,
                &format!("p{n}"),
                1,
                Some("{}"),
                SearchIndex::default(),
                &["1|PER|00000001"],
            )
            .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::UniqueKeyTaken { .. }) => {}
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(won, 1);
}

async fn concurrent_creates_of_one_id_let_exactly_one_win(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            write(
                &store,
                "race",
                1,
                Some(&format!(r#"{{"n":{n}}}"#)),
                SearchIndex::default(),
            )
            .await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::VersionConflict { .. }) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won, 1);
    let history = store
        .run(|c| resources::history(c, "Patient", "race"))
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
}

async fn a_failed_write_leaves_nothing_behind(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    // The date range violates the table's CHECK (low <= high) after the resource and
    // version rows were written: the whole write must roll back.
    let bad = SearchIndex {
        dates: vec![resources::DateEntry {
            param: "birthdate".into(),
            low: 10,
            high: 1,
        }],
        ..SearchIndex::default()
    };
    let err = write(&store, "p2", 1, Some("{}"), bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Query(_)), "{err}");
    assert!(
        store
            .run(|c| resources::read(c, "Patient", "p2"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .run(|c| resources::lookup_version(c, "Patient", "p2"))
            .await
            .unwrap(),
        None
    );
    // And the id is still free.
    write(&store, "p2", 1, Some("{}"), SearchIndex::default())
        .await
        .unwrap();
}

async fn refuses_a_database_migrated_by_a_newer_build(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    store
        .run(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query(
                "INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000000')",
            )
            .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(matches!(
        store.check_ready().await,
        Err(StoreError::SchemaMismatch(_))
    ));
    let err = Store::connect(&config(db.url())).await.unwrap_err();
    assert!(err.to_string().contains("newer renhice"), "{err}");
}

/// A parameter added after resources were written is indexed for them once: only its
/// values, only for current resources, and the version moves in order.
async fn an_index_upgrade_indexes_what_was_written_before_once(db: TestDb) {
    use diesel::prelude::*;
    use renhice_store::resources::StringEntry;
    use renhice_store::schema::{search_strings, search_tokens};

    let store = Store::connect(&config(db.url())).await.unwrap();
    write(&store, "p1", 1, Some("Rosa"), identifier("12345678"))
        .await
        .unwrap();
    write(&store, "p1", 2, Some("Rosa Quispe"), identifier("12345678"))
        .await
        .unwrap();
    write(&store, "p2", 1, Some("Ana"), identifier("87654321"))
        .await
        .unwrap();
    write(&store, "p2", 2, None, SearchIndex::default())
        .await
        .unwrap();
    assert_eq!(store.run(renhice_store::reindex::version).await.unwrap(), 1);

    // The index of a body: the new parameter's values, and one of another parameter that
    // the upgrade must leave alone.
    let index = |body: &str| SearchIndex {
        strings: vec![StringEntry {
            param: "nombre".into(),
            value: body.to_lowercase(),
        }],
        tokens: vec![TokenEntry {
            param: "identifier".into(),
            system: None,
            code: "not-this".into(),
        }],
        ..SearchIndex::default()
    };
    let done = store
        .run(move |c| renhice_store::reindex::backfill(c, 2, "Patient", "nombre", &index))
        .await
        .unwrap();
    assert_eq!(done, Some(1), "the current p1 only: p2 is deleted");
    let names: Vec<String> = store
        .run(|c| {
            Ok(search_strings::table
                .filter(search_strings::param.eq("nombre"))
                .select(search_strings::value)
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(names, ["rosa quispe"]);
    let codes: Vec<String> = store
        .run(|c| {
            Ok(search_tokens::table
                .filter(search_tokens::param.eq("identifier"))
                .select(search_tokens::code)
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(codes, ["12345678"], "other parameters are left as written");
    assert_eq!(store.run(renhice_store::reindex::version).await.unwrap(), 2);

    // Once only; and in order.
    let again = store
        .run(move |c| renhice_store::reindex::backfill(c, 2, "Patient", "nombre", &index))
        .await
        .unwrap();
    assert_eq!(again, None);
    let skipped = store
        .run(move |c| renhice_store::reindex::backfill(c, 4, "Patient", "nombre", &index))
        .await;
    assert!(
        matches!(skipped, Err(StoreError::SchemaMismatch(_))),
        "{skipped:?}"
    );
    assert_eq!(store.run(renhice_store::reindex::version).await.unwrap(), 2);
}

/// A run left `running` without a heartbeat for long is marked stopped, with why; a live
/// one is not; its tests move only while it runs; a completed run keeps its reports.
async fn accreditation_runs_move_and_abandoned_ones_stop(db: TestDb) {
    use renhice_store::accreditation::{self as runs, Reports, Run};
    let store = Store::connect(&config(db.url())).await.unwrap();
    let run = |id: &str, heartbeat_at: i64| Run {
        id: id.to_owned(),
        suite: "sihce-basico".into(),
        title: "SIHCE".into(),
        target: "https://sihce.example/fhir".into(),
        auditor: "Ana".into(),
        auditor_subject: "ana".into(),
        status: runs::RUNNING.into(),
        verdict: None,
        variables: "{}".into(),
        total: 2,
        tests: "[]".into(),
        started_at: heartbeat_at,
        heartbeat_at,
        finished_at: None,
        error: None,
    };
    let (old, live) = (run("old", 1_000), run("live", 9_000));
    store
        .run(move |c| {
            runs::start(c, &old)?;
            runs::start(c, &live)
        })
        .await
        .unwrap();
    let stopped = store
        .run(|c| runs::stop_abandoned(c, 5_000, "the registry stopped", 10_000))
        .await
        .unwrap();
    assert_eq!(stopped, 1);
    let (old, live) = store
        .run(|c| {
            Ok((
                runs::find(c, "old")?.unwrap(),
                runs::find(c, "live")?.unwrap(),
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        (old.status.as_str(), old.error.as_deref()),
        (runs::STOPPED, Some("the registry stopped"))
    );
    assert_eq!(live.status, runs::RUNNING);
    // A stopped run's progress no longer moves; a live one's does, then it completes.
    store
        .run(|c| {
            runs::progress(c, "old", r#"[{"id":"a"}]"#, 11_000)?;
            runs::progress(c, "live", r#"[{"id":"a"}]"#, 11_000)
        })
        .await
        .unwrap();
    let reports = Reports {
        test_report: "{}".into(),
        junit: "<testsuite/>".into(),
        html: "<html></html>".into(),
    };
    store
        .run(move |c| {
            runs::complete(
                c,
                "live",
                r#"[{"id":"a"},{"id":"b"}]"#,
                "pass",
                &reports,
                12_000,
            )
        })
        .await
        .unwrap();
    let (old, live, kept, none) = store
        .run(|c| {
            Ok((
                runs::find(c, "old")?.unwrap(),
                runs::find(c, "live")?.unwrap(),
                runs::reports(c, "live")?,
                runs::reports(c, "old")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(old.tests, "[]");
    assert_eq!(
        (
            live.status.as_str(),
            live.verdict.as_deref(),
            live.finished_at
        ),
        (runs::COMPLETED, Some("pass"), Some(12_000))
    );
    assert_eq!(kept.unwrap().junit, "<testsuite/>");
    assert!(none.is_none());
    let listed = store.run(|c| runs::list(c, 10)).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["live", "old"],
        "newest first"
    );
}

/// A name search is a prefix, run as a range of code points: exactly the values that start
/// with it, whatever characters either holds (LIKE's wildcards, letters beyond ASCII, the
/// last code point there is), on both backends.
async fn a_name_prefix_finds_exactly_the_values_that_start_with_it(db: TestDb) {
    use renhice_store::resources::StringEntry;
    use renhice_store::search::{self, Criterion, Cursor, Match, Order};
    let store = Store::connect(&config(db.url())).await.unwrap();
    let names = [
        "gar%cia",
        "gar_x",
        "garz",
        "gas",
        "ga",
        "ñandu",
        "ñu",
        "nu",
        "o\u{10FFFF}",
        "o\u{10FFFF}a",
        "p",
    ];
    for (i, name) in names.iter().enumerate() {
        let index = SearchIndex {
            strings: vec![StringEntry {
                param: "family".into(),
                value: (*name).to_owned(),
            }],
            ..SearchIndex::default()
        };
        write(&store, &format!("p{i}"), 1, Some("{}"), index)
            .await
            .unwrap();
    }
    for prefix in ["gar%", "gar_", "gar", "g", "ñ", "o\u{10FFFF}", "o", "zz"] {
        let criteria = vec![Criterion {
            param: "family".into(),
            values: vec![Match::StringPrefix(prefix.to_owned())],
            narrow: false,
        }];
        let page = store
            .run(move |conn| {
                search::search(conn, "Patient", &criteria, Order::Key, Cursor::Start, 50)
            })
            .await
            .unwrap();
        let found: Vec<&str> = page
            .rows
            .iter()
            .map(|row| names[row.1[1..].parse::<usize>().unwrap()])
            .collect();
        let expected: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| n.starts_with(prefix))
            .collect();
        assert_eq!(
            found,
            expected,
            "family={prefix:?} on {}",
            db.backend_name()
        );
    }
}

backend_tests!(
    a_name_prefix_finds_exactly_the_values_that_start_with_it,
    accreditation_runs_move_and_abandoned_ones_stop,
    an_index_upgrade_indexes_what_was_written_before_once,
    migrates_from_empty,
    writes_versions_reads_history_and_refuses_stale_versions,
    a_unique_key_has_one_holder_and_follows_the_current_version,
    a_batch_is_written_whole_or_not_at_all,
    concurrent_claims_of_one_key_let_exactly_one_win,
    concurrent_creates_of_one_id_let_exactly_one_win,
    a_failed_write_leaves_nothing_behind,
    refuses_a_database_migrated_by_a_newer_build
);

#[test]
fn mistyped_urls_are_clear_errors() {
    for (url, expected) in [
        ("postgress://localhost/renhice", "unsupported scheme"),
        ("renhice.db", "expected a URL"),
        ("sqlite://", "needs a file path"),
    ] {
        let err = Store::connect_blocking(&config(url))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{url}: {err}");
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn a_missing_sqlite_file_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renhcie.db");
    let err =
        Store::connect_blocking(&config(&format!("sqlite://{}", path.display()))).unwrap_err();
    assert!(matches!(err, StoreError::SqliteFileMissing { .. }), "{err}");
    assert!(
        err.to_string().contains("?mode=rwc"),
        "the error says how to create one: {err}"
    );
    assert!(!path.exists(), "no empty database was created");

    let nested = dir.path().join("no-such-dir").join("renhice.db");
    let err = Store::connect_blocking(&config(&format!("sqlite://{}?mode=rwc", nested.display())))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SqliteDirectoryMissing { .. }),
        "{err}"
    );
    assert!(!nested.parent().unwrap().exists());
}

#[cfg(feature = "postgres")]
#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[cfg(feature = "postgres")]
#[test]
fn a_missing_postgres_database_is_an_error_and_is_not_created() {
    use diesel::RunQueryDsl;
    let server = renhice_testing::postgres_server_url();
    let name = format!("renhice_missing_{}", std::process::id());
    let url = match server.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("unexpected server URL {server}"),
    };
    let err = Store::connect_blocking(&config(&url)).unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");

    let mut admin = renhice_testing::postgres_admin_connection();
    let count: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
    ))
    .get_result(&mut admin)
    .unwrap();
    assert_eq!(count.n, 0, "no database was created");
}

#[cfg(feature = "postgres")]
#[test]
fn readiness_fails_when_the_postgres_database_is_gone() {
    renhice_testing::block_on(async {
        let db = renhice_testing::TestDb::postgres();
        let store = Store::connect(&DatabaseConfig {
            connect_timeout_secs: 1,
            ..config(db.url())
        })
        .await
        .unwrap();
        store.check_ready().await.unwrap();
        db.drop_now();
        let err = store.check_ready().await.unwrap_err();
        assert!(
            matches!(err, StoreError::Pool(_) | StoreError::Query(_)),
            "{err}"
        );
    });
}

/// After PostgreSQL ends the pool's sessions (a restart, a failover), each dead connection
/// fails at most the one request that meets it and is replaced: no health check runs
/// before each use, and the pool still heals.
#[test]
fn dead_postgres_connections_are_replaced_after_one_failure() {
    renhice_testing::block_on(async {
        let db = renhice_testing::TestDb::postgres();
        let store = Store::connect(&DatabaseConfig {
            pool_size: 3,
            ..config(db.url())
        })
        .await
        .unwrap();
        // Open all three connections at once: each use holds its connection until all
        // three are held.
        let all_held = std::sync::Arc::new(std::sync::Barrier::new(3));
        let busy: Vec<_> = (0..3)
            .map(|_| {
                let (store, all_held) = (store.clone(), all_held.clone());
                tokio::spawn(async move {
                    store
                        .run(move |c| {
                            all_held.wait();
                            resources::lookup_version(c, "Patient", "x")
                        })
                        .await
                })
            })
            .collect();
        for task in busy {
            task.await.unwrap().unwrap();
        }
        db.disconnect_all();
        let mut failures = 0;
        for _ in 0..10 {
            if store
                .run(|c| resources::lookup_version(c, "Patient", "x"))
                .await
                .is_err()
            {
                failures += 1;
            }
        }
        assert!((1..=3).contains(&failures), "{failures} failures");
        // Healed: every later request succeeds.
        for _ in 0..10 {
            store
                .run(|c| resources::lookup_version(c, "Patient", "x"))
                .await
                .unwrap();
        }
    });
}
