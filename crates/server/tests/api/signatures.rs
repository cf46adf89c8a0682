//! The signature policy on pushes: signed pushes verified against a test PKI, refusals
//! that name the failing check and store nothing, verdicts kept with the entries.

use std::path::Path;

use renhice_model::resources::{Bundle, Provenance, ProvenanceAgent, Resource};
use renhice_model::types::Reference;
use renhice_server::signatures::{SignaturePolicy, VERIFICATION_URL};
use renhice_signature::Target;
use renhice_signature::sign::{self, SignOptions, SignatureFormat, SigningKey};
use renhice_testing::pki::{OcspStatus, TestPki, openssl_ocsp_response, serve_files};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::push::{identities, push};
use crate::{Api, HOME_IPRESS, sihce, spawn_with};
use renhice_testing::{TestDb, backend_tests};

/// A PKI valid now (the registry verifies at its own clock), written to `dir`.
fn pki_in(dir: &Path) -> TestPki {
    let pki = TestPki::generate(OffsetDateTime::now_utc());
    pki.write_to(dir).unwrap();
    pki
}

/// `bundle` with a Provenance entry, signed by `case`, over every DocumentReference.
fn signed(bundle: &Value, pki: &TestPki, case: &str) -> Value {
    let Resource::Bundle(mut model) = Resource::from_json(bundle.to_string().as_bytes()).unwrap()
    else {
        unreachable!()
    };
    let signer = pki.signer(case);
    let key =
        SigningKey::from_pem(signer.cert.key.pem.as_bytes(), signer.chain_pem.as_bytes()).unwrap();
    add_provenance(&mut model, &key, &signer.dni);
    serde_json::from_str(&Resource::Bundle(model).to_json_string()).unwrap()
}

fn add_provenance(bundle: &mut Bundle, key: &SigningKey, dni: &str) {
    let targets: Vec<(String, Resource)> = bundle
        .entry
        .iter()
        .filter(|entry| matches!(entry.resource, Some(Resource::DocumentReference(_))))
        .map(|entry| {
            (
                entry.full_url.as_ref().unwrap().value.clone().unwrap(),
                entry.resource.clone().unwrap(),
            )
        })
        .collect();
    let who = Reference::by_identifier(
        renhice_model::peru::PersonId::dni(dni)
            .unwrap()
            .to_identifier(),
    );
    let signing_time = OffsetDateTime::now_utc() - Duration::minutes(1);
    let mut provenance = Provenance {
        target: targets.iter().map(|(url, _)| Reference::url(url)).collect(),
        recorded: Some(renhice_model::Primitive::new(
            renhice_model::values::Instant::parse(renhice_signature::datetime::rfc3339(
                signing_time,
            ))
            .unwrap(),
        )),
        agent: vec![ProvenanceAgent {
            who: Some(Box::new(who.clone())),
            ..ProvenanceAgent::default()
        }],
        ..Provenance::default()
    };
    let options = SignOptions {
        format: SignatureFormat::Jose,
        algorithm: None,
        signing_time,
        who,
        commitment: None,
        canonicalization: None,
    };
    let targets: Vec<_> = targets
        .iter()
        .map(|(reference, resource)| Target {
            reference,
            resource,
        })
        .collect();
    sign::sign_provenance(&mut provenance, &targets, key, &options).unwrap();
    let entry = json!({
        "fullUrl": "urn:uuid:99999999-9999-4999-8999-999999999999",
        "resource": serde_json::from_str::<Value>(&Resource::Provenance(Box::new(provenance)).to_json_string()).unwrap(),
        "request": {"method": "POST", "url": "Provenance"}
    });
    bundle.entry.push(serde_json::from_value(entry).unwrap());
}

