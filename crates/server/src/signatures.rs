//! The registry's signature policy: which pushes must carry a firma digital, how the
//! signatures are verified (`renhice-signature`), and how the result is kept with each
//! index entry.
//!
//! | policy | unsigned entry | signature FAILED | INDETERMINATE |
//! | --- | --- | --- | --- |
//! | `off` | stored | not verified | not verified |
//! | `verify-if-present` | stored (`UNSIGNED`) | push refused | stored, marked |
//! | `require` | push refused | push refused | push refused |
//!
//! A signature covers the entries its Provenance targets (by `fullUrl`), or every entry
//! when it is the Bundle's own. Signatures are verified over the entries as pushed, at
//! the time of the push: the stored entry then gets an id and rewritten references the
//! signer did not sign, so the verdict is recorded rather than recomputed. The verdict of
//! every signature covering an entry is written into the entry's `meta.extension` as
//! [`VERIFICATION_URL`]; `meta` is the registry's own and is replaced on every push, so a
//! client cannot write a verdict of its own. Every read, search and history of the entry
//! shows it, and the Provenance keeps the verdicts of its signatures the same way.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use renhice_model::Primitive;
use renhice_model::resources::{Bundle, Resource};
use renhice_signature::datetime::rfc3339;
use renhice_signature::{
    Crl, Indication, OcspQuery, OcspResponse, RevocationStore, SignatureReport, TrustStore,
    Verifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::ApiError;

/// The extension (on `meta`) that records a signature's verification.
pub const VERIFICATION_URL: &str =
    "http://renhice.org/fhir/StructureDefinition/signature-verification";

/// `server.signature_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignaturePolicy {
    /// `verify-if-present` where a trust directory is configured, else `off`.
    #[default]
    Auto,
    /// Signatures are not verified.
    Off,
    /// Signatures present are verified; a failing one refuses the push.
    VerifyIfPresent,
    /// Every index entry must be covered by a signature that passes.
    Require,
}

/// The policy in force (after `auto` is decided).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Not verified.
    Off,
    /// Verified when present.
    VerifyIfPresent,
    /// Required.
    Require,
}

impl Policy {
    /// The configuration name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::VerifyIfPresent => "verify-if-present",
            Self::Require => "require",
        }
    }
}

/// The shortest wait between two rounds of fetching.
const MIN_REFRESH: std::time::Duration = std::time::Duration::from_mins(1);

/// Where the registry finds trust anchors and revocation information.
#[derive(Debug, Clone, Default)]
pub struct SignatureSources {
    /// The directory of trusted certificates.
    pub trust_dir: PathBuf,
    /// CRL files given by the operator.
    pub crl_files: Vec<PathBuf>,
    /// Where CRLs fetched from distribution points are kept across restarts; empty: in
    /// memory only.
    pub crl_cache_dir: PathBuf,
    /// Seconds between two fetches of every known distribution point; 0: never fetch.
    pub crl_refresh_secs: u64,
    /// Whether the OCSP responders the signers' certificates name are asked.
    pub ocsp: bool,
    /// How long one fetch of a CRL or an OCSP answer may take.
    pub fetch_timeout: std::time::Duration,
    /// The certificate policies a signer's path must be valid for; empty: any.
    pub policies: Vec<String>,
}

/// The signature settings of a running registry.
pub struct Signatures {
    policy: Policy,
    sources: SignatureSources,
    /// CRLs fetched from distribution points (DER), by cache file name.
    fetched: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
    /// Distribution points met in signatures (the signers' CAs), to refresh with the
    /// trust store's own.
    seen: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// When each distribution point was last tried on a push's behalf: a CA whose
    /// distribution point is down must not hold every push up while it stays down.
    tried: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// OCSP responses received, by request (DER): kept until their `nextUpdate` and
    /// given to every verifier built.
    ocsp_held: std::sync::Mutex<std::collections::HashMap<Vec<u8>, OcspResponse>>,
    /// Responders that failed, and when: not asked again on a push's behalf for a minute.
    ocsp_down: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    client: Option<reqwest::Client>,
    verifier: RwLock<Arc<Verifier>>,
}

