//! `renhice verify` and `renhice sign`: the signature verifier and signer on files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use renhice_model::Primitive;
use renhice_model::peru::PersonId;
use renhice_model::resources::{Bundle, BundleEntry, Provenance, ProvenanceAgent, Resource};
use renhice_model::types::Reference;
use renhice_model::values::Instant;
use renhice_signature::datetime::{parse_rfc3339, rfc3339};
use renhice_signature::sign::{self, SignOptions, SignatureFormat, SigningKey};
use renhice_signature::{
    Crl, Indication, OcspResponse, RevocationStore, Target, TrustStore, Verifier,
};
use time::OffsetDateTime;

/// Exit codes of `renhice verify` (2 is taken by usage errors).
pub(crate) mod exit {
    /// Every signature PASSED.
    pub(crate) const PASSED: u8 = 0;
    /// Some signature FAILED.
    pub(crate) const FAILED: u8 = 1;
    /// No signature failed, some are INDETERMINATE.
    pub(crate) const INDETERMINATE: u8 = 3;
    /// The file has no signature.
    pub(crate) const UNSIGNED: u8 = 4;
    /// The input, the trust anchors or the CRLs could not be read.
    pub(crate) const ERROR: u8 = 5;
}

/// How `renhice verify` prints its reports.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Output {
    /// One block of text per signature, one line per check.
    Text,
    /// A JSON array of reports (every field).
    Json,
    /// A FHIR `OperationOutcome` (one issue per verdict and per check).
    Fhir,
}

/// `renhice verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// A Bundle (its own signature and those of its Provenance entries) or a Provenance
    /// (FHIR JSON), or a signed PDF (`PAdES`: every signature field, with the document
    /// time-stamps of later revisions).
    file: PathBuf,
    /// Directory of trusted certificates (PEM or DER): self-signed roots are the trust
    /// anchors, the others known intermediates; certificates in its anchors/ subdirectory
    /// are anchors whatever their issuer; trusted lists (ETSI TS 119 612) in its
    /// trusted-lists/ subdirectory, verified with the certificates of trusted-lists/signers/,
    /// add their CAs as anchors and their time-stamping services as authorities;
    /// certificates in its tsa/ subdirectory are trusted time-stamp authorities.
    #[arg(long, value_name = "DIR")]
    trust: PathBuf,
    /// A certificate policy (dotted OID) the signer's path must be valid for; repeat for
    /// several (any of them will do). Without it, any policy, none required.
    #[arg(long, value_name = "OID")]
    policy: Vec<String>,
    /// A certificate revocation list (DER or PEM); repeat for several.
    #[arg(long, value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// An OCSP response (DER, as a responder answers, e.g. saved by `openssl ocsp
    /// -respout`); repeat for several.
    #[arg(long, value_name = "FILE")]
    ocsp: Vec<PathBuf>,
    /// The time to verify for (RFC 3339); now when not given.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Resources the signatures of a Provenance sign, or that `Signature.who` names
    /// (FHIR JSON); repeat for several.
    #[arg(long, value_name = "FILE")]
    target: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

