//! The application under test, and one HTTP client per caller.
//!
//! [`spawn`] starts a server on a loopback port and returns a [`TestApp`]; a test asks it
//! for an [`Api`] per caller (`app.client(&sihce(HOME_IPRESS))`) and sends each request
//! through the client of the caller it means. Nothing is shared between tests or held
//! in global state: who a request acts as is written where it is sent.

use renhice_server::auth::{Grant, KeyRing};
use renhice_server::{AuthConfig, Authority, Metrics, RunningServer, ServerConfig};
use renhice_store::{DatabaseConfig, Store};
use renhice_testing::TestDb;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

/// A running server: where it listens and the authority that issues its tokens.
pub(crate) struct TestApp {
    server: RunningServer,
    /// `http://127.0.0.1:port`.
    pub(crate) base: String,
    /// Issues the server's tokens (tests forge with it what the server must refuse).
    pub(crate) authority: Authority,
}

impl TestApp {
    /// A token of this server for `grant`.
    pub(crate) fn token(&self, grant: &Grant) -> String {
        self.authority.issue(grant, None).unwrap()
    }

    /// A client whose every request carries a token for `grant`.
    pub(crate) fn client(&self, grant: &Grant) -> Api {
        Api {
            token: Some(self.token(grant)),
        }
    }

    /// Stops the server gracefully.
    pub(crate) async fn stop(self) {
        self.server.stop(true).await.unwrap();
    }
}

/// The HTTP client of one caller: every request carries the caller's token, if any.
///
/// Each request goes on a connection of its own, as a separate SIHCE's would.
#[derive(Clone)]
pub(crate) struct Api {
    token: Option<String>,
}

impl Api {
    /// A request to `url` as this client's caller.
    pub(crate) fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let request = reqwest::Client::new().request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET url`: the status, the headers and the JSON body (null if none).
    pub(crate) async fn fetch(&self, url: &str) -> (StatusCode, HeaderMap, Value) {
        let res = self.request(Method::GET, url).send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// `GET url`: the status and the JSON body (null if none).
    pub(crate) async fn get(&self, url: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.fetch(url).await;
        (status, body)
    }

    /// `POST url` with a FHIR JSON body.
    pub(crate) async fn post(&self, url: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::POST, url, body).await
    }

    /// `PUT url` with a FHIR JSON body.
    pub(crate) async fn put(&self, url: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::PUT, url, body).await
    }

    /// `method url` with a FHIR JSON body: the status and the JSON answer (null if none).
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let res = self
            .request(method, url)
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// A server on an ephemeral loopback port.
pub(crate) async fn spawn(db: &TestDb) -> TestApp {
    spawn_with(db, |_| {}).await
}

/// A server whose configuration `adjust` changes first.
pub(crate) async fn spawn_with(db: &TestDb, adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let store = connect(db).await;
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        readiness_timeout_secs: 2,
        ..ServerConfig::default()
    };
    adjust(&mut config);
    let authority = Authority::new(AuthConfig::default(), KeyRing::ephemeral().unwrap());
    let server = renhice_server::start(config, authority.clone(), store, Metrics::new()).unwrap();
    let base = format!("http://{}", server.local_addr());
    TestApp {
        server,
        base,
        authority,
    }
}

/// A server whose token authority is configured for its real address (issuer and
/// audience at its own port), as people's sign-in needs: `adjust` completes the
/// authority's configuration, given the server's base URL.
pub(crate) async fn spawn_with_auth(
    db: &TestDb,
    adjust: impl FnOnce(&mut AuthConfig, &str),
) -> TestApp {
    let store = connect(db).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut auth = AuthConfig {
        issuer: format!("{base}/auth"),
        audience: format!("{base}/fhir"),
        ..AuthConfig::default()
    };
    adjust(&mut auth, &base);
    let config = ServerConfig {
        workers: 1,
        readiness_timeout_secs: 2,
        ..ServerConfig::default()
    };
    let authority = Authority::new(auth, KeyRing::ephemeral().unwrap());
    let server =
        renhice_server::start_on(listener, config, authority.clone(), store, Metrics::new())
            .unwrap();
    TestApp {
        server,
        base,
        authority,
    }
}

/// The test database's store, with ring installed as the process's TLS provider: the
/// TLS tests build reqwest with rustls but no built-in crypto provider (no C toolchain
/// for aws-lc), and every client of the process then needs ring.
async fn connect(db: &TestDb) -> Store {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Store::connect(&DatabaseConfig {
        url: db.url().to_owned(),
        connect_timeout_secs: 1,
        ..DatabaseConfig::default()
    })
    .await
    .unwrap()
}

/// Why a server whose configuration `adjust` changes refuses to start (on a SQLite
/// database of its own): a test of the checks made at start.
///
/// # Panics
/// When the server starts after all.
pub(crate) fn start_refused(adjust: impl FnOnce(&mut ServerConfig)) -> std::io::Error {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = TestDb::sqlite();
        let store = connect(&db).await;
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..ServerConfig::default()
        };
        adjust(&mut config);
        let authority = Authority::new(AuthConfig::default(), KeyRing::ephemeral().unwrap());
        match renhice_server::start(config, authority, store, Metrics::new()) {
            Ok(_) => panic!("the server started"),
            Err(error) => error,
        }
    })
}
