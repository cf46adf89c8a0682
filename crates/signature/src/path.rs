//! Trust anchors and certification paths (RFC 5280 §6), evaluated at the signing time.
//!
//! Paths are built from the signer certificate upwards, by issuer name and (where both
//! certificates carry them) key identifiers, through the certificates the signature
//! brings and the intermediates of the trust store, until a trust anchor. Every candidate
//! path is checked; the first that satisfies every rule is reported, else the first
//! candidate with the rule it breaks.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::cert::{Certificate, CertificateError, key_usage};
use crate::datetime::rfc3339;
use crate::error::{CryptoError, PathError, SignatureError};
use crate::policy::PolicySettings;
use crate::profile::{ProfileError, ProfileRule};
use crate::report::{Check, CheckResult};
use crate::trusted_list::TrustedList;

/// Paths longer than this are not built (a loop guard; real PKIs have 2 to 4 levels).
const MAX_DEPTH: usize = 8;
/// At most this many candidate paths are tried.
const MAX_CANDIDATES: usize = 16;
/// At most this many partial paths are extended while building: certificates a signer
/// brings (all named alike, say) must not make the search exponential.
const MAX_STEPS: usize = 256;
/// At most this many certificates a signature brings are looked at.
const MAX_EXTRA: usize = 32;
/// Certificates met in signatures that are kept parsed; the cache starts afresh when full.
const PARSED_CACHE: usize = 4096;

/// Why a trust store could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A file or the directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file holds no certificate, or a broken one.
    #[error("{path}: {source}")]
    Certificate {
        /// The path.
        path: String,
        /// What is wrong.
        source: CertificateError,
    },
    /// A trusted list in the directory cannot be used.
    #[error("{path}: {source}")]
    TrustedList {
        /// The list's path.
        path: String,
        /// Why.
        source: crate::trusted_list::TrustedListError,
    },
    /// The directory holds no trust anchor (self-issued certificate).
    #[error("{0} holds no trust anchor (no self-signed root certificate)")]
    NoAnchor(String),
}

/// The configured trust: anchors (self-signed roots, such as RENIEC's ECERNEP root) and
/// known intermediates (the accredited CAs), plus a cache of certificate signatures
/// already verified, so that verifying many acts signed under the same CA costs one
/// signature check per act rather than one per certificate.
#[derive(Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
    intermediates: Vec<Certificate>,
    verified: Mutex<HashSet<([u8; 32], [u8; 32])>>,
    /// Certificates met in signatures, parsed, by DER: the same signers sign many acts.
    parsed: Mutex<std::collections::HashMap<Vec<u8>, Certificate>>,
    /// The policy inputs of path validation.
    policy: PolicySettings,
    /// The trusted lists whose anchors were added.
    trusted_lists: Vec<TrustedList>,
    /// The time-stamping authorities whose tokens may prove a signature's time: a
    /// certificate that merely chains to an anchor may not (any subscriber of an
    /// accredited CA could otherwise date signatures).
    timestamp_authorities: Vec<Certificate>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("anchors", &self.anchors)
            .field("intermediates", &self.intermediates)
            .finish_non_exhaustive()
    }
}

impl TrustStore {
    /// An empty store (trusts nothing).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a certificate: a self-issued one is a trust anchor, any other a known
    /// intermediate (which must itself chain to an anchor to be of use). To trust a CA
    /// that is not self-issued, use [`TrustStore::add_anchor`].
    pub fn add(&mut self, certificate: Certificate) {
        if certificate.is_self_issued() {
            self.add_anchor(certificate);
        } else {
            self.add_intermediate(certificate);
        }
    }

    /// Sets the policy inputs of path validation (by default, any policy is accepted and
    /// none is required).
    pub fn set_policy_settings(&mut self, settings: PolicySettings) {
        self.policy = settings;
    }

    /// The policy inputs of path validation.
    #[must_use]
    pub fn policy_settings(&self) -> &PolicySettings {
        &self.policy
    }

