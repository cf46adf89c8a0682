//! `renhice audit verify` on the audit trail a running registry wrote, before and after
//! someone edits one row directly in the database.

use diesel::{Connection, RunQueryDsl};

use crate::{Renhice, command};

fn verify(dir: &std::path::Path, database_url: &str) -> (bool, String) {
    let mut cmd = command(dir);
    cmd.args(["audit", "verify", "--database-url", database_url]);
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        // The status too: a run that printed "intact" and still failed (seen once under
        // a loaded machine) must say how it ended.
        format!(
            "{}{}[{}]",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        ),
    )
}

fn edited_row_is_named(database_url: &str, edit: impl FnOnce()) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
    ]);
    let mut renhice = Renhice::spawn(cmd);
    let base = renhice.base_url();
    let sihce = crate::issue_token(
        dir.path(),
        &["--role", "system", "--organization", "00012345"],
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for family in ["quispe", "mamani", "huaman"] {
            let res = client
                .get(format!("{base}/fhir/Patient?family={family}"))
                .bearer_auth(&sihce)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
        // Refused, and audited too.
        let res = client
            .get(format!("{base}/fhir/Patient?family=x"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    });
    renhice.signal("TERM");
    assert!(renhice.wait_exit().success());

    let (ok, out) = verify(dir.path(), database_url);
    assert!(ok, "{out}");
    assert!(
        out.contains("4 events in the chain") && out.contains("intact"),
        "{out}"
    );
    // Someone with the database owner's rights removes the guard and edits one row.
    edit();
    let (ok, out) = verify(dir.path(), database_url);
    assert!(!ok, "an edited audit trail verified: {out}");
    assert!(
        out.contains("PROBLEM: chain position 2: audit event row seq=2"),
        "{out}"
    );
    assert!(out.contains("altered or moved"), "{out}");
    assert!(out.contains("1 problem(s)"), "{out}");
}

#[cfg(feature = "sqlite")]
#[test]
fn audit_verify_names_a_row_edited_in_sqlite() {
    let db = renhice_testing::TestDb::sqlite();
    let path = db
        .url()
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    edited_row_is_named(db.url(), || {
        let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
        diesel::sql_query("DROP TRIGGER audit_events_no_update")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("UPDATE audit_events SET outcome = '4' WHERE seq = 2")
            .execute(&mut conn)
            .unwrap();
    });
}

#[cfg(feature = "postgres")]
#[test]
fn audit_verify_names_a_row_edited_in_postgres() {
    let db = renhice_testing::TestDb::postgres();
    let url = db.url().to_owned();
    edited_row_is_named(db.url(), || {
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("UPDATE audit_events SET ipress = '00099999' WHERE seq = 2")
            .execute(&mut conn)
            .unwrap();
    });
}
