//! `renhice`: the command line of the national registry of electronic health records.
//!
//! `renhice serve` runs the registry. With no configuration at all it opens (creating it
//! on first start) the SQLite database `renhice.db` in the working directory, applies
//! the migrations and listens on `127.0.0.1:8080`.

mod accredit;
mod audit;
mod bench;
mod clients;
mod config;
mod convert;
mod logging;
mod signatures;
mod tokens;
mod validation;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use renhice_server::auth::KeyRing;
use renhice_server::{Authority, Metrics};
use renhice_store::Store;

/// renhice: FHIR R4 national registry of electronic health records.
#[derive(Debug, Parser)]
#[command(name = "renhice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the registry server.
    Serve(ServeArgs),
    /// Load a synthetic nation slice into a running registry and measure pushes and
    /// queries (see docs/benchmarks.md).
    Bench(bench::BenchArgs),
    /// Access tokens signed by the registry's keys.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// The registry's token signing keys.
    #[command(subcommand)]
    Keys(tokens::KeysCommand),
    /// SIHCE systems that get access tokens with their own keys (POST /auth/token).
    #[command(subcommand)]
    Client(clients::ClientCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Verify the digital signatures of a Bundle or Provenance. Exit code: 0 every
    /// signature PASSED, 1 one FAILED, 3 INDETERMINATE, 4 no signature, 5 unreadable input.
    Verify(signatures::VerifyArgs),
    /// Sign a Bundle with a PEM key and certificate chain (for tests and demonstrations).
    Sign(signatures::SignArgs),
    /// Validate FHIR JSON resources or Bundles against FHIR R4 and the Peruvian and
    /// registry profiles. Exit code: 0 valid, 1 errors, 3 warnings only, 5 unreadable input.
    Validate(validation::ValidateArgs),
    /// Convert FHIR resources between JSON and XML through the model (strictly, unless
    /// --lenient). Exit code: 0 every file converted, 1 some file is not FHIR.
    Convert(convert::ConvertArgs),
    /// Run a conformance suite (profiles/suites/) against a SIHCE's FHIR endpoint and
    /// write the reports (testreport.json, junit.xml, report.html). Exit code: 0 every test passed,
    /// 1 some failed, 5 the suite or an option cannot be used.
    Accredit(accredit::AccreditArgs),
}

#[derive(Debug, clap::Args)]
#[allow(
    clippy::doc_markdown,
    reason = "clap shows these comments as --help text, where backticks would show"
)]
struct ServeArgs {
    /// Configuration file (TOML); see renhice.example.toml for every key.
    #[arg(long, env = "RENHICE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 [env: RENHICE_LISTEN].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Database URL: postgres://… or sqlite://PATH [env: RENHICE_DATABASE_URL].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

fn main() -> ExitCode {
    // One crypto provider for every rustls user of the process (the server's TLS, and
    // reqwest in `renhice bench` when it is built with rustls but no provider of its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Token(command) => tokens::token(&command),
        Command::Keys(command) => tokens::keys(&command),
        Command::Client(command) => clients::client(&command),
        Command::Audit(command) => audit::audit(&command),
        Command::Verify(args) => return signatures::verify(&args),
        Command::Sign(args) => signatures::sign(&args),
        Command::Validate(args) => return validation::validate(&args),
        Command::Accredit(args) => return accredit::accredit(&args),
        Command::Convert(args) => return convert::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "renhice stopped with an error");
            eprintln!("renhice: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let loaded = config::load(&config::Overrides {
        config_file: args.config.clone(),
        listen: args.listen,
        database_url: args.database_url.clone(),
    })?;
    logging::init(&loaded.config.log)?;
    for name in &loaded.unknown_env {
        tracing::warn!(variable = %name, "ignoring unknown RENHICE_ environment variable");
    }
    let config = loaded.config;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Store::connect(&config.database)
            .await
            .context("cannot open the database")?;
        let database = store.display_url();
        // After the database: a start that fails on its URL creates nothing.
        let keys = KeyRing::open_or_create(&config.auth.keys_dir).with_context(|| {
            format!(
                "cannot open the token signing keys in {}",
                config.auth.keys_dir.display()
            )
        })?;
        tracing::info!(
            keys = %config.auth.keys_dir.display(),
            signing_key = keys.kids().last().map_or("", String::as_str),
            "token signing keys loaded"
        );
        if let Some(warning) = config::issuer_mismatch(&config) {
            tracing::warn!("{warning}");
        }
        let web_app = format!(
            "{}/",
            config
                .auth
                .audience
                .trim_end_matches('/')
                .trim_end_matches("/fhir")
        );
        if config.auth.identity_providers.is_empty() {
            tracing::warn!(
                web_app = %web_app,
                "no identity provider is configured (auth.identity_providers): the web app \
                 is served, but people cannot sign in; see docs/sign-in.md for a development one"
            );
        } else {
            let providers: Vec<String> = config
                .auth
                .identity_providers
                .iter()
                .map(|p| format!("{} ({})", p.name, p.issuer))
                .collect();
            tracing::info!(web_app = %web_app, providers = %providers.join(", "), "people sign in at these identity providers");
        }
        let authority = Authority::new(config.auth.clone(), keys);
        // Listening for the signals before saying the server listens: a SIGTERM sent the
        // moment after must stop it gracefully, not kill it.
        let shutdown = shutdown_signal();
        let server = renhice_server::start(config.server, authority, store, Metrics::new())
            .context("cannot start the HTTP server")?;
        tracing::info!(
            address = %server.local_addr(),
            metadata = format!("http://{}/fhir/metadata", server.local_addr()),
            database = %database,
            "renhice is listening"
        );
        tracing::info!(
            example = "renhice token issue --role system --organization 00012345",
            jwks = format!("http://{}/auth/jwks", server.local_addr()),
            "access tokens are signed by these keys; their public halves are at the jwks address"
        );
        let handle = server.handle();
        tokio::spawn(async move {
            let signal = shutdown.await;
            tracing::info!(signal, "shutting down: finishing in-flight requests");
            handle.stop(true).await;
        });
        server.wait().await.context("the HTTP server failed")?;
        tracing::info!("renhice stopped");
        Ok(())
    })
}

/// Starts listening for SIGTERM and SIGINT (Ctrl-C) at once, and returns a future that
/// names the one that came. Both mean a graceful stop: an operator's Ctrl-C must not cut
/// a push off half-way any more than an orchestrator's SIGTERM.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                },
                (term, int) => {
                    let e = term
                        .err()
                        .or(int.err())
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                    let _ = tokio::signal::ctrl_c().await;
                    "SIGINT"
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