impl std::fmt::Debug for Signatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signatures")
            .field("policy", &self.policy)
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl Signatures {
    /// Loads the trust anchors, the CRL files and the CRLs cached from distribution
    /// points.
    pub fn load(policy: SignaturePolicy, sources: SignatureSources) -> std::io::Result<Self> {
        let configured = !sources.trust_dir.as_os_str().is_empty();
        let policy = match (policy, configured) {
            (SignaturePolicy::Auto, true) | (SignaturePolicy::VerifyIfPresent, _) => {
                Policy::VerifyIfPresent
            }
            (SignaturePolicy::Auto | SignaturePolicy::Off, _) => Policy::Off,
            (SignaturePolicy::Require, _) => Policy::Require,
        };
        if policy != Policy::Off && !configured {
            return Err(invalid(format!(
                "server.signature_policy = \"{}\" needs trust anchors: set server.signature_trust_dir to a directory of PEM certificates (the IOFE roots and accredited CAs)",
                policy.name()
            )));
        }
        let fetching = policy != Policy::Off && sources.crl_refresh_secs > 0;
        let client = if fetching || (policy != Policy::Off && sources.ocsp) {
            Some(
                reqwest::Client::builder()
                    .timeout(sources.fetch_timeout)
                    .build()
                    .map_err(|error| {
                        invalid(format!(
                            "cannot make an HTTP client for revocation information: {error}"
                        ))
                    })?,
            )
        } else {
            None
        };
        let mut fetched = BTreeMap::new();
        let cache = &sources.crl_cache_dir;
        if fetching && !cache.as_os_str().is_empty() {
            std::fs::create_dir_all(cache).map_err(|error| {
                invalid(format!(
                    "server.signature_crl_cache_dir {}: {error}",
                    cache.display()
                ))
            })?;
            for entry in std::fs::read_dir(cache)?.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_crl = std::path::Path::new(&name)
                    .extension()
                    .is_some_and(|ext| ext.eq_ignore_ascii_case("crl"));
                if is_crl {
                    let bytes = std::fs::read(entry.path())?;
                    // A damaged cache file is dropped, to be fetched again.
                    if Crl::all_from_bytes(&bytes).is_ok() {
                        fetched.insert(name, bytes);
                    }
                }
            }
        }
        let signatures = Self {
            policy,
            sources,
            fetched: std::sync::Mutex::new(fetched),
            seen: std::sync::Mutex::default(),
            tried: std::sync::Mutex::default(),
            ocsp_held: std::sync::Mutex::default(),
            ocsp_down: std::sync::Mutex::default(),
            client,
            verifier: RwLock::new(Arc::new(Verifier::default())),
        };
        if policy != Policy::Off {
            signatures.reload()?;
        }
        Ok(signatures)
    }

    /// Signatures not verified (tests and the zero-setup start).
    #[must_use]
    pub fn off() -> Self {
        Self {
            policy: Policy::Off,
            sources: SignatureSources::default(),
            fetched: std::sync::Mutex::default(),
            seen: std::sync::Mutex::default(),
            tried: std::sync::Mutex::default(),
            ocsp_held: std::sync::Mutex::default(),
            ocsp_down: std::sync::Mutex::default(),
            client: None,
            verifier: RwLock::new(Arc::new(Verifier::default())),
        }
    }

    /// Reads the trust directory and the CRL files again, with the fetched CRLs.
    pub fn reload(&self) -> std::io::Result<()> {
        let mut trust = TrustStore::load_dir(&self.sources.trust_dir)
            .map_err(|error| invalid(format!("server.signature_trust_dir: {error}")))?;
        if let Some(bad) = self.sources.policies.iter().find(|policy| !is_oid(policy)) {
            return Err(invalid(format!(
                "server.signature_policies: {bad:?} is not an object identifier (dotted digits, as 2.16.604.1.1)"
            )));
        }
        // Naming policies means requiring them: without requireExplicitPolicy, RFC 5280
        // would accept a path valid for none of them.
        trust.set_policy_settings(renhice_signature::PolicySettings {
            acceptable: self.sources.policies.clone(),
            require_explicit: !self.sources.policies.is_empty(),
            ..renhice_signature::PolicySettings::default()
        });
        let now = time::OffsetDateTime::now_utc();
        for list in trust.trusted_lists() {
            if !list.is_current(now) {
                tracing::warn!(
                    territory = %list.territory,
                    sequence = ?list.sequence_number,
                    next_update = ?list.next_update,
                    "a trusted list in server.signature_trust_dir is past its next update: fetch the new one"
                );
            }
        }
        let mut revocation = RevocationStore::new();
        for path in &self.sources.crl_files {
            let bytes = std::fs::read(path).map_err(|error| {
                invalid(format!("cannot read the CRL {}: {error}", path.display()))
            })?;
            for crl in Crl::all_from_bytes(&bytes)
                .map_err(|error| invalid(format!("{}: {error}", path.display())))?
            {
                revocation.add(crl);
            }
        }
        if let Ok(fetched) = self.fetched.lock() {
            for bytes in fetched.values() {
                for crl in Crl::all_from_bytes(bytes).unwrap_or_default() {
                    revocation.add(crl);
                }
            }
        }
        if let Ok(held) = self.ocsp_held.lock() {
            for response in held.values() {
                revocation.add_ocsp(response);
            }
        }
        let verifier = Arc::new(Verifier::new(trust, revocation));
        if let Ok(mut slot) = self.verifier.write() {
            *slot = verifier;
        }
        Ok(())
    }

    /// Every distribution point known: those of the trust store's certificates and those
    /// met in signatures.
    fn known_points(&self) -> Vec<String> {
        let verifier = self.verifier();
        let trust = verifier.trust();
        let mut points: std::collections::BTreeSet<String> = trust
            .anchors()
            .iter()
            .chain(trust.intermediates())
            .flat_map(|cert| cert.crl_distribution_points().iter().cloned())
            .collect();
        if let Ok(seen) = self.seen.lock() {
            points.extend(seen.iter().cloned());
        }
        points.into_iter().collect()
    }

    /// Fetches the CRLs at `urls` (`http://` only: a CRL is signed, and fetching it over
    /// TLS would need revocation checking of its own), keeps those that parse, and
    /// rebuilds the verifier. Returns how many were fetched.
    pub async fn fetch(&self, urls: &[String]) -> usize {
        let Some(client) = self
            .client
            .as_ref()
            .filter(|_| self.sources.crl_refresh_secs > 0)
        else {
            return 0;
        };
        let mut count = 0;
        for url in urls.iter().filter(|url| url.starts_with("http://")) {
            let bytes = match client.get(url).send().await {
                Ok(response) if response.status().is_success() => response.bytes().await.ok(),
                Ok(response) => {
                    tracing::warn!(url, status = %response.status(), "CRL distribution point answered with an error");
                    None
                }
                Err(error) => {
                    tracing::warn!(url, error = %error, "CRL distribution point not reachable");
                    None
                }
            };
            let Some(bytes) = bytes else { continue };
            if let Err(error) = Crl::all_from_bytes(&bytes) {
                tracing::warn!(url, error = %error, "CRL distribution point gave no CRL");
                continue;
            }
            let name = cache_name(url);
            let cache = &self.sources.crl_cache_dir;
            if !cache.as_os_str().is_empty() {
                // Written aside and renamed: a crash leaves the old file or the new one.
                let path = cache.join(&name);
                let partial = cache.join(format!("{name}.partial"));
                if let Err(error) =
                    std::fs::write(&partial, &bytes).and_then(|()| std::fs::rename(&partial, &path))
                {
                    tracing::warn!(path = %path.display(), error = %error, "cannot cache a CRL");
                }
            }
            if let Ok(mut fetched) = self.fetched.lock() {
                fetched.insert(name, bytes.to_vec());
            }
            tracing::info!(url, "CRL fetched from its distribution point");
            count += 1;
        }
        if count > 0
            && let Err(error) = self.reload()
        {
            tracing::error!(error = %error, "cannot reload the signature trust after fetching CRLs");
        }
        count
    }

    /// Asks the OCSP responders of `queries` that have no current answer held (its
    /// `nextUpdate` not passed, or, without one, asked less than a minute ago), skipping
    /// responders that failed in the last minute, and gives the answers to the verifier.
    /// Returns how many answers were received.
    async fn ask_ocsp(&self, queries: &[OcspQuery], now: OffsetDateTime) -> usize {
        let Some(client) = self.client.as_ref().filter(|_| self.sources.ocsp) else {
            return 0;
        };
        let mut asked = std::collections::HashSet::new();
        let mut count = 0;
        for query in queries {
            if !query.url.starts_with("http://") || !asked.insert(&query.request) {
                continue;
            }
            let current = self.ocsp_held.lock().is_ok_and(|held| {
                held.get(&query.request).is_some_and(|response| {
                    response.next_update().map_or(
                        now - response.produced_at() < time::Duration::minutes(1),
                        |next| next > now,
                    )
                })
            });
            let down = self.ocsp_down.lock().is_ok_and(|down| {
                down.get(&query.url)
                    .is_some_and(|when| when.elapsed() < MIN_REFRESH)
            });
            if current || down {
                continue;
            }
            let answer = client
                .post(&query.url)
                .header("content-type", "application/ocsp-request")
                .header("accept", "application/ocsp-response")
                .body(query.request.clone())
                .send()
                .await;
            let bytes = match answer {
                Ok(response) if response.status().is_success() => {
                    response.bytes().await.map_err(|error| error.to_string())
                }
                Ok(response) => Err(format!("HTTP {}", response.status())),
                Err(error) => Err(error.to_string()),
            };
            let response = bytes.and_then(|bytes| {
                OcspResponse::from_der(&bytes).map_err(|error| error.to_string())
            });
            match response {
                Ok(response) => {
                    tracing::info!(url = %query.url, subject = %query.subject, "OCSP response received");
                    self.verifier().revocation().add_ocsp(&response);
                    if let Ok(mut held) = self.ocsp_held.lock() {
                        // Answers past their nextUpdate are of no more use to a push.
                        held.retain(|_, held| held.next_update().is_none_or(|next| next > now));
                        held.insert(query.request.clone(), response);
                    }
                    count += 1;
                }
                Err(error) => {
                    tracing::warn!(url = %query.url, subject = %query.subject, error = %error, "OCSP responder gave no answer");
                    if let Ok(mut down) = self.ocsp_down.lock() {
                        down.insert(query.url.clone(), std::time::Instant::now());
                    }
                }
            }
        }
        count
    }

    /// Fetches every known distribution point now and then every
    /// `signature_crl_refresh_secs`, for as long as the registry runs.
    pub fn spawn_refresher(self: &Arc<Self>) {
        if self.client.is_none() || self.sources.crl_refresh_secs == 0 {
            return;
        }
        let this = Arc::clone(self);
        let every = std::time::Duration::from_secs(self.sources.crl_refresh_secs).max(MIN_REFRESH);
        tokio::spawn(async move {
            loop {
                let points = this.known_points();
                this.fetch(&points).await;
                tokio::time::sleep(every).await;
            }
        });
    }

    /// Whether `url` may be fetched for a push now: not tried in the last minute.
    fn first_try(&self, url: &str) -> bool {
        let Ok(mut tried) = self.tried.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        match tried.get(url) {
            Some(when) if now.duration_since(*when) < MIN_REFRESH => false,
            _ => {
                tried.insert(url.to_owned(), now);
                true
            }
        }
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The verifier as of now.
    #[must_use]
    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifier.read().map_or_else(
            |_| Arc::new(Verifier::default()),
            |verifier| Arc::clone(&verifier),
        )
    }

    /// Verifies the signatures of `resource` (with `others`, the resources a Provenance
    /// signs) as of `now`; where a signer's CA is met for the first time, or OCSP is on,
    /// fetches what the revocation check lacks and verifies again.
    pub(crate) async fn verify_fetching(
        &self,
        resource: &Resource,
        others: &[Resource],
        now: OffsetDateTime,
    ) -> Vec<SignatureReport> {
        self.verify_fetching_with(
            |verifier| verifier.verify_resource(resource, others, now),
            now,
        )
        .await
    }

    /// [`Self::verify_fetching`] for any verification: `verify` runs with the current
    /// verifier, again after what was missing is fetched.
    pub(crate) async fn verify_fetching_with(
        &self,
        verify: impl Fn(&Verifier) -> Vec<SignatureReport>,
        now: OffsetDateTime,
    ) -> Vec<SignatureReport> {
        let verify = || verify(&self.verifier());
        let mut reports = verify();
        // A CA met for the first time: fetch its CRL now rather than answer that its
        // revocation status is unknown, then verify again. A distribution point tried
        // in the last minute is left to the refresher.
        let missing: Vec<String> = reports
            .iter()
            .filter(|report| {
                // The signer's path, or a time-stamp authority's (whose CRL URLs the
                // report lists too).
                report.status(renhice_signature::Check::Revocation)
                    == renhice_signature::Status::Indeterminate
                    || report.status(renhice_signature::Check::Timestamp)
                        == renhice_signature::Status::Indeterminate
            })
            .flat_map(|report| report.crl_urls.iter().cloned())
            .filter(|url| self.first_try(url))
            .collect();
        if let Ok(mut seen) = self.seen.lock() {
            seen.extend(
                reports
                    .iter()
                    .flat_map(|report| report.crl_urls.iter().cloned()),
            );
        }
        // Where OCSP is on, the responders the signers' certificates name are asked
        // (once per answer's validity), whatever the CRLs say: an answer is fresher.
        let queries: Vec<OcspQuery> = reports
            .iter()
            .flat_map(|report| report.ocsp.iter().cloned())
            .collect();
        let fetched = if missing.is_empty() {
            0
        } else {
            self.fetch(&missing).await
        };
        let answered = self.ask_ocsp(&queries, now).await;
        if fetched + answered > 0 {
            reports = verify();
        }
        reports
    }

    /// Verifies the signatures of a push and applies the policy: the `meta.extension`
    /// values to add to each entry (by position), or the refusal.
    pub(crate) async fn check_push(
        &self,
        bundle: &Bundle,
        now: OffsetDateTime,
    ) -> Result<BTreeMap<usize, Vec<Value>>, ApiError> {
        let mut marks: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
        if self.policy == Policy::Off {
            return Ok(marks);
        }
        let signed = bundle.signature.is_some()
            || bundle.entry.iter().any(|entry| {
                matches!(&entry.resource, Some(Resource::Provenance(p)) if !p.signature.is_empty())
            });
        // Most pushes under verify-if-present carry no signature: nothing to copy.
        let resource = signed.then(|| Resource::Bundle(Box::new(bundle.clone())));
        let reports = match &resource {
            Some(resource) => self.verify_fetching(resource, &[], now).await,
            None => Vec::new(),
        };
        if let Some(failed) = reports
            .iter()
            .find(|report| report.indication() == Indication::Failed)
        {
            return Err(refusal(self.policy, failed));
        }
        let full_urls: Vec<Option<&str>> = bundle
            .entry
            .iter()
            .map(|entry| entry.full_url.as_ref().and_then(Primitive::as_str))
            .collect();
        for report in &reports {
            let source = entry_of(&report.location);
            let covered: Vec<usize> = match source {
                // The Bundle's own signature covers every entry.
                None => (0..bundle.entry.len()).collect(),
                Some(provenance) => targets(bundle, provenance, &full_urls),
            };
            let provenance_url = source.and_then(|i| full_urls.get(i).copied().flatten());
            let mark = extension(report, self.policy, provenance_url);
            for index in covered.into_iter().chain(source) {
                marks.entry(index).or_default().push(mark.clone());
            }
        }
        for (index, entry) in bundle.entry.iter().enumerate() {
            if !matches!(entry.resource, Some(Resource::DocumentReference(_))) {
                continue;
            }
            let signed = marks.get(&index).is_some_and(|marks| !marks.is_empty());
            if self.policy == Policy::Require {
                if !signed {
                    return Err(ApiError::SignatureRefused {
                        path: format!("Bundle.entry[{index}].resource"),
                        message: "signature policy require: this index entry is not covered by a firma digital (a Provenance whose target is its fullUrl, or Bundle.signature)".to_owned(),
                        issues: Vec::new(),
                    });
                }
                if let Some(report) = reports
                    .iter()
                    .find(|report| report.indication() != Indication::Passed)
                {
                    return Err(refusal(self.policy, report));
                }
            } else if !signed {
                marks
                    .entry(index)
                    .or_default()
                    .push(unsigned(self.policy, now));
            }
        }
        Ok(marks)
    }
}