    /// Adds a trust anchor: the name and the key of its certificate are trusted, whether
    /// it is a self-signed root or a CA certified by another (RFC 5280 §6.1.1 (d); a
    /// trusted list may name an accredited CA rather than its root). Paths end at it; its
    /// own issuer is not looked for, and it is exempt from the certificate profile.
    pub fn add_anchor(&mut self, certificate: Certificate) {
        if !self.anchors.iter().any(|held| held.same_as(&certificate)) {
            self.anchors.push(certificate);
        }
    }

    /// Adds a known intermediate: a certificate paths may go through, trusted only if a
    /// path through it reaches an anchor. Self-issued ones (CA key rollover certificates)
    /// are used like any other.
    pub fn add_intermediate(&mut self, certificate: Certificate) {
        if !self
            .intermediates
            .iter()
            .any(|held| held.same_as(&certificate))
        {
            self.intermediates.push(certificate);
        }
    }

    /// Adds the anchors of a trusted list whose signature verified (every certificate of
    /// its CA services under a status that allows relying on them); how many.
    pub fn add_trusted_list(&mut self, list: TrustedList) -> usize {
        let before = self.anchors.len();
        for certificate in list.anchors() {
            self.add_anchor(certificate.clone());
        }
        for certificate in list.timestamp_authorities() {
            self.add_timestamp_authority(certificate.clone());
        }
        self.trusted_lists.push(list);
        self.anchors.len() - before
    }

    /// Trusts `certificate` to sign time-stamps (its path to an anchor is still
    /// required).
    pub fn add_timestamp_authority(&mut self, certificate: Certificate) {
        if !self
            .timestamp_authorities
            .iter()
            .any(|held| held.same_as(&certificate))
        {
            self.timestamp_authorities.push(certificate);
        }
    }

    /// Whether `certificate` is a trusted time-stamping authority.
    #[must_use]
    pub fn is_timestamp_authority(&self, certificate: &Certificate) -> bool {
        self.timestamp_authorities
            .iter()
            .any(|held| held.same_as(certificate))
    }

    /// The trusted lists whose anchors were added (to check that they are current).
    #[must_use]
    pub fn trusted_lists(&self) -> &[TrustedList] {
        &self.trusted_lists
    }

    /// Loads a trust directory: every file ending in `.pem`, `.crt` or `.cer`, in PEM
    /// (any number of certificates) or DER (one), is added with [`TrustStore::add`]
    /// (self-issued certificates are anchors, others intermediates); every certificate in
    /// its `anchors/` subdirectory, if there is one, is an anchor whatever its issuer; and
    /// every trusted list (ETSI TS 119 612, `.xml`) in its `trusted-lists/` subdirectory
    /// adds its anchors and time-stamping authorities, its signature verified with the
    /// certificates of `trusted-lists/signers/` (the list operator's, pinned); every
    /// certificate in its `tsa/` subdirectory is a trusted time-stamping authority.
    pub fn load_dir(dir: &Path) -> Result<Self, TrustError> {
        let mut store = Self::new();
        for certificate in certificates_in(dir)? {
            store.add(certificate);
        }
        let anchors = dir.join("anchors");
        if anchors.is_dir() {
            for certificate in certificates_in(&anchors)? {
                store.add_anchor(certificate);
            }
        }
        let authorities = dir.join("tsa");
        if authorities.is_dir() {
            for certificate in certificates_in(&authorities)? {
                store.add_timestamp_authority(certificate);
            }
        }
        let lists = dir.join("trusted-lists");
        if lists.is_dir() {
            let signers_dir = lists.join("signers");
            let signers = if signers_dir.is_dir() {
                certificates_in(&signers_dir)?
            } else {
                Vec::new()
            };
            for file in files_in(&lists, &["xml"])? {
                let bytes = std::fs::read(&file).map_err(|source| TrustError::Io {
                    path: file.display().to_string(),
                    source,
                })?;
                let list = TrustedList::from_xml(&bytes, &signers).map_err(|source| {
                    TrustError::TrustedList {
                        path: file.display().to_string(),
                        source,
                    }
                })?;
                store.add_trusted_list(list);
            }
        }
        if store.anchors.is_empty() {
            return Err(TrustError::NoAnchor(dir.display().to_string()));
        }
        Ok(store)
    }

