//! The audit trail's storage: events roll back with their change, the database refuses
//! edits, and the hash chain names every edit made around it.

use diesel::RunQueryDsl;
use renhice_store::Timestamp;
use renhice_store::audit::{self, NewAuditEvent, Problem};
use renhice_store::resources::{self, NewVersion, SearchIndex};
use renhice_store::{DbConnection, Store};
use renhice_testing::{TestDb, backend_tests};

use crate::config;

fn event(n: u32, patient: Option<&str>) -> NewAuditEvent {
    NewAuditEvent {
        id: format!("00000000-0000-4000-8000-{n:012}"),
        recorded: 1_700_000_000_000_000 + i64::from(n),
        patient_id: patient.map(str::to_owned),
        ipress: Some("00012345".to_owned()),
        role: Some("clinician".to_owned()),
        action: "R".to_owned(),
        outcome: "0".to_owned(),
        body: format!("{{\"resourceType\":\"AuditEvent\",\"id\":\"{n}\"}}"),
        agent_name: None,
    }
}

fn sql(conn: &mut DbConnection, statement: &str) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(statement).execute(conn)
}

/// What someone with the database owner's rights does first to edit the trail.
fn remove_the_guards(conn: &mut DbConnection, backend: &str) {
    let statements: &[&str] = if backend == "postgres" {
        &[
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "ALTER TABLE audit_chain DISABLE TRIGGER USER",
        ]
    } else {
        &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
            "DROP TRIGGER audit_chain_no_update",
            "DROP TRIGGER audit_chain_no_delete",
        ]
    };
    for s in statements {
        sql(conn, s).unwrap();
    }
}

/// Seals until nothing waits (on PostgreSQL, a transaction of another test's database
/// may hold the horizon back a moment) and verifies.
async fn sealed(store: &Store) -> audit::Verification {
    for _ in 0..100 {
        store.run(audit::seal_all).await.unwrap();
        let report = store.run(audit::verify).await.unwrap();
        if report.pending == 0 {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("events still waiting for their seal after 5 s");
}

async fn an_audit_event_commits_or_rolls_back_with_its_change(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let write = |version: i64, n: u32| {
        let store = store.clone();
        async move {
            store
                .run(move |conn| {
                    resources::write_all_audited(
                        conn,
                        &[NewVersion {
                            resource_type: "Patient",
                            id: "p1",
                            version_id: version,
                            last_updated: Timestamp::from_micros(1),
                            body: Some("{}"),
                            index: &SearchIndex::default(),
                            unique_keys: &[],
                            record: None,
                            grants: &[],
                        }],
                        &[event(n, Some("p1"))],
                    )
                    .map_err(|(_, e)| e)
                })
                .await
        }
    };
    write(1, 1).await.unwrap();
    // A stale version: refused, and its audit event with it.
    write(1, 2).await.unwrap_err();
    let page = store
        .run(|c| audit::search(c, &audit::AuditFilter::default(), None, 10))
        .await
        .unwrap();
    let ids: Vec<&str> = page.rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [event(1, None).id.as_str()]);
}

async fn the_chain_names_every_edit_made_around_the_database_s_guards(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let events: Vec<NewAuditEvent> = (1..=6).map(|n| event(n, Some("p1"))).collect();
    store
        .run(move |c| audit::append_now(c, &events))
        .await
        .unwrap();
    let report = sealed(&store).await;
    assert_eq!(report.links, 6);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.head.0, 6);

    // The database refuses edits of events and links.
    let backend = db.backend_name();
    store
        .run(move |conn| {
            for statement in [
                "UPDATE audit_events SET body = '{}' WHERE seq = 2",
                "DELETE FROM audit_events WHERE seq = 2",
                "UPDATE audit_chain SET hash = digest WHERE position = 1",
                "DELETE FROM audit_chain WHERE position = 1",
            ] {
                let refused = sql(conn, statement).unwrap_err().to_string();
                assert!(refused.contains("append-only"), "{statement}: {refused}");
            }
            Ok(())
        })
        .await
        .unwrap();

    // Someone removes the guards and edits: each edit is named.
    store
        .run(move |conn| {
            remove_the_guards(conn, backend);
            // Altered: an event's content.
            sql(
                conn,
                "UPDATE audit_events SET body = \
                     '{\"resourceType\":\"AuditEvent\",\"id\":\"forged\"}' WHERE seq = 2",
            )
            .unwrap();
            // Reordered: two events swap places.
            sql(conn, "UPDATE audit_events SET seq = -5 WHERE seq = 5").unwrap();
            sql(conn, "UPDATE audit_events SET seq = 5 WHERE seq = 4").unwrap();
            sql(conn, "UPDATE audit_events SET seq = 4 WHERE seq = -5").unwrap();
            // Removed: an event, and a link.
            sql(conn, "DELETE FROM audit_events WHERE seq = 6").unwrap();
            sql(conn, "DELETE FROM audit_chain WHERE position = 3").unwrap();
            // A link's hash changed.
            sql(
                conn,
                "UPDATE audit_chain SET hash = digest WHERE position = 1",
            )
            .unwrap();
            Ok(())
        })
        .await
        .unwrap();
    let report = store.run(audit::verify).await.unwrap();
    let id = |n: u32| event(n, None).id;
    let expected = [
        Problem::LinkBroken { position: 1 },
        Problem::Altered {
            position: 2,
            seq: 2,
            id: id(2),
        },
        Problem::Missing { from: 3, to: 3 },
        Problem::Altered {
            position: 4,
            seq: 4,
            id: id(5),
        },
        Problem::Altered {
            position: 5,
            seq: 5,
            id: id(4),
        },
        Problem::Removed {
            position: 6,
            seq: 6,
        },
        Problem::Unsealed { seq: 3, id: id(3) },
    ];
    assert_eq!(report.problems, expected, "{:#?}", report.problems);
    // Each is said in words that name the row.
    assert!(
        report.problems[1].to_string().contains("seq=2"),
        "{}",
        report.problems[1]
    );
}

async fn concurrent_writers_and_sealers_make_one_chain(db: TestDb) {
    let store = Store::connect(&config(db.url())).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4_u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..10_u32 {
                let events: Vec<NewAuditEvent> = (0..25)
                    .map(|i| event(w * 10_000 + b * 100 + i, Some("p")))
                    .collect();
                store
                    .run(move |c| audit::append_now(c, &events))
                    .await
                    .unwrap();
                store.run(audit::seal_all).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let report = sealed(&store).await;
    assert_eq!(report.links, 1000);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // A patient's events, newest first, in pages that do not overlap.
    let first = store
        .run(|c| {
            let filter = audit::AuditFilter {
                patients: Some(vec!["p".to_owned()]),
                ..audit::AuditFilter::default()
            };
            audit::search(c, &filter, None, 600)
        })
        .await
        .unwrap();
    let rest = store
        .run(move |c| {
            let filter = audit::AuditFilter {
                patients: Some(vec!["p".to_owned()]),
                ..audit::AuditFilter::default()
            };
            audit::search(c, &filter, first.next, 600)
        })
        .await
        .unwrap();
    assert_eq!(rest.rows.len(), 400);
    assert!(rest.next.is_none());
}

backend_tests!(
    an_audit_event_commits_or_rolls_back_with_its_change,
    the_chain_names_every_edit_made_around_the_database_s_guards,
    concurrent_writers_and_sealers_make_one_chain
);
