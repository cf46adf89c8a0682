//! Rate limits per client over real HTTP: a 429 with `Retry-After` past the burst, for
//! that client only, audited like every refusal.

use std::time::Duration;

use renhice_server::limits::LimitClock;
use reqwest::StatusCode;

use crate::audit::{auditor, events};
use crate::{HOME_IPRESS, sihce, spawn_with};
use renhice_testing::{TestDb, backend_tests};

async fn a_client_past_its_rate_gets_429_with_retry_after(db: TestDb) {
    // The limiter's time moves only when the test says so.
    let clock = LimitClock::manual();
    let app = spawn_with(&db, |c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 5;
        c.rate_limit_clock = clock.clone();
    })
    .await;
    let base = &app.base;
    let url = format!("{base}/fhir/Patient?family=quispe");
    let santa_clara = app.client(&sihce(HOME_IPRESS));
    for _ in 0..5 {
        assert_eq!(santa_clara.get(&url).await.0, StatusCode::OK);
    }
    let res = santa_clara
        .request(reqwest::Method::GET, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After: {wait}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["issue"][0]["code"], "throttled", "{body}");
    // Another SIHCE is not slowed by the first.
    let loayza = app.client(&sihce("00005938"));
    assert_eq!(loayza.get(&url).await.0, StatusCode::OK);

    // Without an acceptable token, requests count against the address: the same
    // address then gets 429 at the token endpoint too.
    let anonymous = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(anonymous.get(&url).send().await.unwrap().status());
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    let res = anonymous
        .post(format!("{base}/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));

    // Each 429 is audited.
    let (_, all) = app
        .client(&auditor())
        .get(&format!("{base}/fhir/AuditEvent?_count=100"))
        .await;
    let throttled = events(&all)
        .iter()
        .filter(|e| {
            e["outcomeDesc"]
                .as_str()
                .is_some_and(|d| d.contains("too many"))
        })
        .count();
    assert!(throttled >= 2, "{all}");

    // Not before the wait is over...
    clock.advance(Duration::from_millis(1000 * wait - 1));
    assert_eq!(santa_clara.get(&url).await.0, StatusCode::TOO_MANY_REQUESTS);
    // ...and once it is, the first SIHCE is served again.
    clock.advance(Duration::from_millis(1100 * wait));
    assert_eq!(santa_clara.get(&url).await.0, StatusCode::OK);
    app.stop().await;
}

/// One client's refusals are audited as one per window: the first in full, the rest
/// counted in one event once the window is over, in the hash chain like every event.
async fn a_clients_refusals_are_counted_not_recorded_one_by_one(db: TestDb) {
    let clock = LimitClock::manual();
    let app = spawn_with(&db, |c| {
        c.rate_limit_per_second = 0;
        c.rate_limit_clock = clock.clone();
        c.audit_refusal_window_secs = 60;
    })
    .await;
    let base = &app.base;
    let url = format!("{base}/fhir/Patient?family=quispe");
    let anonymous = reqwest::Client::new();
    for _ in 0..30 {
        let res = anonymous.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = || async {
        let (_, all) = app
            .client(&auditor())
            .get(&format!("{base}/fhir/AuditEvent?outcome=4&_count=100"))
            .await;
        events(&all)
            .iter()
            .map(|e| e["outcomeDesc"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(refused().await.len(), 1, "the first refusal, in full");
    // The window closes: the next refusal opens another, and the 29 are counted.
    clock.advance(Duration::from_secs(61));
    let res = anonymous.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let said = refused().await;
    assert_eq!(said.len(), 3, "{said:#?}");
    let counted: Vec<&String> = said.iter().filter(|d| d.contains("more refused")).collect();
    assert_eq!(counted.len(), 1, "{said:#?}");
    assert!(
        counted[0].starts_with("29 more refused requests from 127.0.0.1"),
        "{}",
        counted[0]
    );
    // Still tamper-evident: the chain holds the count.
    let (status, verdict) = app
        .client(&auditor())
        .get(&format!("{base}/fhir/AuditEvent/$verify-chain"))
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    let valid = verdict["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "valid")
        .map(|p| p["valueBoolean"].clone());
    assert_eq!(valid, Some(serde_json::Value::Bool(true)), "{verdict}");
    // Refusals still being counted when the server stops are written as it stops.
    for _ in 0..4 {
        anonymous.get(&url).send().await.unwrap();
    }
    app.stop().await;
    let app = spawn_with(&db, |c| c.rate_limit_per_second = 0).await;
    let (_, all) = app
        .client(&auditor())
        .get(&format!(
            "{}/fhir/AuditEvent?outcome=4&_count=100",
            app.base
        ))
        .await;
    let said: Vec<String> = events(&all)
        .iter()
        .map(|e| e["outcomeDesc"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        said.iter()
            .any(|d| d.starts_with("4 more refused requests")),
        "{said:#?}"
    );
    app.stop().await;
}

backend_tests!(
    a_client_past_its_rate_gets_429_with_retry_after,
    a_clients_refusals_are_counted_not_recorded_one_by_one
);