/// The verdicts kept in an entry's `meta`.
fn verdicts(resource: &Value) -> Vec<Value> {
    resource["meta"]["extension"]
        .as_array()
        .map(|extensions| {
            extensions
                .iter()
                .filter(|e| e["url"] == VERIFICATION_URL)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn part<'a>(verdict: &'a Value, name: &str) -> Vec<&'a Value> {
    verdict["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|part| part["url"] == name)
        .collect()
}

fn configure(
    dir: &Path,
    policy: SignaturePolicy,
    crls: bool,
) -> impl FnOnce(&mut renhice_server::ServerConfig) {
    let dir = dir.to_owned();
    move |config| {
        config.signature_policy = policy;
        config.signature_trust_dir = dir.join("trust");
        // The test PKI's distribution points are not served here (see the fetching test).
        config.signature_crl_refresh_secs = 0;
        config.signature_crl_cache_dir = dir.join("crl-cache");
        if crls {
            config.signature_crl_files =
                vec![dir.join("crl/root.crl"), dir.join("crl/intermediate.crl")];
        }
    }
}

/// The entries current for `patient`, as `api`'s caller finds them.
async fn stored_documents(api: &Api, base: &str, patient: &str) -> usize {
    let (status, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={patient}&status=current"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    found["entry"].as_array().map_or(0, Vec::len)
}

async fn under_require_a_passing_signature_is_stored_with_its_verdict(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let app = spawn_with(&db, configure(dir.path(), SignaturePolicy::Require, true)).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.70", &[1, 2]),
        &pki,
        "good",
    );
    let (status, answer) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let document = answer["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let provenance = answer["entry"][3]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    assert!(provenance.starts_with("Provenance/"), "{answer}");

    // Read back: the verdict is kept with the entry and names the Provenance.
    let (_, stored) = api.get(&format!("{base}/fhir/{document}")).await;
    let verdict = verdicts(&stored);
    assert_eq!(verdict.len(), 1, "{stored}");
    assert_eq!(part(&verdict[0], "indication")[0]["valueCode"], "PASSED");
    assert_eq!(part(&verdict[0], "policy")[0]["valueCode"], "require");
    assert_eq!(
        part(&verdict[0], "provenance")[0]["valueReference"]["reference"],
        provenance
    );
    assert!(
        part(&verdict[0], "signer")[0]["valueString"]
            .as_str()
            .unwrap()
            .contains("PNOPE-41234567")
    );
    // Searches show it too, and the Provenance keeps its verdict.
    let (_, found) = api
        .get(&format!(
            "{base}/fhir/DocumentReference?patient={patient}&status=current"
        ))
        .await;
    assert!(
        found["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| verdicts(&e["resource"]).len() == 1),
        "{found}"
    );
    let (_, stored_provenance) = api.get(&format!("{base}/fhir/{provenance}")).await;
    assert_eq!(verdicts(&stored_provenance).len(), 1, "{stored_provenance}");
}

async fn under_require_refusals_name_the_failing_check_and_store_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let app = spawn_with(&db, configure(dir.path(), SignaturePolicy::Require, true)).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let url = format!("{base}/fhir");

    let unsigned = push(&patient, &ipress, "urn:oid:1.2.604.9.71", &[1]);
    let (status, outcome) = api.post(&url, &unsigned).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert_eq!(outcome["issue"][0]["code"], "security");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[1].resource"
    );

    for (case, check) in [
        ("revoked", "revocation"),
        ("wrong-key-usage", "key-usage"),
        ("expired", "certificate-validity"),
        ("wrong-ca", "certificate-path"),
    ] {
        let bundle = signed(
            &push(&patient, &ipress, "urn:oid:1.2.604.9.72", &[1]),
            &pki,
            case,
        );
        let (status, outcome) = api.post(&url, &bundle).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case}: {outcome}"
        );
        let first = &outcome["issue"][0];
        assert_eq!(
            first["expression"][0], "Bundle.entry[2].resource.signature[0]",
            "{outcome}"
        );
        assert!(
            first["diagnostics"]
                .as_str()
                .unwrap()
                .contains(&format!("({check})")),
            "{case}: {outcome}"
        );
        let failing = outcome["issue"]
            .as_array()
            .unwrap()
            .iter()
            .find(|issue| issue["details"]["coding"][0]["code"] == check)
            .unwrap();
        assert_eq!(failing["severity"], "error", "{outcome}");
    }

    // Changed after signing.
    let mut tampered = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.73", &[1]),
        &pki,
        "good",
    );
    tampered["entry"][1]["resource"]["date"] = json!("2026-03-15T10:20:00-05:00");
    let (status, outcome) = api.post(&url, &tampered).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("content-integrity"),
        "{outcome}"
    );

    assert_eq!(
        stored_documents(&api, base, &patient).await,
        0,
        "a refused push stores nothing"
    );
}

