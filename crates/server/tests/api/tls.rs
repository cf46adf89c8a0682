//! HTTPS and mutual TLS over real sockets, with certificates made here: a CA, the
//! server's certificate, and client certificates naming IPRESS.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use renhice_server::tls::ClientAuth;
use renhice_testing::{TestDb, backend_tests};
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::{HOME_IPRESS, sihce, spawn_with};

/// A certificate authority for the test.
fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate signed by `ca`: `(certificate PEM, key PEM)`.
fn issue(ca: &CertifiedIssuer<'_, KeyPair>, sans: Vec<SanType>, client: bool) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = sans;
    params
        .distinguished_name
        .push(DnType::CommonName, "renhice test");
    params.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ipress_client(ca: &CertifiedIssuer<'_, KeyPair>, renipress: &str) -> (String, String) {
    let uri = format!("urn:renipress:{renipress}").try_into().unwrap();
    issue(ca, vec![SanType::URI(uri)], true)
}

/// Where the test's PEM files are.
struct Files {
    _dir: tempfile::TempDir,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    client_ca: std::path::PathBuf,
    server_ca_pem: String,
}

fn files(
    server_ca: &CertifiedIssuer<'_, KeyPair>,
    client_ca: &CertifiedIssuer<'_, KeyPair>,
) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = issue(
        server_ca,
        vec![
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
            SanType::DnsName("localhost".try_into().unwrap()),
        ],
        false,
    );
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Files {
        cert: write("server.pem", &cert),
        key: write("server.key", &key),
        client_ca: write("client-ca.pem", &client_ca.pem()),
        server_ca_pem: server_ca.pem(),
        _dir: dir,
    }
}

/// An HTTPS client trusting `ca_pem`, presenting `identity` (certificate and key PEM)
/// if given, speaking only `versions`.
fn client(
    ca_pem: &str,
    identity: Option<&(String, String)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

async fn get(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut request = client.get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let res = request.send().await?;
    let status = res.status();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

fn https(base: &str) -> String {
    base.replacen("http://", "https://", 1)
}

fn configure(
    files: &Files,
    client_auth: Option<ClientAuth>,
) -> impl FnOnce(&mut renhice_server::ServerConfig) {
    let (cert, key, ca) = (
        files.cert.clone(),
        files.key.clone(),
        files.client_ca.clone(),
    );
    move |c| {
        c.tls_cert_file = cert;
        c.tls_key_file = key;
        if let Some(auth) = client_auth {
            c.tls_client_ca_file = ca;
            c.tls_client_auth = auth;
        }
    }
}

async fn the_registry_speaks_https_with_tls_1_2_and_1_3(db: TestDb) {
    let server_ca = authority("renhice test server CA");
    let files = files(&server_ca, &authority("unused"));
    let app = spawn_with(&db, configure(&files, None)).await;
    let base = &app.base;
    let url = format!("{}/fhir/metadata", https(base));
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (status, body) = get(&client(&files.server_ca_pem, None, versions), &url, None)
            .await
            .unwrap();
        assert_eq!(
            (status, body["resourceType"].as_str()),
            (StatusCode::OK, Some("CapabilityStatement"))
        );
    }
    // Tokens work over it as over plain HTTP.
    let token = app.token(&sihce(HOME_IPRESS));
    let (status, _) = get(
        &client(&files.server_ca_pem, None, BOTH),
        &format!("{}/fhir/Patient?family=x", https(base)),
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK);
    // Plain HTTP to the TLS port gets no answer; a client that does not trust the
    // certificate does not connect.
    let plain = reqwest::get(&url.replacen("https://", "http://", 1)).await;
    assert!(!matches!(plain, Ok(r) if r.status().is_success()));
    let stranger = authority("someone else's CA");
    assert!(
        get(&client(&stranger.pem(), None, BOTH), &url, None)
            .await
            .is_err()
    );
    app.stop().await;
}

async fn a_client_certificate_binds_the_connection_to_its_ipress(db: TestDb) {
    let (server_ca, client_ca) = (authority("server CA"), authority("IPRESS client CA"));
    let files = files(&server_ca, &client_ca);
    let app = spawn_with(&db, configure(&files, Some(ClientAuth::Optional))).await;
    let base = &app.base;
    let url = format!("{}/fhir/Patient?family=quispe", https(base));
    let santa_clara = app.token(&sihce(HOME_IPRESS));
    let loayza = app.token(&sihce("00005938"));
    let patient = app.token(&crate::patient("1|PER|45678912"));
    // Without a certificate (optional): any valid token.
    let anonymous = client(&files.server_ca_pem, None, BOTH);
    assert_eq!(
        get(&anonymous, &url, Some(&loayza)).await.unwrap().0,
        StatusCode::OK
    );
    // With Santa Clara's certificate: Santa Clara's tokens only.
    let bound = client(
        &files.server_ca_pem,
        Some(&ipress_client(&client_ca, crate::HOME_IPRESS)),
        BOTH,
    );
    assert_eq!(
        get(&bound, &url, Some(&santa_clara)).await.unwrap().0,
        StatusCode::OK
    );
    for other in [&loayza, &patient] {
        let (status, body) = get(&bound, &url, Some(other)).await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["issue"][0]["diagnostics"]
                .as_str()
                .unwrap()
                .contains("rule: certificate-ipress"),
            "{body}"
        );
    }
    // Both refusals are in the audit trail, with the rule and the caller refused.
    let auditor = app.token(&crate::audit::auditor());
    let (status, trail) = get(
        &anonymous,
        &format!("{}/fhir/AuditEvent?_count=50", https(base)),
        Some(&auditor),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK, "{trail}");
    let refused: Vec<serde_json::Value> = crate::audit::events(&trail)
        .into_iter()
        .filter(|e| {
            e["outcomeDesc"]
                .as_str()
                .is_some_and(|d| d.contains("rule: certificate-ipress"))
        })
        .collect();
    assert_eq!(refused.len(), 2, "{trail}");
    // A certificate from a CA the registry does not trust ends the handshake.
    let rogue_ca = authority("rogue CA");
    let rogue = client(
        &files.server_ca_pem,
        Some(&ipress_client(&rogue_ca, crate::HOME_IPRESS)),
        BOTH,
    );
    assert!(get(&rogue, &url, Some(&santa_clara)).await.is_err());
    app.stop().await;
}

