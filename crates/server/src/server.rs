//! Building the actix application and running the HTTP server.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use renhice_store::Store;
use time::OffsetDateTime;

use crate::audit::{AuditWriter, Recorder};
use crate::error::to_operation_outcome;
use crate::state::AppState;
use crate::{ApiError, Authority, Metrics, ServerConfig, capability, observe, routes, tls};

/// A started server: where it listens and how to stop it.
pub struct RunningServer {
    local_addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<io::Result<()>>,
    /// Written to once more when the server has stopped: the refusals it was counting.
    recorder: web::Data<Recorder>,
}

impl RunningServer {
    /// The address the server listens on (useful with port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that can stop the server from elsewhere (a signal handler).
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops the server. Graceful: stop accepting connections and let in-flight requests
    /// finish (up to `shutdown_timeout_secs`); otherwise drop them at once.
    pub async fn stop(self, graceful: bool) -> io::Result<()> {
        self.handle.stop(graceful).await;
        self.wait().await
    }

    /// Waits until the server has stopped, then writes the counts of the refusals it was
    /// still counting, so that no refused request goes unaccounted for in the audit.
    pub async fn wait(self) -> io::Result<()> {
        let stopped = self.task.await.map_err(io::Error::other);
        self.recorder.flush_all_refusals().await;
        stopped?
    }
}

/// Binds the listening socket and starts serving on the current tokio runtime.
///
/// Signals are not handled here: the caller decides what a signal means (the `renhice`
/// binary stops gracefully on both SIGTERM and SIGINT, which actix alone would not).
pub fn start(
    config: ServerConfig,
    auth: Authority,
    store: Store,
    metrics: Metrics,
) -> io::Result<RunningServer> {
    start_with(None, config, auth, store, metrics)
}

/// [`start`] on a socket already bound (its address is `config.listen`'s stand-in): for
/// callers that must know the port before the server is configured, as a test whose
/// identity provider needs the registry's URL.
pub fn start_on(
    listener: std::net::TcpListener,
    config: ServerConfig,
    auth: Authority,
    store: Store,
    metrics: Metrics,
) -> io::Result<RunningServer> {
    start_with(Some(listener), config, auth, store, metrics)
}

/// The audit middleware's recorder, and the task that writes the counts of refusals
/// whose client went quiet without waiting for it to come back.
fn recorder(config: &ServerConfig, audit: AuditWriter, audience: String) -> web::Data<Recorder> {
    let refusal_window = Duration::from_secs(config.audit_refusal_window_secs);
    let recorder = web::Data::new(Recorder::new(
        audit,
        audience,
        routes::classify,
        crate::audit::Refusals::new(refusal_window, config.rate_limit_clock.clone()),
    ));
    if !refusal_window.is_zero() {
        let flusher = recorder.clone();
        let period = (refusal_window / 4).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                flusher.flush_refusals().await;
            }
        });
    }
    recorder
}