    /// The trust anchors.
    #[must_use]
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// The known intermediates.
    #[must_use]
    pub fn intermediates(&self) -> &[Certificate] {
        &self.intermediates
    }

    /// The certificate with this SHA-256 fingerprint (for `x5t#S256` references).
    #[must_use]
    pub fn find_by_sha256(&self, fingerprint: &[u8]) -> Option<&Certificate> {
        self.anchors
            .iter()
            .chain(&self.intermediates)
            .find(|cert| cert.fingerprint() == fingerprint)
    }

    /// The certificate `encoded` carries (DER, or the base64 text of an `x5c` entry,
    /// which `der` decodes), parsed once and then remembered by its encoding; `invalid`
    /// says why a certificate that cannot be read is refused.
    pub(crate) fn certificate<E>(
        &self,
        encoded: &[u8],
        der: impl FnOnce() -> Result<Vec<u8>, E>,
        invalid: impl FnOnce(CertificateError) -> E,
    ) -> Result<Certificate, E> {
        if let Some(cert) = self
            .parsed
            .lock()
            .ok()
            .and_then(|parsed| parsed.get(encoded).cloned())
        {
            return Ok(cert);
        }
        let cert = Certificate::from_der(&der()?).map_err(invalid)?;
        if let Ok(mut parsed) = self.parsed.lock() {
            if parsed.len() >= PARSED_CACHE {
                parsed.clear();
            }
            parsed.insert(encoded.to_vec(), cert.clone());
        }
        Ok(cert)
    }

    /// Verifies `child`'s signature by `issuer`, remembering successes.
    pub(crate) fn verify_issued(
        &self,
        child: &Certificate,
        issuer: &Certificate,
    ) -> Result<(), CryptoError> {
        let key = (child.fingerprint(), issuer.fingerprint());
        if self.verified.lock().is_ok_and(|set| set.contains(&key)) {
            return Ok(());
        }
        child.verify_issued_by(issuer)?;
        if let Ok(mut set) = self.verified.lock() {
            set.insert(key);
        }
        Ok(())
    }

    /// Builds and checks the certification path of `signer`, with `extra` certificates
    /// (those the signature carries), at `at`.
    pub(crate) fn evaluate(
        &self,
        signer: &Certificate,
        extra: &[Certificate],
        at: OffsetDateTime,
    ) -> PathEvaluation {
        self.evaluate_with(signer, extra, at, &self.policy)
    }

    /// [`TrustStore::evaluate`] with other policy inputs (a CRL signer's path is not held
    /// to the policies required of a clinical act's signer).
    pub(crate) fn evaluate_with(
        &self,
        signer: &Certificate,
        extra: &[Certificate],
        at: OffsetDateTime,
        policy: &PolicySettings,
    ) -> PathEvaluation {
        // The certificates a signature brings are the signer's to choose: duplicates go,
        // and beyond MAX_EXTRA they are not looked at (real paths bring two or three).
        let mut brought: Vec<Certificate> = Vec::new();
        for cert in extra {
            if brought.len() < MAX_EXTRA && !brought.iter().any(|held| held.same_as(cert)) {
                brought.push(cert.clone());
            }
        }
        let extra = &brought[..];
        let mut candidates = Vec::new();
        let mut partial = vec![signer.clone()];
        let mut budget = MAX_STEPS;
        self.extend(&mut partial, extra, &mut candidates, &mut budget);
        if candidates.is_empty() {
            return self.no_path(signer, extra, at);
        }
        let mut best: Option<(usize, PathEvaluation)> = None;
        for path in candidates {
            let structure = self.structure(&path, policy);
            let profile = profile(&path);
            let validity = validity(&path, at);
            let rank = usize::from(structure.is_err()) * 4
                + usize::from(profile.is_err()) * 2
                + usize::from(validity.is_err());
            let evaluation = PathEvaluation {
                path_check: result(
                    Check::CertificatePath,
                    structure.map(|policies| describe_path(&path, &policies)),
                ),
                profile_check: match profile {
                    Ok(reason) => CheckResult::passed(Check::CertificateProfile, reason),
                    Err(error) => CheckResult::failed(Check::CertificateProfile, error),
                },
                validity_check: result(Check::CertificateValidity, validity),
                path,
                complete: true,
            };
            if rank == 0 {
                return evaluation;
            }
            if best.as_ref().is_none_or(|(best_rank, _)| rank < *best_rank) {
                best = Some((rank, evaluation));
            }
        }
        best.map_or_else(
            || self.no_path(signer, extra, at),
            |(_, evaluation)| evaluation,
        )
    }