/// Runs `renhice verify`; the exit code says the outcome (see [`exit`]).
pub(crate) fn verify(args: &VerifyArgs) -> ExitCode {
    match run_verify(args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("renhice: error: {error:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn run_verify(args: &VerifyArgs) -> anyhow::Result<u8> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    // A PDF (PAdES) is known by its header; anything else must be FHIR JSON.
    let pdf = bytes.starts_with(b"%PDF-");
    let resource = if pdf {
        None
    } else {
        Some(Resource::from_json(&bytes).with_context(|| {
            format!(
                "{} is neither a PDF nor a FHIR R4 resource",
                args.file.display()
            )
        })?)
    };
    let others = args
        .target
        .iter()
        .map(|path| read_resource(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let verifier = load_verifier(&args.trust, &args.crl, &args.policy)?;
    for path in &args.ocsp {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let response = OcspResponse::from_der(&bytes)
            .with_context(|| format!("{} is not a usable OCSP response", path.display()))?;
        verifier.revocation().add_ocsp(&response);
    }
    let at = match &args.at {
        Some(text) => {
            parse_rfc3339(text).with_context(|| format!("--at {text:?} is not an RFC 3339 time"))?
        }
        None => OffsetDateTime::now_utc(),
    };
    for list in verifier.trust().trusted_lists() {
        if !list.is_current(at) {
            eprintln!(
                "renhice: warning: the trusted list of {} (sequence {}) was to be replaced by {}: its anchors may be out of date",
                list.territory,
                list.sequence_number
                    .map_or_else(|| "?".to_owned(), |n| n.to_string()),
                list.next_update
                    .map_or_else(|| "?".to_owned(), renhice_signature::datetime::rfc3339),
            );
        }
    }
    let reports = match &resource {
        Some(resource) => verifier.verify_resource(resource, &others, at),
        None => verifier
            .verify_pdf(&bytes, at)
            .with_context(|| format!("{}", args.file.display()))?,
    };
    match args.output {
        Output::Text => {
            if reports.is_empty() {
                println!("{}: no digital signature found", args.file.display());
            }
            for report in &reports {
                println!("{report}");
            }
        }
        Output::Json => {
            let json: Vec<_> = reports
                .iter()
                .map(renhice_signature::SignatureReport::to_json)
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Output::Fhir => {
            let outcome = renhice_signature::operation_outcome(&reports);
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        }
    }
    Ok(match renhice_signature::overall(&reports) {
        None => exit::UNSIGNED,
        Some(Indication::Passed) => exit::PASSED,
        Some(Indication::Indeterminate) => exit::INDETERMINATE,
        Some(Indication::Failed) => exit::FAILED,
    })
}

/// A verifier from a trust directory and CRL files; the path must be valid for one of
/// `policies` when some are given.
pub(crate) fn load_verifier(
    trust: &Path,
    crls: &[PathBuf],
    policies: &[String],
) -> anyhow::Result<Verifier> {
    let mut store = TrustStore::load_dir(trust)?;
    if let Some(bad) = policies.iter().find(|policy| {
        policy.split('.').count() < 2
            || !policy
                .split('.')
                .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
    }) {
        anyhow::bail!(
            "--policy {bad:?} is not an object identifier (dotted digits, as 2.16.604.1.1)"
        );
    }
    // Naming policies means requiring them (RFC 5280 would otherwise accept a path valid
    // for none of them).
    store.set_policy_settings(renhice_signature::PolicySettings {
        acceptable: policies.to_vec(),
        require_explicit: !policies.is_empty(),
        ..renhice_signature::PolicySettings::default()
    });
    let mut revocation = RevocationStore::new();
    for path in crls {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        for crl in Crl::all_from_bytes(&bytes).with_context(|| format!("{}", path.display()))? {
            revocation.add(crl);
        }
    }
    Ok(Verifier::new(store, revocation))
}

fn read_resource(path: &Path) -> anyhow::Result<Resource> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Resource::from_json(&bytes)
        .with_context(|| format!("{} is not a FHIR R4 resource", path.display()))
}

/// The signature format of `renhice sign`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    /// `application/jose`: JWS with a JAdES-style protected header.
    Jose,
    /// `application/pkcs7-signature`: detached CMS.
    Cms,
}

/// `renhice sign`.
#[derive(Debug, clap::Args)]
#[allow(
    clippy::doc_markdown,
    reason = "clap shows these comments as --help text, where backticks would show"
)]
pub(crate) struct SignArgs {
    /// The Bundle to sign (FHIR JSON). A document Bundle gets Bundle.signature; any other
    /// Bundle (a transaction to push, say) gets a Provenance entry whose signature covers
    /// the targets.
    file: PathBuf,
    /// The signer's private key (PEM, PKCS #8: P-256, P-384 or RSA).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The signer's certificate followed by its intermediates (PEM).
    #[arg(long, value_name = "FILE")]
    chain: PathBuf,
    /// Signature format.
    #[arg(long, value_enum, default_value = "jose")]
    format: Format,
    /// Algorithm (ES256, ES384, RS256, PS256…); the key's usual one when not given.
    #[arg(long, value_name = "ALG")]
    alg: Option<String>,
    /// Signing time (RFC 3339); now when not given.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Signature.who: a reference (Practitioner/123); the DNI of the certificate subject
    /// when not given.
    #[arg(long, value_name = "REFERENCE")]
    who: Option<String>,
    /// For a non-document Bundle: the fullUrl of an entry to sign; repeat for several.
    /// Every DocumentReference entry when not given.
    #[arg(long, value_name = "FULLURL")]
    target: Vec<String>,
    /// A time-stamp authority's RFC 3161 address (http or https): the
    /// signature gets a signature time-stamp (JAdES sigTst, CAdES signature-time-stamp),
    /// the proof that it existed then (ETSI baseline B-T).
    #[arg(long, value_name = "URL")]
    tsa: Option<String>,
    /// Where to write the signed Bundle; standard output when not given.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// The largest time-stamp reply read (a token with its certificates is a few KB).
const MAX_TSA_REPLY: usize = 256 * 1024;

/// A time-stamp authority reached over HTTP (RFC 3161 §3.4).
struct HttpTsa {
    url: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl HttpTsa {
    fn new(url: &str) -> anyhow::Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--tsa {url:?} is not an http:// or https:// URL");
        }
        Ok(Self {
            url: url.to_owned(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            // A time-stamp request is a POST to one URL: a redirect (which may turn it into
            // a GET elsewhere) is an error to report, not to follow.
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }
}

impl renhice_signature::TimeStampAuthority for HttpTsa {
    fn request(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        self.runtime.block_on(async {
            let response = self
                .client
                .post(&self.url)
                .header("Content-Type", "application/timestamp-query")
                .header("Accept", "application/timestamp-reply")
                .body(request.to_vec())
                .send()
                .await
                .map_err(|error| format!("{}: {error}", self.url))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("{} answered HTTP {status}", self.url));
            }
            let kind = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            // RFC 3161 §3.4 names application/timestamp-reply; some authorities answer
            // timestamp-response or a bare octet stream. An HTML page is a proxy's.
            if !(kind.is_empty()
                || kind.starts_with("application/timestamp-")
                || kind.starts_with("application/octet-stream"))
            {
                return Err(format!(
                    "{} answered {kind}, not an RFC 3161 reply (application/timestamp-reply)",
                    self.url
                ));
            }
            let mut body = Vec::new();
            let mut response = response;
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|error| format!("{}: {error}", self.url))?
            {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_TSA_REPLY {
                    return Err(format!(
                        "{} answered more than {MAX_TSA_REPLY} bytes; a time-stamp reply is a few kilobytes",
                        self.url
                    ));
                }
            }
            Ok(body)
        })
    }
}

/// Runs `renhice sign`.
pub(crate) fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let Resource::Bundle(mut bundle) = read_resource(&args.file)? else {
        bail!(
            "{} is not a Bundle; renhice sign signs Bundles",
            args.file.display()
        );
    };
    let key_pem =
        std::fs::read(&args.key).with_context(|| format!("cannot read {}", args.key.display()))?;
    let chain_pem = std::fs::read(&args.chain)
        .with_context(|| format!("cannot read {}", args.chain.display()))?;
    let key = SigningKey::from_pem(&key_pem, &chain_pem)?;
    let signing_time = match &args.at {
        Some(text) => {
            parse_rfc3339(text).with_context(|| format!("--at {text:?} is not an RFC 3339 time"))?
        }
        None => OffsetDateTime::now_utc(),
    };
    let who = if let Some(reference) = &args.who {
        Reference::url(reference)
    } else {
        let signer = &key.chain()[0];
        let dni = signer
            .identifiers()
            .iter()
            .find_map(|attribute| {
                let number = attribute.rsplit(['-', ' ', ':']).next()?;
                PersonId::dni(number).ok()
            })
            .with_context(|| {
                format!(
                    "the certificate \"{}\" carries no DNI; say who signs with --who",
                    signer.subject()
                )
            })?;
        Reference::by_identifier(dni.to_identifier())
    };
    let options = SignOptions {
        format: match args.format {
            Format::Jose => SignatureFormat::Jose,
            Format::Cms => SignatureFormat::Cms,
        },
        algorithm: args.alg.clone(),
        signing_time,
        who: who.clone(),
        commitment: None,
        canonicalization: None,
    };
    let is_document = bundle
        .r#type
        .as_ref()
        .and_then(|kind| kind.value.as_deref())
        == Some("document");
    let tsa = args.tsa.as_deref().map(HttpTsa::new).transpose()?;
    if is_document {
        sign::sign_bundle(&mut bundle, &key, &options)?;
        if let (Some(tsa), Some(signature)) = (&tsa, bundle.signature.as_deref_mut()) {
            sign::add_timestamp(signature, tsa)?;
        }
    } else {
        add_signed_provenance(&mut bundle, &args.target, &key, &options, who, tsa.as_ref())?;
    }
    let json = Resource::Bundle(bundle).to_json_string();
    match &args.out {
        Some(path) => std::fs::write(path, json)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{json}"),
    }
    Ok(())
}