async fn verify_if_present_keeps_unsigned_and_indeterminate_entries_marked(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    // No CRLs: a valid signature cannot be shown unrevoked.
    let app = spawn_with(&db, configure(dir.path(), SignaturePolicy::Auto, false)).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let url = format!("{base}/fhir");

    let (status, answer) = api
        .post(&url, &push(&patient, &ipress, "urn:oid:1.2.604.9.74", &[1]))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let location = answer["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let (_, stored) = api.get(&format!("{base}/fhir/{location}")).await;
    assert_eq!(
        part(&verdicts(&stored)[0], "indication")[0]["valueCode"],
        "UNSIGNED"
    );
    assert_eq!(
        part(&verdicts(&stored)[0], "policy")[0]["valueCode"],
        "verify-if-present"
    );

    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.75", &[2]),
        &pki,
        "good",
    );
    let (status, answer) = api.post(&url, &bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let location = answer["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let (_, stored) = api.get(&format!("{base}/fhir/{location}")).await;
    let verdict = &verdicts(&stored)[0];
    assert_eq!(part(verdict, "indication")[0]["valueCode"], "INDETERMINATE");
    assert!(
        part(verdict, "reason")[0]["valueString"]
            .as_str()
            .unwrap()
            .starts_with("revocation: no CRL"),
        "{verdict}"
    );

    // A signature present and failing is refused even here.
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.76", &[3]),
        &pki,
        "wrong-key-usage",
    );
    let (status, outcome) = api.post(&url, &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");

    // A verdict a client writes into meta is not kept.
    let mut forged = push(&patient, &ipress, "urn:oid:1.2.604.9.77", &[4]);
    forged["entry"][1]["resource"]["meta"] = json!({"extension": [{"url": VERIFICATION_URL, "extension": [{"url": "indication", "valueCode": "PASSED"}]}]});
    let (status, answer) = api.post(&url, &forged).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let location = answer["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let (_, stored) = api.get(&format!("{base}/fhir/{location}")).await;
    let kept = verdicts(&stored);
    assert_eq!(kept.len(), 1, "{stored}");
    assert_eq!(part(&kept[0], "indication")[0]["valueCode"], "UNSIGNED");
}

async fn with_the_policy_off_signatures_are_not_looked_at(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let app = spawn_with(&db, configure(dir.path(), SignaturePolicy::Off, true)).await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.78", &[1]),
        &pki,
        "revoked",
    );
    let (status, answer) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let location = answer["entry"][1]["response"]["location"]
        .as_str()
        .unwrap()
        .trim_end_matches("/_history/1")
        .to_owned();
    let (_, stored) = api.get(&format!("{base}/fhir/{location}")).await;
    assert!(verdicts(&stored).is_empty(), "{stored}");
}

backend_tests!(
    under_require_a_passing_signature_is_stored_with_its_verdict,
    under_require_refusals_name_the_failing_check_and_store_nothing,
    verify_if_present_keeps_unsigned_and_indeterminate_entries_marked,
    with_the_policy_off_signatures_are_not_looked_at
);

#[test]
fn a_policy_without_trust_anchors_is_a_start_up_error() {
    let error = crate::app::start_refused(|c| c.signature_policy = SignaturePolicy::Require);
    assert!(error.to_string().contains("signature_trust_dir"), "{error}");
}

async fn crls_are_fetched_from_the_distribution_points_and_cached(db: TestDb) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let crl_base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate_with_crls_at(OffsetDateTime::now_utc(), &crl_base);
    pki.write_to(dir.path()).unwrap();
    let served = serve_files(listener, dir.path().join("crl"));
    let cache = dir.path().join("crl-cache");
    let trust = dir.path().join("trust");
    let app = spawn_with(&db, {
        let cache = cache.clone();
        move |config| {
            config.signature_policy = SignaturePolicy::Require;
            config.signature_trust_dir = trust;
            config.signature_crl_cache_dir = cache;
        }
    })
    .await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    // No CRL file is configured: the signer's CA is met for the first time and its
    // CRL fetched from the distribution point in the signer's certificate.
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.80", &[1]),
        &pki,
        "good",
    );
    let (status, answer) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.81", &[2]),
        &pki,
        "revoked",
    );
    let (status, outcome) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("(revocation)"),
        "{outcome}"
    );
    app.stop().await;

    // The fetched CRLs were kept: a registry started again, with the distribution
    // points gone and fetching off, still knows them.
    let cached = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".crl"))
        .count();
    assert!(cached >= 1, "nothing cached in {}", cache.display());
    let signatures = renhice_server::signatures::Signatures::load(
        SignaturePolicy::Require,
        renhice_server::signatures::SignatureSources {
            trust_dir: dir.path().join("trust"),
            crl_files: Vec::new(),
            crl_cache_dir: cache.clone(),
            crl_refresh_secs: 3600,
            ocsp: false,
            fetch_timeout: std::time::Duration::from_secs(5),
            policies: Vec::new(),
        },
    )
    .unwrap();
    assert!(!signatures.verifier().revocation().crls().is_empty());
}

