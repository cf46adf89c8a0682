//! HTTPS with rustls (TLS 1.2 and 1.3 only), and mutual TLS whose client certificates
//! identify an IPRESS.
//!
//! The server certificate chain and key are PEM files (`server.tls_cert_file`,
//! `server.tls_key_file`). With `server.tls_client_ca_file`, clients may (or, with
//! `tls_client_auth = "required"`, must) present a certificate issued under those CAs;
//! a certificate names its IPRESS by a subject alternative name URI
//! `urn:renipress:<8-digit code>`. A request on such a connection is accepted only with
//! a SIHCE's or clinician's token for that same IPRESS (`auth::access`), so a stolen
//! token is no use without the IPRESS's private key.
//!
//! Without a certificate the server speaks plain HTTP, on a loopback address only
//! (development), unless `server.plain_http_off_loopback` says TLS is terminated in
//! front of it.

use std::any::Any;
use std::io;
use std::path::Path;
use std::sync::Arc;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::ServerConfig;

/// The URI prefix of the subject alternative name that names a certificate's IPRESS.
pub const RENIPRESS_URI_PREFIX: &str = "urn:renipress:";

pub use crate::config::ClientAuth;

/// What the client certificate of a connection says: the IPRESS it names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerCertificate {
    /// The RENIPRESS code of its `urn:renipress:` SAN.
    pub(crate) renipress: Option<String>,
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: {message}", path.display()),
    )
}

/// The rustls configuration `config` asks for, or `None` for plain HTTP.
pub(crate) fn server_config(config: &ServerConfig) -> io::Result<Option<rustls::ServerConfig>> {
    let (cert, key) = (&config.tls_cert_file, &config.tls_key_file);
    match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
        (true, true) => {
            if !config.tls_client_ca_file.as_os_str().is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "server.tls_client_ca_file needs server.tls_cert_file and tls_key_file: \
                     client certificates are a TLS feature",
                ));
            }
            return Ok(None);
        }
        (false, false) => {}
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "server.tls_cert_file and server.tls_key_file go together",
            ));
        }
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| invalid(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(cert, e))?;
    if chain.is_empty() {
        return Err(invalid(cert, "holds no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(io::Error::other)?;
    let ca_file = &config.tls_client_ca_file;
    let builder = if ca_file.as_os_str().is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(ca_file).map_err(|e| invalid(ca_file, e))? {
            roots
                .add(ca.map_err(|e| invalid(ca_file, e))?)
                .map_err(|e| invalid(ca_file, e))?;
        }
        if roots.is_empty() {
            return Err(invalid(ca_file, "holds no PEM certificate"));
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
        let verifier = match config.tls_client_auth {
            ClientAuth::Optional => verifier.allow_unauthenticated(),
            ClientAuth::Required => verifier,
        }
        .build()
        .map_err(|e| invalid(ca_file, e))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut tls = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid(cert, format!("the key does not fit the certificate: {e}")))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(tls))
}

/// Remembers, per connection, the IPRESS its client certificate names (actix's
/// `on_connect` hook; read back with `HttpRequest::conn_data`).
pub(crate) fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    let Some(stream) = connection.downcast_ref::<TlsStream<TcpStream>>() else {
        return;
    };
    let (_, session) = stream.get_ref();
    if let Some(leaf) = session.peer_certificates().and_then(<[_]>::first) {
        data.insert(PeerCertificate {
            renipress: renipress_of(leaf.as_ref()),
        });
    }
}

/// The RENIPRESS code a certificate's `urn:renipress:` SAN names.
fn renipress_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|name| match name {
        x509_parser::extensions::GeneralName::URI(uri) => uri
            .strip_prefix(RENIPRESS_URI_PREFIX)
            .filter(|code| renhice_model::peru::Renipress::parse(code).is_ok())
            .map(str::to_owned),
        _ => None,
    })
}