async fn required_client_certificates_refuse_anonymous_connections(db: TestDb) {
    let (server_ca, client_ca) = (authority("server CA"), authority("IPRESS client CA"));
    let files = files(&server_ca, &client_ca);
    let app = spawn_with(&db, configure(&files, Some(ClientAuth::Required))).await;
    let base = &app.base;
    let url = format!("{}/fhir/metadata", https(base));
    assert!(
        get(&client(&files.server_ca_pem, None, BOTH), &url, None)
            .await
            .is_err()
    );
    let bound = client(
        &files.server_ca_pem,
        Some(&ipress_client(&client_ca, crate::HOME_IPRESS)),
        BOTH,
    );
    assert_eq!(get(&bound, &url, None).await.unwrap().0, StatusCode::OK);
    app.stop().await;
}

backend_tests!(
    the_registry_speaks_https_with_tls_1_2_and_1_3,
    a_client_certificate_binds_the_connection_to_its_ipress,
    required_client_certificates_refuse_anonymous_connections
);

/// Configurations the server refuses to start with, each with a clear reason.
#[cfg(feature = "sqlite")]
#[test]
fn unsafe_or_incomplete_transport_settings_are_refused() {
    renhice_testing::block_on(async {
        let db = renhice_testing::TestDb::sqlite();
        let files = files(&authority("server CA"), &authority("client CA"));
        let store = || async {
            renhice_store::Store::connect(&renhice_store::DatabaseConfig {
                url: db.url().to_owned(),
                ..renhice_store::DatabaseConfig::default()
            })
            .await
            .unwrap()
        };
        let authority = || {
            renhice_server::Authority::new(
                renhice_server::AuthConfig::default(),
                renhice_server::auth::KeyRing::ephemeral().unwrap(),
            )
        };
        let missing = std::path::PathBuf::from("/nonexistent/server.pem");
        let cases: Vec<(renhice_server::ServerConfig, &str)> = vec![
            (
                renhice_server::ServerConfig {
                    listen: "0.0.0.0:0".parse().unwrap(),
                    ..Default::default()
                },
                "loopback only",
            ),
            (
                renhice_server::ServerConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    tls_cert_file: files.cert.clone(),
                    ..Default::default()
                },
                "go together",
            ),
            (
                renhice_server::ServerConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    tls_client_ca_file: files.client_ca.clone(),
                    ..Default::default()
                },
                "needs server.tls_cert_file",
            ),
            (
                renhice_server::ServerConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    tls_cert_file: missing,
                    tls_key_file: files.key.clone(),
                    ..Default::default()
                },
                "/nonexistent/server.pem",
            ),
            (
                renhice_server::ServerConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    tls_cert_file: files.cert.clone(),
                    tls_key_file: files.client_ca.clone(),
                    ..Default::default()
                },
                "client-ca.pem",
            ),
        ];
        for (config, expected) in cases {
            let Err(e) = renhice_server::start(
                config,
                authority(),
                store().await,
                renhice_server::Metrics::new(),
            ) else {
                panic!("started despite {expected}");
            };
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
    });
}
