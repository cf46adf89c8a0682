//! HTTP server configuration (`[server]` in the configuration file).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[server]` section of the renhice configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on. The default is loopback only: exposing the registry
    /// beyond this machine is a deliberate act.
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    pub shutdown_timeout_secs: u64,
    /// Largest accepted request body, in bytes; a larger one is a 413.
    pub max_body_bytes: usize,
    /// Most entries in a transaction or batch Bundle; more is a 400 naming `Bundle.entry`.
    pub max_bundle_entries: usize,
    /// Seconds `/readyz` waits for the database before reporting it unavailable.
    pub readiness_timeout_secs: u64,
    /// PEM certificate chain for HTTPS; empty for plain HTTP (loopback only).
    pub tls_cert_file: PathBuf,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: PathBuf,
    /// PEM certificates of the CAs whose client certificates identify IPRESS (mutual
    /// TLS); empty for none.
    pub tls_client_ca_file: PathBuf,
    /// With a client CA: whether clients may (`optional`) or must (`required`) present a
    /// certificate.
    pub tls_client_auth: ClientAuth,
    /// Serve plain HTTP on an address other than loopback: only where TLS is terminated
    /// in front of the registry, on a private network.
    pub plain_http_off_loopback: bool,
    /// Milliseconds between two sealings of the audit trail into its hash chain; an
    /// event is tamper-evident once sealed. 0: the server does not seal (another
    /// process, or `renhice audit verify`, does).
    pub audit_seal_interval_ms: u64,
    /// Seconds over which the refusals of one client that cannot be attributed to a
    /// caller (401) or that a rate limit turned away (429) are recorded as one: the first
    /// in full, the rest counted in one event when the window closes, so that a client
    /// hammering the registry cannot fill its disk with audit rows. 0: each recorded.
    pub audit_refusal_window_secs: u64,
    /// Requests a second each client may make, sustained (a client is its token's
    /// subject, or its IP address without an acceptable token); 0: no limit.
    pub rate_limit_per_second: u32,
    /// Requests a client may make at once before the sustained rate applies.
    pub rate_limit_burst: u32,
    /// Where the rate limiter reads the time: the system's clock; tests give a manual
    /// one. Not configurable (not read from nor written to the configuration file).
    #[serde(skip)]
    pub rate_limit_clock: crate::limits::LimitClock,
    /// Which pushes must carry a firma digital (`auto`, `off`, `verify-if-present`,
    /// `require`); see [`crate::signatures`].
    pub signature_policy: crate::signatures::SignaturePolicy,
    /// Directory of PEM certificates trusted for signatures: self-signed roots (the
    /// IOFE root) are anchors, the others known intermediates (accredited CAs).
    pub signature_trust_dir: PathBuf,
    /// Certificate revocation lists (DER or PEM) for signature verification.
    pub signature_crl_files: Vec<PathBuf>,
    /// Where CRLs fetched from distribution points are kept across restarts; empty: in
    /// memory only.
    pub signature_crl_cache_dir: PathBuf,
    /// Seconds between two fetches of every known CRL distribution point (a new CA's is
    /// fetched when first met); 0: never fetch, use the CRL files only.
    pub signature_crl_refresh_secs: u64,
    /// Whether the OCSP responders named in signers' certificates (authority
    /// information access) are asked for their status when a signed push arrives.
    pub signature_ocsp: bool,
    /// Seconds one fetch of a CRL (from a distribution point) or of an OCSP answer may
    /// take before the check goes on without it.
    pub signature_fetch_timeout_secs: u64,
    /// Certificate policies (dotted OIDs, e.g. the IOFE's) a signer's certification path
    /// must be valid for, as RFC 5280 §6.1 processes policies; empty (the default): any
    /// policy, none required.
    pub signature_policies: Vec<String>,
    /// Whether every push is validated against the registry's profile of a push
    /// (`renhice-provide-bundle`: FHIR R4, the SubmissionSet, index entry and signed
    /// Provenance profiles) before anything else is done with it.
    pub validate_pushes: bool,
    /// Origins of browser apps allowed to call the registry (CORS), as
    /// `https://app.example` (scheme, host and port as the browser sends them); `*` for
    /// any. Empty (the default): none, only the registry's own web app, which needs none.
    pub cors_allowed_origins: Vec<String>,
    /// Accreditation runs started from the web app that may go at once (each a thread
    /// sending one request at a time to its SIHCE); 0: auditors cannot start runs here.
    pub accreditation_max_runs: usize,
    /// Seconds each request of an accreditation run may take before its test fails.
    pub accreditation_timeout_secs: u64,
    /// PEM certificates of CAs trusted for the TLS certificates of SIHCEs under
    /// accreditation, beside the system's; empty for the system's only.
    pub accreditation_ca_file: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 30,
            max_body_bytes: 16 * 1024 * 1024,
            max_bundle_entries: 1000,
            readiness_timeout_secs: 5,
            tls_cert_file: PathBuf::new(),
            tls_key_file: PathBuf::new(),
            tls_client_ca_file: PathBuf::new(),
            tls_client_auth: ClientAuth::Optional,
            plain_http_off_loopback: false,
            audit_seal_interval_ms: 1000,
            audit_refusal_window_secs: 60,
            rate_limit_per_second: 500,
            rate_limit_burst: 1000,
            rate_limit_clock: crate::limits::LimitClock::system(),
            signature_policy: crate::signatures::SignaturePolicy::Auto,
            signature_trust_dir: PathBuf::new(),
            signature_crl_files: Vec::new(),
            signature_crl_cache_dir: PathBuf::from("crl-cache"),
            signature_crl_refresh_secs: 3600,
            signature_ocsp: false,
            signature_fetch_timeout_secs: 5,
            signature_policies: Vec::new(),
            validate_pushes: true,
            cors_allowed_origins: Vec::new(),
            accreditation_max_runs: 2,
            accreditation_timeout_secs: 10,
            accreditation_ca_file: PathBuf::new(),
        }
    }
}

/// Whether clients must present a certificate (with a client CA configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// A client may present one; a connection without is served as any other.
    #[default]
    Optional,
    /// The TLS handshake fails without a valid client certificate.
    Required,
}