backend_tests!(crls_are_fetched_from_the_distribution_points_and_cached);

/// An OCSP responder on loopback: each request posted is answered by `openssl ocsp`
/// from the CA index `dir/index.txt`, signed by the intermediate's delegated responder.
/// Counts the requests.
fn serve_ocsp(
    listener: std::net::TcpListener,
    dir: std::path::PathBuf,
) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    use std::io::{BufRead as _, Read as _, Write as _};
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&asked);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if !line.starts_with("POST ") {
                let _ = stream.write_all(
                    b"HTTP/1.1 405 Method Not Allowed\r\n\
                      content-length: 0\r\nconnection: close\r\n\r\n",
                );
                continue;
            }
            line.clear();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                line.clear();
            }
            let mut request = vec![0; length];
            reader.read_exact(&mut request).unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = openssl_ocsp_response(&dir, &request, "responder", &[]);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/ocsp-response\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&[head.into_bytes(), body].concat());
        }
    });
    asked
}

async fn the_signers_ocsp_responder_is_asked_and_its_answer_kept(db: TestDb) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate_with_crls_at(OffsetDateTime::now_utc(), &base_url);
    pki.write_to(dir.path()).unwrap();
    let revoked = OcspStatus::Revoked(OffsetDateTime::now_utc() - Duration::days(2));
    let index = pki.ocsp_index(&[("good", OcspStatus::Good), ("revoked", revoked)]);
    std::fs::write(dir.path().join("index.txt"), index).unwrap();
    let asked = serve_ocsp(listener, dir.path().to_owned());
    let path = dir.path().to_owned();
    // The root's CRL for the intermediate; nothing but OCSP for the signers.
    let app = spawn_with(&db, move |config| {
        config.signature_policy = SignaturePolicy::Require;
        config.signature_trust_dir = path.join("trust");
        config.signature_crl_refresh_secs = 0;
        config.signature_crl_files = vec![path.join("crl/root.crl")];
        config.signature_ocsp = true;
        // The responder runs `openssl ocsp` per request: on a loaded machine it may take
        // longer than production's default wait.
        config.signature_fetch_timeout_secs = 60;
    })
    .await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.90", &[1]),
        &pki,
        "good",
    );
    let (status, answer) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The answer is kept until its nextUpdate: a second push by the same signer
    // does not ask again.
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.91", &[2]),
        &pki,
        "good",
    );
    let (status, answer) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);

    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.92", &[3]),
        &pki,
        "revoked",
    );
    let (status, outcome) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("(revocation)") && diagnostics.contains("OCSP response"),
        "{outcome}"
    );
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(stored_documents(&api, base, &patient).await, 2);
    app.stop().await;
}

