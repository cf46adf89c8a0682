//! `renhice accredit` end to end: the basic SIHCE suite against two sample SIHCEs
//! started here, one conforming (HTTPS, tokens, PacientePe, a signed BundlePe summary)
//! and one not; the reports show the expected passes and failures.

use std::collections::BTreeMap;
use std::path::Path;

use renhice_testing::pki::TestPki;
use renhice_testing::sihce::{Holdings, SampleSihce};
use serde_json::{Value, json};

use crate::command;

fn example(path: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn accredit(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = command(dir).arg("accredit").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Each test's verdict in a `TestReport`: the worst of its actions.
fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|test| {
            let results: Vec<&str> = test["action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|action| {
                    action["operation"]["result"]
                        .as_str()
                        .or_else(|| action["assert"]["result"].as_str())
                        .unwrap()
                })
                .collect();
            let verdict = ["error", "fail"]
                .into_iter()
                .find(|bad| results.contains(bad))
                .unwrap_or("pass");
            let id = test["name"].as_str().unwrap().split(':').next().unwrap();
            (id.to_owned(), verdict.to_owned())
        })
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A directory with the test PKI (`pki/`) and the example summary signed by its `good`
/// signer an hour ago (`signed.json`).
fn signed_summary() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // The summary is signed an hour into the PKI's life, and verified now.
    let now = time::OffsetDateTime::now_utc();
    let pki = TestPki::generate(now - time::Duration::hours(2));
    pki.write_to(&dir.path().join("pki")).unwrap();
    let signed_at = (now - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    std::fs::write(
        dir.path().join("summary.json"),
        example("profiles/pe/examples/Bundle-ejemplo-documento.json").to_string(),
    )
    .unwrap();
    let status = command(dir.path())
        .args([
            "sign",
            "summary.json",
            "--key",
            "pki/signers/good.key.pem",
            "--chain",
            "pki/signers/good.chain.pem",
            "--at",
            &signed_at,
            "--out",
            "signed.json",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

#[test]
fn the_basic_suite_passes_a_conforming_sihce() {
    let dir = signed_summary();
    let patient = example("profiles/pe/examples/Patient-ejemplo-paciente.json");

    let conforming = SampleSihce::start(
        true,
        Holdings {
            token: "token-del-auditor".into(),
            patient: patient.clone(),
            summary: read_json(&dir.path().join("signed.json")),
        },
    );
    std::fs::write(
        dir.path().join("ca.pem"),
        conforming.ca_pem.clone().unwrap(),
    )
    .unwrap();
    let (code, text) = accredit(
        dir.path(),
        &[
            "--target",
            &conforming.base_url,
            "--suite",
            "sihce-basico",
            "--token",
            "token-del-auditor",
            "--ca",
            "ca.pem",
            "--trust",
            "pki/trust",
            "--crl",
            "pki/crl/root.crl",
            "--crl",
            "pki/crl/intermediate.crl",
            "--out",
            "conforming",
        ],
    );
    assert_eq!(code, 0, "{text}");
    // The progress names each test with its criterion.
    assert!(
        text.contains("[1/7] N0.GBL.003 CapabilityStatement … pass"),
        "{text}"
    );
    assert!(
        text.contains("[6/7] N0.GBL.008 Firma digital of the summary … pass"),
        "{text}"
    );
    assert!(text.contains("7 of 7 tests passed"), "{text}");
    let report = read_json(&dir.path().join("conforming/testreport.json"));
    assert_eq!(report["result"], "pass");
    assert_eq!(report["score"], 100.0);
    assert!(verdicts(&report).values().all(|verdict| verdict == "pass"));
    // The report is itself valid FHIR R4.
    let issues = renhice_validator::Validator::renhice().validate(&report);
    assert!(
        renhice_validator::worst(&issues)
            .is_none_or(|worst| worst > renhice_model::IssueSeverity::Error),
        "{issues:#?}"
    );
    let junit = std::fs::read_to_string(dir.path().join("conforming/junit.xml")).unwrap();
    assert!(
        junit.contains("tests=\"7\" failures=\"0\" errors=\"0\""),
        "{junit}"
    );
    let html = std::fs::read_to_string(dir.path().join("conforming/report.html")).unwrap();
    assert!(
        html.contains("<b>N0.GBL.008</b> Firma digital y no repudio"),
        "{html}"
    );
    assert!(html.contains("7 of 7 tests passed"), "{html}");
}

#[test]
fn the_basic_suite_fails_a_non_conforming_sihce_where_it_should() {
    let dir = signed_summary();
    let patient = example("profiles/pe/examples/Patient-ejemplo-paciente.json");
    // The non-conforming SIHCE: plain HTTP, open to anyone, FHIR 4.0.0, a patient that
    // is not a PacientePe, a summary that is not a BundlePe and is not signed.
    let mut not_pe = patient;
    not_pe["identifier"][0]["type"]
        .as_object_mut()
        .unwrap()
        .remove("extension");
    let mut summary = example("profiles/pe/examples/Bundle-ejemplo-documento.json");
    summary["entry"][0]["resource"]["status"] = json!("preliminary");
    let open = SampleSihce::start(
        false,
        Holdings {
            token: String::new(),
            patient: not_pe,
            summary,
        },
    );
    let (code, text) = accredit(
        dir.path(),
        &[
            "--target",
            &open.base_url,
            "--suite",
            "sihce-basico",
            "--trust",
            "pki/trust",
            "--out",
            "open",
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("0 of 7 tests passed"), "{text}");
    let report = read_json(&dir.path().join("open/testreport.json"));
    assert_eq!(report["result"], "fail");
    let expected: BTreeMap<String, String> = [
        "autenticacion",
        "capacidades",
        "cifrado",
        "firma-digital",
        "lectura-paciente",
        "registro-paciente",
        "resumen",
    ]
    .into_iter()
    .map(|id| (id.to_owned(), "fail".to_owned()))
    .collect();
    assert_eq!(verdicts(&report), expected);
    // Each failure says what was found.
    let html = std::fs::read_to_string(dir.path().join("open/report.html")).unwrap();
    for why in [
        "fhirVersion = &#39;4.0.1&#39; is false",
        "expected HTTP 401, got 200",
        "expected HTTP 400,422, got 201",
        "Patient.identifier[0].type.extension",
        "parameter.where(name = &#39;scheme&#39;).value = &#39;https&#39; is false",
    ] {
        assert!(html.contains(why), "{why} not in the report:\n{html}");
    }
    let junit = std::fs::read_to_string(dir.path().join("open/junit.xml")).unwrap();
    assert!(junit.contains("tests=\"7\" failures=\"7\""), "{junit}");
}

#[test]
fn an_unknown_suite_or_variable_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = accredit(
        dir.path(),
        &[
            "--target",
            "http://127.0.0.1:9/fhir",
            "--suite",
            "no-such-suite",
        ],
    );
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("sihce-basico"), "{text}");
    let (code, text) = accredit(
        dir.path(),
        &[
            "--target",
            "http://127.0.0.1:9/fhir",
            "--suite",
            "sihce-basico",
            "--var",
            "pacienteId=1",
        ],
    );
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("it has: patientId"), "{text}");
    // A suite that is not a valid TestScript is refused with the validator's findings.
    std::fs::write(
        dir.path().join("broken.json"),
        json!({"resourceType": "TestScript", "name": "Broken", "status": "draft"}).to_string(),
    )
    .unwrap();
    let (code, text) = accredit(
        dir.path(),
        &[
            "--target",
            "http://127.0.0.1:9/fhir",
            "--suite",
            "broken.json",
        ],
    );
    assert_eq!(code, 5, "{text}");
    assert!(text.contains("TestScript.url"), "{text}");
}

/// A registry (`renhice serve` on SQLite) where the IPRESS of the example (RENIPRESS
/// 00005938) fed its patient and pushed; the pushes are built from the registry profiles'
/// example, `sloppy` ones without the document's type and content type (taken because
/// push validation is off).
fn registry_with_pushes(
    dir: &Path,
    sloppy: bool,
) -> (crate::Renhice, String, String, String, String) {
    let mut cmd = command(dir);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite://registro.db?mode=rwc",
    ])
    .env(
        "RENHICE_VALIDATE_PUSHES",
        if sloppy { "false" } else { "true" },
    );
    let mut renhice = crate::Renhice::spawn(cmd);
    let base = renhice.base_url();
    let admin = crate::issue_token(dir, &["--role", "admin"]);
    let sihce = crate::issue_token(dir, &["--role", "system", "--organization", "00005938"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let post = |url: &str, token: &str, body: &Value| -> Value {
        let (status, answer) = runtime.block_on(async {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/fhir+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
        assert!(status < 300, "{url}: {status} {answer}");
        answer
    };
    let mut organization = example("profiles/pe/examples/Organization-ejemplo-ipress.json");
    organization.as_object_mut().unwrap().remove("id");
    let ipress = post(&format!("{base}/fhir/Organization"), &admin, &organization)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut patient = example("profiles/pe/examples/Patient-ejemplo-paciente.json");
    patient.as_object_mut().unwrap().remove("id");
    let patient_id = post(&format!("{base}/fhir/Patient"), &sihce, &patient)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut push = example("profiles/renhice/examples/Bundle-push.json");
    for entry in push["entry"].as_array_mut().unwrap() {
        let resource = &mut entry["resource"];
        resource["subject"] = json!({"reference": format!("Patient/{patient_id}")});
        if resource["resourceType"] == "DocumentReference" {
            resource["custodian"] = json!({"reference": format!("Organization/{ipress}")});
            if sloppy {
                resource.as_object_mut().unwrap().remove("type");
                resource["content"][0]["attachment"]
                    .as_object_mut()
                    .unwrap()
                    .remove("contentType");
            }
        }
    }
    post(&format!("{base}/fhir"), &sihce, &push);
    if !sloppy {
        let summary = example("profiles/pe/examples/Bundle-ejemplo-documento.json");
        post(&format!("{base}/fhir/Bundle"), &sihce, &summary);
    }
    (renhice, base, sihce, ipress, patient_id)
}

#[test]
fn the_registry_suite_reads_what_a_sihce_sent_and_judges_it() {
    for sloppy in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (_registry, base, token, ipress, patient) = registry_with_pushes(dir.path(), sloppy);
        let (code, text) = accredit(
            dir.path(),
            &[
                "--target",
                &format!("{base}/fhir"),
                "--suite",
                "registro-envio",
                "--token",
                &token,
                "--var",
                &format!("ipressId={ipress}"),
                "--var",
                &format!("patientId={patient}"),
                "--out",
                "report",
            ],
        );
        let report = read_json(&dir.path().join("report/testreport.json"));
        let found = verdicts(&report);
        if sloppy {
            assert_eq!(code, 1, "{text}");
            let expected: BTreeMap<String, String> = [
                ("indice", "fail"),
                ("resumen-renhice", "fail"),
                ("submissionset", "pass"),
            ]
            .into_iter()
            .map(|(id, verdict)| (id.to_owned(), verdict.to_owned()))
            .collect();
            assert_eq!(found, expected, "{text}");
            assert!(
                text.contains("DocumentReference.type is required"),
                "{text}"
            );
        } else {
            assert_eq!(code, 0, "{text}");
            assert!(found.values().all(|verdict| verdict == "pass"), "{text}");
        }
    }
}