/// Adds a Provenance entry signing the entries named by `targets` (every
/// DocumentReference when empty).
fn add_signed_provenance(
    bundle: &mut Bundle,
    targets: &[String],
    key: &SigningKey,
    options: &SignOptions,
    who: Reference,
    tsa: Option<&HttpTsa>,
) -> anyhow::Result<()> {
    let mut signed = Vec::new();
    for entry in &bundle.entry {
        let (Some(full_url), Some(resource)) = (
            entry.full_url.as_ref().and_then(|url| url.value.as_deref()),
            entry.resource.as_ref(),
        ) else {
            continue;
        };
        let chosen = if targets.is_empty() {
            matches!(resource, Resource::DocumentReference(_))
        } else {
            targets.iter().any(|target| target == full_url)
        };
        if chosen {
            signed.push((full_url.to_owned(), resource));
        }
    }
    if let Some(missing) = targets
        .iter()
        .find(|target| !signed.iter().any(|(url, _)| url == *target))
    {
        bail!("no entry of the Bundle has fullUrl {missing:?}");
    }
    if signed.is_empty() {
        bail!(
            "the Bundle has no DocumentReference entry (with a fullUrl) to sign; name entries with --target"
        );
    }
    let recorded = Instant::parse(rfc3339(options.signing_time)).context("signing time")?;
    let mut provenance = Provenance {
        target: signed.iter().map(|(url, _)| Reference::url(url)).collect(),
        recorded: Some(Primitive::new(recorded)),
        agent: vec![ProvenanceAgent {
            who: Some(Box::new(who)),
            ..ProvenanceAgent::default()
        }],
        ..Provenance::default()
    };
    let targets: Vec<_> = signed
        .iter()
        .map(|(reference, resource)| Target {
            reference,
            resource,
        })
        .collect();
    sign::sign_provenance(&mut provenance, &targets, key, options)?;
    if let (Some(tsa), Some(signature)) = (tsa, provenance.signature.last_mut()) {
        sign::add_timestamp(signature, tsa)?;
    }
    let full_url = format!("urn:uuid:{}", uuid_like(&provenance));
    bundle.entry.push(BundleEntry {
        full_url: Some(Primitive::new(full_url)),
        resource: Some(Resource::Provenance(Box::new(provenance))),
        request: transaction_request(bundle),
        ..BundleEntry::default()
    });
    Ok(())
}

/// A `request` for the new entry when the Bundle is a transaction or batch.
fn transaction_request(
    bundle: &Bundle,
) -> Option<Box<renhice_model::resources::BundleEntryRequest>> {
    let kind = bundle
        .r#type
        .as_ref()
        .and_then(|kind| kind.value.as_deref());
    matches!(kind, Some("transaction" | "batch")).then(|| {
        Box::new(renhice_model::resources::BundleEntryRequest {
            method: Some(Primitive::new("POST".to_owned())),
            url: Some(Primitive::new("Provenance".to_owned())),
            ..Default::default()
        })
    })
}

/// A UUID-shaped name for the Provenance entry, from the digest of its signature value,
/// which is unique to this signature.
fn uuid_like(provenance: &Provenance) -> String {
    let data = provenance
        .signature
        .first()
        .and_then(|signature| signature.data.as_ref())
        .and_then(|data| data.value.as_deref())
        .unwrap_or_default();
    let digest = renhice_signature::Hash::Sha256.digest(data.as_bytes());
    let hex = digest.iter().take(16).fold(String::new(), |mut hex, byte| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
