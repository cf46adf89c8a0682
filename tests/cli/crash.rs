//! `kill -9` in the middle of a stream of pushes: after a restart every push is there
//! whole or not at all.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Renhice, command};

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{
            "type": {
                "extension": [{
                    "url": "https://www.gob.pe/minsa/RENHICE/fhir/StructureDefinition/pe-pais",
                    "valueCodeableConcept": {"coding": [{"system": "urn:iso:std:iso:3166", "code": "PER"}]}
                }],
                "coding": [{"system": "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IdspersonaPeru", "code": "1"}]
            },
            "value": "45678912"
        }],
        "name": [{"family": "Quispe", "given": ["Rosa"]}]
    })
}

fn ipress() -> Value {
    json!({
        "resourceType": "Organization",
        "identifier": [{
            "type": {"coding": [{"system": "https://www.gob.pe/minsa/RENHICE/fhir/CodeSystem/IPRESSCS", "code": "00012345"}]},
            "value": "00012345"
        }],
        "name": "Hospital Santa Clara",
        "active": true
    })
}

/// Push `n` of 10 documents.
fn push(n: u32, patient: &str, ipress: &str) -> Value {
    let mut entry = vec![json!({
        "fullUrl": format!("urn:uuid:{n:08}-0000-4000-8000-100000000000"),
        "resource": {
            "resourceType": "List",
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.8.{n}")}],
            "status": "current", "mode": "working",
            "subject": {"reference": format!("Patient/{patient}")}
        },
        "request": {"method": "POST", "url": "List"}
    })];
    for d in 0..10 {
        entry.push(json!({
            "fullUrl": format!("urn:uuid:{n:08}-0000-4000-8000-0000000000{d:02}"),
            "resource": {
                "resourceType": "DocumentReference",
                "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:oid:1.2.604.7.{n}.{d}")},
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
                "date": "2026-03-14T10:20:00-05:00",
                "subject": {"reference": format!("Patient/{patient}")},
                "custodian": {"reference": format!("Organization/{ipress}")},
                "content": [{"attachment": {"contentType": "application/pdf", "url": format!("https://sihce.example/{n}/{d}")}}]
            },
            "request": {"method": "POST", "url": "DocumentReference"}
        }));
    }
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entry})
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> Result<Value, reqwest::Error> {
    client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await?
        .json()
        .await
}

/// Pushes the server acknowledges, across the clients, before it is killed.
const PUSHES_BEFORE_THE_KILL: usize = 24;

/// Waits for `n` acknowledged pushes (30 s at most for each).
fn await_acks(acks: &std::sync::mpsc::Receiver<()>, n: usize) {
    for _ in 0..n {
        acks.recv_timeout(Duration::from_secs(30))
            .expect("pushes acknowledged before the kill");
    }
}