    /// Depth-first search for paths ending at an anchor.
    fn extend(
        &self,
        partial: &mut Vec<Certificate>,
        extra: &[Certificate],
        out: &mut Vec<Vec<Certificate>>,
        budget: &mut usize,
    ) {
        let Some(last) = partial.last().cloned() else {
            return;
        };
        if out.len() >= MAX_CANDIDATES || *budget == 0 {
            return;
        }
        *budget -= 1;
        // The signer itself may be configured as an anchor.
        if partial.len() == 1 && self.anchors.iter().any(|anchor| anchor.same_as(&last)) {
            out.push(partial.clone());
            return;
        }
        if partial.len() > MAX_DEPTH {
            return;
        }
        for anchor in &self.anchors {
            if last.could_be_issued_by(anchor) && !last.same_as(anchor) {
                partial.push(anchor.clone());
                out.push(partial.clone());
                partial.pop();
            }
        }
        let intermediates = extra.iter().chain(&self.intermediates);
        for candidate in intermediates {
            let seen = partial.iter().any(|cert| cert.same_as(candidate));
            // A copy of an anchor is reached as the anchor, above; a self-signed
            // certificate brought in `extra` is not trusted for being brought: it can
            // only lead on to an anchor, as a key rollover certificate does.
            let anchor = self.anchors.iter().any(|anchor| anchor.same_as(candidate));
            if seen || anchor || !last.could_be_issued_by(candidate) {
                continue;
            }
            partial.push(candidate.clone());
            self.extend(partial, extra, out, budget);
            partial.pop();
        }
    }

    /// The evaluation when no path reaches an anchor.
    fn no_path(
        &self,
        signer: &Certificate,
        extra: &[Certificate],
        at: OffsetDateTime,
    ) -> PathEvaluation {
        // Follow issuers as far as they go, to name the one that is missing.
        let mut chain = vec![signer.clone()];
        while let Some(last) = chain.last().cloned() {
            if chain.len() > MAX_DEPTH || last.is_self_issued() {
                break;
            }
            let next = extra.iter().chain(&self.intermediates).find(|cert| {
                last.could_be_issued_by(cert) && !chain.iter().any(|c| c.same_as(cert))
            });
            match next {
                Some(next) => chain.push(next.clone()),
                None => break,
            }
        }
        let top = chain.last().unwrap_or(signer);
        let error = if top.is_self_issued() {
            PathError::UntrustedRoot {
                subject: top.subject().to_owned(),
            }
        } else {
            PathError::IssuerNotFound {
                issuer: top.issuer().to_owned(),
                subject: top.subject().to_owned(),
            }
        };
        PathEvaluation {
            path_check: result(Check::CertificatePath, Err(error)),
            profile_check: match profile(&chain) {
                Ok(reason) => CheckResult::passed(Check::CertificateProfile, reason),
                Err(error) => CheckResult::failed(Check::CertificateProfile, error),
            },
            validity_check: result(Check::CertificateValidity, validity(&chain, at)),
            path: chain,
            complete: false,
        }
    }