fn start_with(
    listener: Option<std::net::TcpListener>,
    mut config: ServerConfig,
    auth: Authority,
    store: Store,
    metrics: Metrics,
) -> io::Result<RunningServer> {
    if let Some(l) = &listener {
        config.listen = l.local_addr()?;
    }
    crate::auth::signin::check_config(&auth.config)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    } else {
        config.workers
    };
    let listen = config.listen;
    let tls = tls::server_config(&config)?;
    check_plain_http(&config, tls.is_some())?;
    crate::index_upgrades::apply(&store)?;
    let shutdown_timeout = config.shutdown_timeout_secs;
    crate::fhir::conventions::check_origins(&config.cors_allowed_origins)?;
    let cors_origins = config.cors_allowed_origins.clone();
    let max_body = config.max_body_bytes;
    let signatures = Arc::new(crate::signatures::Signatures::load(
        config.signature_policy,
        crate::signatures::SignatureSources {
            trust_dir: config.signature_trust_dir.clone(),
            crl_files: config.signature_crl_files.clone(),
            crl_cache_dir: config.signature_crl_cache_dir.clone(),
            crl_refresh_secs: config.signature_crl_refresh_secs,
            ocsp: config.signature_ocsp,
            fetch_timeout: Duration::from_secs(config.signature_fetch_timeout_secs.max(1)),
            policies: config.signature_policies.clone(),
        },
    )?);
    signatures.spawn_refresher();
    let audit = AuditWriter::start(
        store.clone(),
        Duration::from_millis(config.audit_seal_interval_ms),
    );
    let recorder = recorder(&config, audit.clone(), auth.config.audience.clone());
    let stop_recorder = recorder.clone();
    let metrics = Arc::new(metrics);
    let limits = crate::limits::Limits::with_clock(
        config.rate_limit_per_second,
        config.rate_limit_burst,
        config.rate_limit_clock.clone(),
    );
    let accreditation = Arc::new(crate::accreditation::runners::Runners::new(&config)?);
    let capability_statement = capability::capability_statement(
        OffsetDateTime::now_utc(),
        &auth.config.issuer,
        !config.cors_allowed_origins.is_empty(),
    );
    let state = web::Data::new(AppState {
        accreditation,
        store,
        audit,
        limits,
        signatures,
        config,
        auth,
        metrics,
        sign_in: Arc::new(crate::auth::sessions::Sessions::new(routes::permission)),
        capability_statement,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(recorder.clone())
            .app_data(web::Data::from(Arc::clone(&state.metrics)))
            .app_data(web::PayloadConfig::new(max_body))
            // Innermost: FHIR's REST conventions (negotiation, conditional reads, Prefer,
            // _summary), so the audit records their refusals too.
            .wrap(from_fn(crate::fhir::conventions::apply))
            // Then the audit, which sees the handlers' errors as themselves.
            .wrap(from_fn(crate::audit::record))
            // Cross-origin browser apps, of the configured origins only (its refusals
            // become OperationOutcomes in the error handlers around it).
            .wrap(crate::fhir::conventions::cors(&cors_origins))
            .wrap(ErrorHandlers::new().default_handler(to_operation_outcome))
            // FHIR XML for clients that ask for it, the error handlers' outcomes included.
            .wrap(from_fn(crate::fhir::conventions::answer_format))
            .wrap(from_fn(observe::observe))
            // Outermost: what leaves is compressed for clients that accept it (the web
            // app on a slow line, FHIR clients that ask).
            // A trailing slash names the same resource (`POST /fhir/` is a transaction).
            .wrap(actix_web::middleware::NormalizePath::trim())
            .wrap(actix_web::middleware::Compress::default())
            .configure(routes::configure)
            .default_service(web::to(route_not_found))
    })
    .on_connect(tls::on_connect)
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    // Idle keep-alive connections must not hold a graceful shutdown open.
    .keep_alive(Duration::from_secs(30));
    let server = match (tls, listener) {
        (Some(tls), Some(l)) => server.listen_rustls_0_23(l, tls)?,
        (None, Some(l)) => server.listen(l)?,
        (Some(tls), None) => server.bind_rustls_0_23(listen, tls)?,
        (None, None) => server.bind(listen)?,
    };
    let local_addr = server.addrs().first().copied().unwrap_or(listen);
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(RunningServer {
        local_addr,
        handle,
        task,
        recorder: stop_recorder,
    })
}

/// Refuses plain HTTP off loopback unless TLS ends in front of the registry.
fn check_plain_http(config: &ServerConfig, tls: bool) -> io::Result<()> {
    let listen = config.listen;
    if !tls && !listen.ip().is_loopback() && !config.plain_http_off_loopback {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "plain HTTP is served on loopback only, and {listen} is not: give the registry \
                 a certificate (server.tls_cert_file and tls_key_file), or, where TLS ends in \
                 front of it on a private network, set server.plain_http_off_loopback"
            ),
        ));
    }
    Ok(())
}

async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        path: req.path().to_owned(),
    })
}