backend_tests!(the_signers_ocsp_responder_is_asked_and_its_answer_kept);

async fn without_ocsp_a_signer_known_only_to_its_responder_is_refused_under_require(db: TestDb) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate_with_crls_at(OffsetDateTime::now_utc(), &base_url);
    pki.write_to(dir.path()).unwrap();
    std::fs::write(dir.path().join("index.txt"), "").unwrap();
    let asked = serve_ocsp(listener, dir.path().to_owned());
    let path = dir.path().to_owned();
    let app = spawn_with(&db, move |config| {
        config.signature_policy = SignaturePolicy::Require;
        config.signature_trust_dir = path.join("trust");
        config.signature_crl_refresh_secs = 0;
        config.signature_crl_files = vec![path.join("crl/root.crl")];
    })
    .await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.93", &[1]),
        &pki,
        "good",
    );
    let (status, outcome) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("no OCSP response"),
        "{outcome}"
    );
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;
}

backend_tests!(without_ocsp_a_signer_known_only_to_its_responder_is_refused_under_require);

/// `signature_policies`: a signer whose CAs assert none of the required certificate
/// policies is refused at the certification path, and nothing is stored; a policy that
/// is not an object identifier stops the server at start-up.
async fn a_required_certificate_policy_the_path_lacks_refuses_the_push(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let configure = configure(dir.path(), SignaturePolicy::Require, true);
    let app = spawn_with(&db, move |config| {
        configure(config);
        config.signature_policies = vec!["2.16.604.1.1.1".to_owned()];
    })
    .await;
    let base = &app.base;
    let api = app.client(&sihce(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let bundle = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.94", &[1]),
        &pki,
        "good",
    );
    let (status, outcome) = api.post(&format!("{base}/fhir"), &bundle).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("(certificate-path)")
            && outcome
                .to_string()
                .contains("valid for no certificate policy"),
        "{outcome}"
    );
    assert_eq!(stored_documents(&api, base, &patient).await, 0);
    app.stop().await;
}

backend_tests!(a_required_certificate_policy_the_path_lacks_refuses_the_push);

#[test]
fn a_certificate_policy_that_is_not_an_oid_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    pki_in(dir.path());
    let configure = configure(dir.path(), SignaturePolicy::Require, true);
    let error = crate::app::start_refused(move |config| {
        configure(config);
        config.signature_policies = vec!["iofe".to_owned()];
    });
    assert!(error.to_string().contains("signature_policies"), "{error}");
}