/// The cache file of a distribution point: a digest of its URL.
fn cache_name(url: &str) -> String {
    use std::fmt::Write as _;
    let digest = renhice_signature::Hash::Sha256.digest(url.as_bytes());
    let mut name = digest
        .iter()
        .take(16)
        .fold(String::new(), |mut name, byte| {
            let _ = write!(name, "{byte:02x}");
            name
        });
    name.push_str(".crl");
    name
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// The entry a report's location is in (`Bundle.entry[3].resource.signature[0]` → 3);
/// `None` for the Bundle's own signature.
fn entry_of(location: &str) -> Option<usize> {
    location
        .strip_prefix("Bundle.entry[")?
        .split(']')
        .next()?
        .parse()
        .ok()
}

/// The entries a Provenance entry targets (by `fullUrl`).
fn targets(bundle: &Bundle, provenance: usize, full_urls: &[Option<&str>]) -> Vec<usize> {
    let Some(Some(Resource::Provenance(provenance))) = bundle
        .entry
        .get(provenance)
        .map(|entry| entry.resource.as_ref())
    else {
        return Vec::new();
    };
    provenance
        .target
        .iter()
        .filter_map(|target| {
            let reference = target.reference_str()?;
            full_urls.iter().position(|url| *url == Some(reference))
        })
        .collect()
}

/// The refusal of a push for `report`'s signature.
fn refusal(policy: Policy, report: &SignatureReport) -> ApiError {
    let reason = report.decisive().map_or_else(
        || "no check passed".to_owned(),
        |check| {
            format!(
                "{} ({}): {}",
                check.check.title(),
                check.check.code(),
                check.reason
            )
        },
    );
    ApiError::SignatureRefused {
        path: report.location.clone(),
        message: format!(
            "signature policy {}: the signature is {}: {reason}",
            policy.name(),
            report.indication()
        ),
        issues: report.to_issues(),
    }
}

/// The `meta.extension` recording one signature's verdict.
fn extension(report: &SignatureReport, policy: Policy, provenance: Option<&str>) -> Value {
    let mut parts = vec![
        json!({"url": "indication", "valueCode": report.indication().as_str()}),
        json!({"url": "policy", "valueCode": policy.name()}),
        json!({"url": "verifiedAt", "valueInstant": rfc3339(report.verified_at)}),
        json!({"url": "format", "valueCode": report.format}),
    ];
    if let Some(time) = report.signing_time {
        parts.push(json!({"url": "signingTime", "valueInstant": rfc3339(time)}));
    }
    if let Some(signer) = &report.signer {
        parts.push(json!({"url": "signer", "valueString": signer.subject}));
        parts.push(
            json!({"url": "certificate", "valueString": format!("sha256:{}", signer.fingerprint)}),
        );
    }
    if let Some(url) = provenance {
        parts.push(json!({"url": "provenance", "valueReference": {"reference": url}}));
    }
    for check in &report.checks {
        if check.status != renhice_signature::Status::Passed {
            parts.push(json!({"url": "reason", "valueString": format!("{}: {}", check.check.code(), check.reason)}));
        }
    }
    json!({"url": VERIFICATION_URL, "extension": parts})
}

/// The mark of an entry no signature covers.
fn unsigned(policy: Policy, now: OffsetDateTime) -> Value {
    json!({"url": VERIFICATION_URL, "extension": [
        {"url": "indication", "valueCode": "UNSIGNED"},
        {"url": "policy", "valueCode": policy.name()},
        {"url": "verifiedAt", "valueInstant": rfc3339(now)},
    ]})
}

/// Whether `text` is a dotted object identifier.
fn is_oid(text: &str) -> bool {
    text.split('.').count() >= 2
        && text
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|byte| byte.is_ascii_digit()))
}
