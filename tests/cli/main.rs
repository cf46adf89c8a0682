//! The `renhice` binary as an operator runs it: start-up, configuration, errors, shutdown.

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

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

mod accredit;
mod audit;
mod crash;
mod signatures;
mod validation;

const BIN: &str = env!("CARGO_BIN_EXE_renhice");

/// A running `renhice` process whose JSON log lines are collected as they come.
struct Renhice {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn command(cwd: &Path) -> Command {
    // Built in one workspace with the server's TLS tests, reqwest has rustls without a
    // built-in crypto provider: the tests' HTTP clients need ring installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd);
    // A test must not pick up the configuration of whoever runs it.
    for (key, _) in std::env::vars() {
        if key.starts_with("RENHICE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

impl Renhice {
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the log line with this message and returns it parsed.
    fn wait_for(&mut self, message: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(json) = serde_json::from_str::<Value>(&line)
                        && json["message"] == message
                    {
                        return json;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("no log line {message:?}; saw:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// Waits for the listening line and returns the base URL.
    fn base_url(&mut self) -> String {
        let line = self.wait_for("renhice is listening");
        format!("http://{}", line["address"].as_str().unwrap())
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (30 s at most) for the process to exit.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut status = None;
        poll_until("renhice exits", Duration::from_secs(30), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for Renhice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done` holds, checking every 10 ms; fails the test after `timeout`.
fn poll_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `renhice token issue ARGS` in `dir` (where a server keeps its keys): the token.
fn issue_token(dir: &Path, args: &[&str]) -> String {
    let mut cmd = command(dir);
    cmd.args(["token", "issue"]).args(args);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs `renhice` to completion; returns (success, stderr).
fn run(mut cmd: Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(feature = "sqlite")]
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[cfg(feature = "sqlite")]
#[test]
fn serve_with_no_configuration_creates_sqlite_and_serves_metadata_on_8080() {
    assert!(
        std::net::TcpListener::bind("127.0.0.1:8080").is_ok(),
        "port 8080 is taken on this machine: stop what listens there to run this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut renhice = Renhice::spawn({
        let mut cmd = command(dir.path());
        cmd.arg("serve");
        cmd
    });
    let base = renhice.base_url();
    assert_eq!(base, "http://127.0.0.1:8080");
    assert!(
        dir.path().join("renhice.db").is_file(),
        "the SQLite database was created"
    );
    let body: Value = block_on(async {
        reqwest::get(format!("{base}/fhir/metadata"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(body["resourceType"], "CapabilityStatement");
    // Request log lines are JSON and carry the request id of their span.
    let line = renhice.wait_for("request completed");
    assert!(
        line["span"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{line}"
    );
    tokens_are_signed_by_the_keys_the_server_publishes_and_rotate_without_restart(
        dir.path(),
        &base,
    );
    renhice.signal("INT");
    assert!(renhice.wait_exit().success());
}

#[test]
fn a_wrong_database_url_is_a_clear_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (url, expected) in [
        ("sqlite://renhcie.db", "does not exist"),
        ("sqlite://missing/dir/renhice.db?mode=rwc", "does not exist"),
        (
            "postgress://postgres@127.0.0.1/renhice",
            "unsupported scheme",
        ),
        ("renhice.db", "expected a URL"),
    ] {
        let mut cmd = command(dir.path());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", url]);
        let (ok, stderr) = run(cmd);
        assert!(!ok, "{url} was accepted");
        assert!(stderr.contains(expected), "{url}: {stderr}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files were created: {left:?}");
}

#[cfg(feature = "postgres")]
#[test]
fn a_missing_postgres_database_is_reported_not_created() {
    let server = renhice_testing::postgres_server_url();
    let (base, _) = server.rsplit_once('/').unwrap();
    let url = format!("{base}/renhice_cli_missing_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("RENHICE_DATABASE_URL", &url);
    let (ok, stderr) = run(cmd);
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[cfg(feature = "sqlite")]
#[test]
fn configuration_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("renhice.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:1\"\n[database]\nurl = \"sqlite://from-file.db?mode=rwc\"\n",
    )
    .unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["serve", "--config"])
        .arg(&file)
        .args(["--listen", "127.0.0.1:0"])
        .env("RENHICE_DATABASE_URL", "sqlite://from-env.db?mode=rwc")
        .env("RENHICE_LISTNE", "127.0.0.1:2");
    let mut renhice = Renhice::spawn(cmd);
    let warning = renhice.wait_for("ignoring unknown RENHICE_ environment variable");
    assert_eq!(warning["variable"], "RENHICE_LISTNE");
    let line = renhice.wait_for("renhice is listening");
    assert_ne!(
        line["address"], "127.0.0.1:1",
        "the flag overrides the file"
    );
    assert_eq!(
        line["database"], "sqlite://from-env.db?mode=rwc",
        "the environment overrides the file"
    );
    assert!(dir.path().join("from-env.db").is_file());
    assert!(!dir.path().join("from-file.db").exists());
    renhice.signal("TERM");
    assert!(renhice.wait_exit().success());

    // An unknown key in the file is an error that names it.
    std::fs::write(&file, "[database]\nurll = \"sqlite://x.db\"\n").unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["serve", "--config"]).arg(&file);
    let (ok, stderr) = run(cmd);
    assert!(!ok);
    assert!(stderr.contains("urll"), "{stderr}");
    // So is a configuration file that does not exist.
    let mut cmd = command(dir.path());
    cmd.args(["serve", "--config", "nope.toml"]);
    let (ok, stderr) = run(cmd);
    assert!(!ok);
    assert!(
        stderr.contains("nope.toml") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

/// SIGTERM and SIGINT both let a request that is waiting on the database finish before
/// the process exits.
#[cfg(feature = "postgres")]
#[test]
fn shutdown_lets_an_in_flight_request_finish() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    for signal in ["TERM", "INT"] {
        let db = renhice_testing::TestDb::postgres();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = command(dir.path());
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            db.url(),
        ]);
        // The readiness query must still be waiting when the lock is let go, however
        // slowly a loaded machine gets through the steps in between.
        cmd.env("RENHICE_READINESS_TIMEOUT_SECS", "120");
        let mut renhice = Renhice::spawn(cmd);
        let base = renhice.base_url();

        // Hold a lock that /readyz's query must wait for.
        let mut locker = PgConnection::establish(db.url()).unwrap();
        diesel::sql_query("BEGIN").execute(&mut locker).unwrap();
        diesel::sql_query("LOCK TABLE __diesel_schema_migrations IN ACCESS EXCLUSIVE MODE")
            .execute(&mut locker)
            .unwrap();

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let in_flight = runtime.spawn({
            let url = format!("{base}/readyz");
            async move {
                let res = reqwest::get(url).await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        });
        // The request's query is observably blocked on the lock (one waiter or more: a
        // loaded machine may queue more of the server's work behind it).
        let waiting = |locker: &mut PgConnection| -> i64 {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "(SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock')",
            ))
            .get_result(locker)
            .unwrap()
        };
        let seen = std::cell::Cell::new(0);
        let deadline = std::time::Instant::now() + Duration::from_mins(1);
        while {
            seen.set(waiting(&mut locker));
            seen.get() < 1
        } {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out: the request waits on the lock ({} waiting; in flight: {})",
                seen.get(),
                !in_flight.is_finished()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !in_flight.is_finished(),
            "the request should be waiting on the lock"
        );
        renhice.signal(signal);
        renhice.wait_for("shutting down: finishing in-flight requests");
        // Once the listener is closed, the process is still there, its request still
        // waiting.
        let address = base.trim_start_matches("http://").to_owned();
        poll_until("the listener is closed", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&address).is_err()
        });
        assert!(
            renhice.child.try_wait().unwrap().is_none(),
            "exited with a request in flight"
        );
        assert!(
            waiting(&mut locker) >= 1,
            "the request is no longer waiting"
        );
        // New connections are refused while the old request finishes.
        let refused = runtime.block_on(reqwest::get(format!("{base}/healthz")));
        assert!(
            refused.is_err(),
            "a new request was accepted during shutdown"
        );

        diesel::sql_query("COMMIT").execute(&mut locker).unwrap();
        let (status, body) = runtime.block_on(in_flight).unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(renhice.wait_exit().success(), "SIG{signal}");
        renhice.wait_for("renhice stopped");
        drop(locker);
    }
}

/// The key id in a token's header.
#[cfg(feature = "sqlite")]
fn token_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[cfg(feature = "sqlite")]
fn published_kids(base: &str) -> Vec<String> {
    let jwks: Value = block_on(async {
        reqwest::get(format!("{base}/auth/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let keys = jwks["keys"].as_array().unwrap();
    for key in keys {
        // Public halves only.
        assert_eq!(
            (key["kty"].as_str(), key["crv"].as_str()),
            (Some("EC"), Some("P-256")),
            "{key}"
        );
        assert!(key.get("d").is_none(), "a private key was published: {key}");
    }
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// `renhice token issue` in the server's directory signs with the key the server
/// created and publishes; `renhice keys rotate` adds a key that the running server
/// publishes at once and that signs the next token.
#[cfg(feature = "sqlite")]
fn tokens_are_signed_by_the_keys_the_server_publishes_and_rotate_without_restart(
    dir: &Path,
    base: &str,
) {
    let issue = || {
        let mut cmd = command(dir);
        cmd.args([
            "token",
            "issue",
            "--role",
            "system",
            "--organization",
            "00012345",
        ]);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let first = token_kid(&issue());
    assert_eq!(published_kids(base), std::slice::from_ref(&first));
    let mut cmd = command(dir);
    cmd.args(["keys", "rotate"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    let rotated = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(rotated > first, "{rotated} sorts after {first}");
    assert_eq!(published_kids(base), [first, rotated.clone()]);
    assert_eq!(token_kid(&issue()), rotated);
    // A token the registry would refuse is not printed.
    let mut cmd = command(dir);
    cmd.args([
        "token",
        "issue",
        "--role",
        "clinician",
        "--organization",
        "00012345",
    ]);
    let (ok, stderr) = run(cmd);
    assert!(!ok);
    assert!(stderr.contains("national_provider_identifier"), "{stderr}");
}

/// `renhice client register|disable|list` keep the SIHCE clients of the token endpoint,
/// refusing key sets it could not use.
#[cfg(feature = "sqlite")]
#[test]
fn clients_are_registered_listed_and_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite://clients.db?mode=rwc";
    let keys = renhice_server::auth::KeyRing::ephemeral().unwrap();
    std::fs::write(
        dir.path().join("jwks.json"),
        serde_json::to_string(&keys.jwks()).unwrap(),
    )
    .unwrap();
    let client = |args: &[&str]| {
        let mut cmd = command(dir.path());
        cmd.arg("client").args(args).args(["--database-url", url]);
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let register = ["register", "--id", "sihce-1", "--organization", "00012345"];
    let (ok, out, err) = client(&[&register[..], &["--jwks", "jwks.json"]].concat());
    assert!(ok, "{err}");
    assert!(
        out.contains("registered sihce-1 for IPRESS 00012345"),
        "{out}"
    );
    let (_, out, _) = client(&["list"]);
    assert_eq!(out, "sihce-1\t00012345\tactive\tsystem/*.cruds\n");
    // Narrowed to what it needs; a scope that is not a system's is refused.
    let (ok, _, err) = client(
        &[
            &register[..],
            &[
                "--jwks",
                "jwks.json",
                "--scope",
                "system/DocumentReference.cru",
            ],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let (_, out, _) = client(&["list"]);
    assert_eq!(
        out,
        "sihce-1\t00012345\tactive\tsystem/DocumentReference.cru\n"
    );
    // A key rotation (registered again without --scope) keeps the scopes.
    let (ok, _, err) = client(&[&register[..], &["--jwks", "jwks.json"]].concat());
    assert!(ok, "{err}");
    let (_, out, _) = client(&["list"]);
    assert!(out.ends_with("\tsystem/DocumentReference.cru\n"), "{out}");
    let (ok, _, err) = client(
        &[
            &register[..],
            &["--jwks", "jwks.json", "--scope", "patient/*.rs"],
        ]
        .concat(),
    );
    assert!(!ok && err.contains("--scope"), "{err}");
    // A key set holding a private key, a key without kid, or no keys: refused.
    let mut private: Value = serde_json::to_value(keys.jwks()).unwrap();
    private["keys"][0]["d"] = Value::from("c2VjcmV0");
    for (name, jwks, expected) in [
        ("private.json", private.to_string(), "private key"),
        (
            "nokid.json",
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#.to_owned(),
            "no kid",
        ),
        (
            "empty.json",
            r#"{"keys":[]}"#.to_owned(),
            "at least one key",
        ),
    ] {
        std::fs::write(dir.path().join(name), jwks).unwrap();
        let (ok, _, err) = client(&[&register[..], &["--jwks", name]].concat());
        assert!(!ok, "{name} was accepted");
        assert!(err.contains(expected), "{name}: {err}");
    }
    let (ok, _, err) = client(&["disable", "--id", "sihce-1"]);
    assert!(ok, "{err}");
    let (_, out, _) = client(&["list"]);
    assert_eq!(
        out,
        "sihce-1\t00012345\tdisabled\tsystem/DocumentReference.cru\n"
    );
    let (ok, _, err) = client(&["disable", "--id", "nobody"]);
    assert!(!ok);
    assert!(err.contains("no client \"nobody\""), "{err}");
}