async fn verify_signature_answers_the_report_of_a_signed_act(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let app = spawn_with(
        &db,
        configure(dir.path(), SignaturePolicy::VerifyIfPresent, true),
    )
    .await;
    let base = &app.base;
    let clinician = app.client(&crate::clinician(HOME_IPRESS));
    let (patient, ipress) = identities(&app).await;
    let url = format!("{base}/fhir/$verify-signature");
    let good = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.90", &[1]),
        &pki,
        "good",
    );
    let (status, outcome) = clinician.post(&url, &good).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(outcome["issue"][0]["severity"], "information", "{outcome}");
    assert_eq!(
        outcome["issue"][0]["details"]["coding"][0]["code"], "PASSED",
        "{outcome}"
    );
    let checks: Vec<&str> = outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|issue| issue["details"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert!(
        checks.contains(&"time-stamp") && checks.contains(&"revocation"),
        "{checks:?}"
    );

    // A changed act: still 200, the report says FAILED and which check.
    let mut tampered = good.clone();
    tampered["entry"][1]["resource"]["description"] = json!("cambiado");
    let (status, outcome) = clinician.post(&url, &tampered).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["issue"][0]["severity"], "error", "{outcome}");
    let summary = outcome["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        summary.starts_with("signature FAILED/HASH_FAILURE"),
        "{summary}"
    );

    // A Provenance with its targets as Parameters: the same verdict.
    let provenance = good["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["resource"]["resourceType"] == "Provenance")
        .unwrap();
    let mut targets = Vec::new();
    for entry in good["entry"].as_array().unwrap() {
        if entry["resource"]["resourceType"] == "DocumentReference" {
            let mut resource = entry["resource"].clone();
            // The Provenance names its target by fullUrl; as a Parameters target the
            // resource is found by Type/id, so the Provenance is given the same name.
            resource["id"] = json!("doc-1");
            targets.push(json!({"name": "target", "resource": resource}));
        }
    }
    let mut signed_provenance = provenance["resource"].clone();
    let full_url = good["entry"][1]["fullUrl"].clone();
    assert_eq!(signed_provenance["target"][0]["reference"], full_url);
    let parameters = json!({
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": signed_provenance.clone()}]
    });
    let (status, outcome) = clinician.post(&url, &parameters).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    // Without its target at hand, the signature is indeterminate and says why.
    assert_eq!(outcome["issue"][0]["severity"], "warning", "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("SIGNED_DATA_NOT_FOUND"),
        "{outcome}"
    );
    signed_provenance["target"][0]["reference"] = json!("DocumentReference/doc-1");
    let mut with_targets = vec![json!({"name": "resource", "resource": signed_provenance})];
    with_targets.extend(targets);
    let (status, outcome) = clinician
        .post(
            &url,
            &json!({"resourceType": "Parameters", "parameter": with_targets}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert!(
        outcome["issue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|issue| issue["details"]["coding"][0]["code"] == "content-integrity"),
        "{outcome}"
    );

    // Nothing signed, the wrong resource, no body: clear refusals.
    let unsigned = push(&patient, &ipress, "urn:oid:1.2.604.9.91", &[2]);
    let (status, outcome) = clinician.post(&url, &unsigned).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("carries no firma digital"),
        "{outcome}"
    );
    let (status, outcome) = clinician
        .post(&url, &json!({"resourceType": "Patient"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert_eq!(outcome["issue"][0]["expression"][0], "Patient.resourceType");

    // Audited, as every FHIR interaction: the operation is named.
    let auditor = app.client(&crate::audit::auditor());
    let (status, events) = auditor
        .get(&format!("{base}/fhir/AuditEvent?_count=500"))
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let verified = events["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| {
            entry["resource"]["subtype"]
                .as_array()
                .is_some_and(|codes| codes.iter().any(|code| code["code"] == "verify-signature"))
        })
        .count();
    assert!(
        verified >= 4,
        "{verified} verify-signature events: {events}"
    );
}

backend_tests!(verify_signature_answers_the_report_of_a_signed_act);

async fn verify_signature_without_trust_anchors_says_so_first(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let app = spawn_with(&db, |_| {}).await;
    let base = &app.base;
    let (patient, ipress) = identities(&app).await;
    let good = signed(
        &push(&patient, &ipress, "urn:oid:1.2.604.9.92", &[1]),
        &pki,
        "good",
    );
    let (status, outcome) = app
        .client(&crate::clinician(HOME_IPRESS))
        .post(&format!("{base}/fhir/$verify-signature"), &good)
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("verifies no signatures"),
        "{outcome}"
    );
    assert!(
        outcome["issue"][1]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("NO_CERTIFICATE_CHAIN_FOUND"),
        "{outcome}"
    );
}

backend_tests!(verify_signature_without_trust_anchors_says_so_first);

/// A PDF signed by pyHanko (the signature crate's judge, `tests/judges/pades.py`) as
/// `case` of `pki` in `dir`: its bytes.
fn pdf_signed_by(dir: &Path, case: &str) -> Vec<u8> {
    let run = |args: &[&str]| {
        let _ = renhice_testing::pyhanko(Path::new(env!("CARGO_TARGET_TMPDIR")), dir, args);
    };
    run(&["blank", "blank.pdf"]);
    let (key, cert, chain) = (
        format!("signers/{case}.key.pem"),
        format!("signers/{case}.pem"),
        "trust/intermediate.pem".to_owned(),
    );
    run(&[
        "sign",
        "blank.pdf",
        "signed.pdf",
        "--key",
        &key,
        "--cert",
        &cert,
        "--chain",
        &chain,
        "--field",
        "Firma1",
    ]);
    std::fs::read(dir.join("signed.pdf")).unwrap()
}

async fn verify_signature_reads_a_signed_pdf_as_sent_or_in_a_binary(db: TestDb) {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let pki = pki_in(dir.path());
    let pdf = pdf_signed_by(dir.path(), "good");
    let app = spawn_with(
        &db,
        configure(dir.path(), SignaturePolicy::VerifyIfPresent, true),
    )
    .await;
    let url = format!("{}/fhir/$verify-signature", app.base);
    let auditor = app.client(&crate::clinician(HOME_IPRESS));
    let post_pdf = |bytes: Vec<u8>| {
        let request = auditor
            .request(reqwest::Method::POST, &url)
            .header("content-type", "application/pdf")
            .body(bytes);
        async move {
            let res = request.send().await.unwrap();
            (
                res.status(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let passed = |outcome: &Value| {
        outcome["issue"][0]["details"]["coding"][0]["code"] == "PASSED"
            && outcome["issue"][0]["expression"][0] == "Firma1"
    };
    let (status, outcome) = post_pdf(pdf.clone()).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert!(passed(&outcome), "{outcome}");

    // The same PDF in a Binary, alone and as the resource parameter.
    let binary = json!({
        "resourceType": "Binary",
        "contentType": "application/pdf",
        "data": base64::engine::general_purpose::STANDARD.encode(&pdf),
    });
    let (status, outcome) = auditor.post(&url, &binary).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert!(passed(&outcome), "{outcome}");
    let parameters = json!({
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": binary}]
    });
    let (status, outcome) = auditor.post(&url, &parameters).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert!(passed(&outcome), "{outcome}");

    // A byte of the act changed: 200, FAILED, the integrity check says so.
    let mut forged = pdf.clone();
    let at = forged
        .windows(8)
        .position(|window| window == b"41234567")
        .unwrap();
    forged[at] = b'9';
    let (status, outcome) = post_pdf(forged).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    let summary = outcome["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        summary.starts_with("signature FAILED/HASH_FAILURE"),
        "{summary}"
    );

    // Not a PDF, a PDF with no signature, a Binary of another type: refused with the reason.
    let (status, outcome) = post_pdf(b"not a pdf".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert!(
        outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("%PDF-"),
        "{outcome}"
    );
    let blank = std::fs::read(dir.path().join("blank.pdf")).unwrap();
    let (status, outcome) = post_pdf(blank).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{outcome}");
    let text = json!({"resourceType": "Binary", "contentType": "text/plain", "data": "aG9sYQ=="});
    let (status, outcome) = auditor.post(&url, &text).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0], "Binary.contentType",
        "{outcome}"
    );
    drop(pki);
}
backend_tests!(verify_signature_reads_a_signed_pdf_as_sent_or_in_a_binary);