    /// The RFC 5280 rules that do not depend on time; the policies the path is valid for.
    fn structure(
        &self,
        path: &[Certificate],
        policy: &PolicySettings,
    ) -> Result<BTreeSet<String>, PathError> {
        for cert in path {
            if let Some(oid) = cert.unknown_critical().first() {
                return Err(PathError::UnknownCriticalExtension {
                    subject: cert.subject().to_owned(),
                    oid: oid.clone(),
                });
            }
        }
        name_constraints(path)?;
        for (index, pair) in path.windows(2).enumerate() {
            let (child, issuer) = (&pair[0], &pair[1]);
            if child.issuer_raw() != issuer.subject_raw()
                && child.issuer_name() != issuer.subject_name()
            {
                return Err(PathError::IssuerNameMismatch {
                    subject: child.subject().to_owned(),
                    issuer: issuer.subject().to_owned(),
                });
            }
            self.verify_issued(child, issuer).map_err(|source| {
                PathError::BadCertificateSignature {
                    subject: child.subject().to_owned(),
                    issuer: issuer.subject().to_owned(),
                    source,
                }
            })?;
            let ca_position = index + 1;
            let is_anchor = ca_position == path.len() - 1;
            match issuer.basic_constraints() {
                Some((true, path_len)) => {
                    // Non-self-issued intermediates between this CA and the signer.
                    let below = path[1..ca_position]
                        .iter()
                        .filter(|cert| !cert.is_self_issued())
                        .count();
                    if let Some(limit) = path_len
                        && below > limit as usize
                    {
                        return Err(PathError::PathTooLong {
                            issuer: issuer.subject().to_owned(),
                            limit,
                            below,
                        });
                    }
                }
                None if is_anchor && issuer.version() == 0 => {
                    // A version 1 root: trusted as configured, it carries no extensions.
                }
                _ => {
                    return Err(PathError::NotCa {
                        issuer: issuer.subject().to_owned(),
                        subject: child.subject().to_owned(),
                    });
                }
            }
            if let Some(usage) = issuer.key_usage()
                && usage & key_usage::KEY_CERT_SIGN == 0
            {
                return Err(PathError::NoKeyCertSign {
                    issuer: issuer.subject().to_owned(),
                    subject: child.subject().to_owned(),
                });
            }
        }
        crate::policy::process(path, policy).map_err(|error| {
            if error.too_large {
                PathError::PolicyTreeTooLarge {
                    subject: error.subject,
                }
            } else {
                PathError::NoValidPolicy {
                    subject: error.subject,
                }
            }
        })
    }
}

/// The outcome of path building and validation.
#[derive(Debug)]
pub(crate) struct PathEvaluation {
    /// The path (signer first); when `complete` is false, as far as issuers were found.
    pub(crate) path: Vec<Certificate>,
    /// Whether the path ends at a trust anchor.
    pub(crate) complete: bool,
    pub(crate) path_check: CheckResult,
    pub(crate) profile_check: CheckResult,
    pub(crate) validity_check: CheckResult,
}

fn result(check: Check, outcome: Result<String, PathError>) -> CheckResult {
    match outcome {
        Ok(reason) => CheckResult::passed(check, reason),
        Err(error) => CheckResult::failed(check, SignatureError::Path(error)),
    }
}

fn describe_path(path: &[Certificate], policies: &BTreeSet<String>) -> String {
    let names: Vec<_> = path
        .iter()
        .map(|cert| format!("\"{}\"", cert.subject()))
        .collect();
    let mut text = format!(
        "{} certificate(s) to the trust anchor: {}",
        path.len(),
        names.join(" → ")
    );
    if !policies.is_empty() {
        let policies: Vec<&str> = policies
            .iter()
            .map(|policy| match policy.as_str() {
                crate::policy::ANY_POLICY => "anyPolicy",
                other => other,
            })
            .collect();
        let _ = write!(
            text,
            "; valid for the certificate policies {}",
            policies.join(", ")
        );
    }
    text
}

/// Name constraints down the path, from the anchor (whose own constraints apply, as a
/// trust anchor's may: RFC 5937) to the signer. A self-issued intermediate is not
/// checked against them (RFC 5280 §6.1.3 (b)): it renames nothing.
fn name_constraints(path: &[Certificate]) -> Result<(), PathError> {
    let mut state = crate::constraints::State::default();
    for (position, cert) in path.iter().enumerate().rev() {
        let anchor = position == path.len() - 1;
        let exempt = cert.is_self_issued() && position > 0;
        if !anchor && !exempt && !state.is_empty() {
            state
                .check(cert.constrained_names(), cert.subject())
                .map_err(|violation| PathError::NameConstraint {
                    subject: cert.subject().to_owned(),
                    name: violation.name,
                    ca: violation.ca,
                    excluded: violation.excluded,
                })?;
        }
        if let Some(constraints) = cert.name_constraints() {
            state.add(cert.subject(), constraints);
        }
    }
    Ok(())
}