fn killed_mid_push_keeps_every_push_whole(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
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
        (renhice, base)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (renhice, base) = start();
    // Tokens from the key directory the server created, as an operator mints them.
    let admin = crate::issue_token(dir.path(), &["--role", "admin"]);
    let sihce = crate::issue_token(
        dir.path(),
        &["--role", "system", "--organization", "00012345"],
    );
    let client = reqwest::Client::new();
    let (patient, ipress) = runtime.block_on(async {
        let p = post(&client, &format!("{base}/fhir/Patient"), &sihce, &patient())
            .await
            .unwrap();
        let o = post(
            &client,
            &format!("{base}/fhir/Organization"),
            &admin,
            &ipress(),
        )
        .await
        .unwrap();
        (
            p["id"].as_str().unwrap().to_owned(),
            o["id"].as_str().unwrap().to_owned(),
        )
    });
    // Eight clients push continuously; the server is killed while they do.
    let (acknowledged, acks) = std::sync::mpsc::channel::<()>();
    let mut tasks = Vec::new();
    for client_no in 0..8_u32 {
        let (base, patient, ipress, client, sihce, acknowledged) = (
            base.clone(),
            patient.clone(),
            ipress.clone(),
            client.clone(),
            sihce.clone(),
            acknowledged.clone(),
        );
        tasks.push(runtime.spawn(async move {
            let mut done = 0_u32;
            for i in 0..1000_u32 {
                let n = client_no * 1000 + i;
                let Ok(answer) = post(
                    &client,
                    &format!("{base}/fhir"),
                    &sihce,
                    &push(n, &patient, &ipress),
                )
                .await
                else {
                    return (done, true);
                };
                // Acknowledged means accepted: a refusal is a defect of this test.
                assert_eq!(answer["resourceType"], "Bundle", "{answer}");
                done += 1;
                let _ = acknowledged.send(());
            }
            (done, false)
        }));
    }
    drop(acknowledged);
    await_acks(&acks, PUSHES_BEFORE_THE_KILL);
    renhice.signal("KILL");
    let mut completed = 0;
    let mut interrupted = 0;
    for task in tasks {
        let (done, cut) = runtime.block_on(task).unwrap();
        completed += done;
        interrupted += u32::from(cut);
    }
    drop(renhice);
    eprintln!("{completed} pushes acknowledged before the kill, {interrupted} clients cut off");
    assert!(completed > 0, "no push completed before the kill");
    assert!(
        interrupted > 0,
        "the kill came after every client had finished"
    );

    // Restarted on the same database: every push is whole or absent.
    let (restarted, base) = start();
    let per_push = documents_per_push(&runtime, &client, &base, &sihce, &patient);
    assert!(
        per_push.len() >= completed as usize,
        "{} pushes stored, {completed} acknowledged",
        per_push.len()
    );
    let partial: Vec<_> = per_push.iter().filter(|(_, count)| **count != 10).collect();
    assert!(partial.is_empty(), "half-written pushes: {partial:?}");
    drop(restarted);
    audit_is_whole(dir.path(), database_url, per_push.len());
}

/// Every stored push has its audit event (written in its transaction), and the audit
/// trail's chain is whole after the kill.
fn audit_is_whole(dir: &std::path::Path, database_url: &str, pushes: usize) {
    let mut verify = command(dir);
    verify.args(["audit", "verify", "--database-url", database_url]);
    let out = verify.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("intact"), "{stdout}");
    assert_eq!(
        audited_pushes(database_url),
        pushes,
        "stored pushes and their successful ITI-65 audit events"
    );
}

/// How many successful ITI-65 pushes the audit trail records.
fn audited_pushes(database_url: &str) -> usize {
    let store = renhice_store::Store::connect_blocking(&renhice_store::DatabaseConfig {
        url: database_url.to_owned(),
        ..renhice_store::DatabaseConfig::default()
    })
    .unwrap();
    let mut count = 0;
    let mut before = None;
    loop {
        let page = store
            .run_blocking(|c| {
                renhice_store::audit::search(
                    c,
                    &renhice_store::audit::AuditFilter::default(),
                    before,
                    1000,
                )
            })
            .unwrap();
        count += page
            .rows
            .iter()
            .filter(|r| r.outcome == "0" && r.action == "C" && r.body.contains("\"ITI-65\""))
            .count();
        match page.next {
            Some(next) => before = Some(next),
            None => return count,
        }
    }
}

/// Pages through ITI-67 search and counts the stored documents of each push.
fn documents_per_push(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    base: &str,
    token: &str,
    patient: &str,
) -> BTreeMap<String, usize> {
    let mut per_push: BTreeMap<String, usize> = BTreeMap::new();
    runtime.block_on(async {
        let mut url =
            format!("{base}/fhir/DocumentReference?patient={patient}&status=current&_count=200");
        loop {
            let page: Value = client
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for e in page["entry"].as_array().into_iter().flatten() {
                let value = e["resource"]["masterIdentifier"]["value"].as_str().unwrap();
                let n = value.rsplit_once('.').unwrap().0.to_owned();
                *per_push.entry(n).or_default() += 1;
            }
            match page["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
            {
                Some(next) => next["url"].as_str().unwrap().clone_into(&mut url),
                None => break,
            }
        }
    });
    per_push
}

#[cfg(feature = "sqlite")]
#[test]
fn a_killed_server_leaves_no_half_written_push_sqlite() {
    let db = renhice_testing::TestDb::sqlite();
    killed_mid_push_keeps_every_push_whole(db.url());
}

#[cfg(feature = "postgres")]
#[test]
fn a_killed_server_leaves_no_half_written_push_postgres() {
    let db = renhice_testing::TestDb::postgres();
    killed_mid_push_keeps_every_push_whole(db.url());
}