/// The RFC 5280 certificate profile over the path (the anchor exempt): the rules each
/// certificate breaks by itself, then those of its place. A certificate that issued the
/// one below it is a CA's: a critical `basicConstraints`, a key usage and a subject key
/// identifier; every certificate below the anchor has an authority key identifier.
fn profile(path: &[Certificate]) -> Result<String, ProfileError> {
    let checked = path.len().saturating_sub(1);
    for (position, cert) in path.iter().enumerate().take(checked) {
        let error = |rule| ProfileError {
            subject: cert.subject().to_owned(),
            rule,
        };
        if let Some(rule) = cert.profile_rules().first() {
            return Err(error(rule.clone()));
        }
        if position > 0 {
            if !cert.basic_constraints_critical() && cert.basic_constraints().is_some() {
                return Err(error(ProfileRule::CaBasicConstraintsNotCritical));
            }
            if cert.key_usage().is_none() {
                return Err(error(ProfileRule::CaWithoutKeyUsage));
            }
            if cert.subject_key_id().is_none() {
                return Err(error(ProfileRule::CaWithoutSubjectKeyId));
            }
        }
        if cert.authority_key_id().is_none() {
            return Err(error(ProfileRule::MissingAuthorityKeyId));
        }
    }
    Ok(if checked == 0 {
        "the signer certificate is itself a trust anchor, trusted as configured".to_owned()
    } else {
        format!(
            "the {checked} certificate(s) below the trust anchor conform to the RFC 5280 profile"
        )
    })
}

/// Every certificate valid at `at` (RFC 5280 §6.1.3 (a)(2); the anchor too, as OpenSSL does).
pub(crate) fn validity(path: &[Certificate], at: OffsetDateTime) -> Result<String, PathError> {
    for cert in path {
        if at < cert.not_before() {
            return Err(PathError::NotYetValid {
                subject: cert.subject().to_owned(),
                at,
                not_before: cert.not_before(),
            });
        }
        if at > cert.not_after() {
            return Err(PathError::Expired {
                subject: cert.subject().to_owned(),
                at,
                not_after: cert.not_after(),
            });
        }
    }
    Ok(format!(
        "every certificate of the path was valid at {}",
        rfc3339(at)
    ))
}

/// Every certificate in the files of `dir` ending in `.pem`, `.crt` or `.cer`, in name
/// order.
fn certificates_in(dir: &Path) -> Result<Vec<Certificate>, TrustError> {
    let io = |path: &Path, source| TrustError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for file in files_in(dir, &["pem", "crt", "cer"])? {
        let bytes = std::fs::read(&file).map_err(|error| io(&file, error))?;
        out.extend(
            read_certificates(&bytes).map_err(|source| TrustError::Certificate {
                path: file.display().to_string(),
                source,
            })?,
        );
    }
    Ok(out)
}

/// The files of `dir` with one of `extensions`, in name order.
fn files_in(dir: &Path, extensions: &[&str]) -> Result<Vec<std::path::PathBuf>, TrustError> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| TrustError::Io {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .and_then(|ext| ext.to_str())
                    .is_some_and(|ext| extensions.contains(&ext))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The certificates in PEM text or a single DER certificate.
pub(crate) fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, CertificateError> {
    if bytes.starts_with(b"-----") || bytes.iter().take(64).all(u8::is_ascii) {
        let certificates = Certificate::all_from_pem(bytes)?;
        if certificates.is_empty() {
            return Err(CertificateError::NoCertificate);
        }
        Ok(certificates)
    } else {
        Ok(vec![Certificate::from_der(bytes)?])
    }
}
