//! The verifier: finds the signatures of a FHIR resource, resolves what each one signs and
//! who it says signed, and runs every check.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use renhice_model::canonical::Canonicalization;
use renhice_model::resources::{Bundle, Resource};
use renhice_model::types::{Identifier, Reference, Signature};
use time::{Duration, OffsetDateTime};

use crate::cert::{Certificate, hex, key_usage};
use crate::datetime::{parse_rfc3339, rfc3339};
use crate::envelope::{Binding, Envelope, Named};
use crate::error::{
    ContentError, FormatError, IdentityError, KeyUsageError, PathError, SignatureError,
    SigningTimeError, TargetError,
};
use crate::names::Name;
use crate::path::TrustStore;
use crate::policy::PolicySettings;
use crate::report::{
    CertificateReport, Check, CheckResult, SignatureReport, SignerInfo, Status, TimestampReport,
};
use crate::revocation::{Carried, RevocationStore, Signing};
use crate::timestamp::{TimestampError, Token};
use crate::{crypto, jws, pkcs7};

/// `sigFormat` of a JWS.
pub const JOSE: &str = "application/jose";
/// `sigFormat` of a detached CMS signature.
pub const PKCS7: &str = "application/pkcs7-signature";

/// Extended key usages that allow signing documents: `emailProtection` (the usage of
/// S/MIME and of most national signing certificates), `documentSigning` (RFC 9336),
/// `anyExtendedKeyUsage`, Microsoft's document signing and Adobe's authentic documents.
const DOCUMENT_SIGNING_EKUS: [&str; 5] = [
    "1.3.6.1.5.5.7.3.4",
    "1.3.6.1.5.5.7.3.36",
    "2.5.29.37.0",
    "1.3.6.1.4.1.311.10.3.12",
    "1.2.840.113583.1.1.5",
];

/// How many levels of CRL signers' own paths are checked (see `Verifier::revocation_of`).
const MAX_CRL_SIGNER_DEPTH: usize = 3;

/// How far `Signature.when` may be from the signed signing time (clock skew between the
/// signing device and the system that writes the resource).
const WHEN_TOLERANCE: Duration = Duration::minutes(5);

/// A signed object: the reference the signature names it by and the resource.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The reference (`Provenance.target[i].reference`; for a Bundle's own signature, the
    /// Bundle's `fullUrl` or `Bundle/id`, informative only).
    pub reference: &'a str,
    /// The resource.
    pub resource: &'a Resource,
}

/// The verifier: trust anchors and revocation information. Verification does no I/O and
/// never reads the clock: the time to verify for is an argument.
#[derive(Debug, Default)]
pub struct Verifier {
    trust: TrustStore,
    revocation: RevocationStore,
}

impl Verifier {
    /// A verifier that trusts `trust` and knows the revocations in `revocation`.
    #[must_use]
    pub fn new(trust: TrustStore, revocation: RevocationStore) -> Self {
        Self { trust, revocation }
    }

    /// The trust store.
    #[must_use]
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// The revocation information.
    #[must_use]
    pub fn revocation(&self) -> &RevocationStore {
        &self.revocation
    }

    /// The certificate checks alone for `certificate`, with `extra` certificates that may
    /// complete its path: the certification path, the RFC 5280 profile and the validity
    /// periods at `at`, and the revocation status at `at` (revocation information issued
    /// up to `at` counts). What `renhice verify-cert` and the PKITS suite run.
    #[must_use]
    pub fn verify_certificate(
        &self,
        certificate: &Certificate,
        extra: &[Certificate],
        at: OffsetDateTime,
    ) -> CertificateReport {
        let evaluation = self.trust.evaluate(certificate, extra, at);
        let revocation = if evaluation.complete {
            self.revocation_check(
                &evaluation.path,
                extra,
                Carried::NONE,
                Signing::claimed(at, at),
                at,
            )
            .0
        } else {
            result(
                Check::Revocation,
                Status::NotRun,
                "no certification path to a trust anchor, so no CA whose revocation information counts".into(),
            )
        };
        CertificateReport {
            path: evaluation
                .path
                .iter()
                .map(|cert| cert.subject().to_owned())
                .collect(),
            checks: vec![
                evaluation.path_check,
                evaluation.profile_check,
                evaluation.validity_check,
                revocation,
            ],
        }
    }

    /// Every signature in `resource`, verified as of `at`: a Bundle's own signature, the
    /// signatures of the Provenance entries of a Bundle (targets resolved among its
    /// entries), or a Provenance's signatures (targets resolved among `others` and its
    /// contained resources). `others` also serve to resolve `Signature.who`.
    #[must_use]
    pub fn verify_resource(
        &self,
        resource: &Resource,
        others: &[Resource],
        at: OffsetDateTime,
    ) -> Vec<SignatureReport> {
        let mut reports = Vec::new();
        match resource {
            Resource::Bundle(bundle) => {
                let context = Context::of_bundle(bundle, others);
                if let Some(signature) = &bundle.signature {
                    let reference = bundle
                        .id
                        .as_ref()
                        .and_then(|id| id.value.as_deref())
                        .map_or_else(|| "Bundle".to_owned(), |id| format!("Bundle/{id}"));
                    let target = Target {
                        reference: &reference,
                        resource,
                    };
                    reports.push(self.verify_signature(
                        signature,
                        "Bundle.signature",
                        &[target],
                        Canonicalization::Document,
                        &context,
                        at,
                    ));
                }
                for (index, entry) in bundle.entry.iter().enumerate() {
                    if let Some(Resource::Provenance(provenance)) = &entry.resource {
                        let location = format!("Bundle.entry[{index}].resource");
                        self.provenance(provenance, &location, &context, &mut reports, at);
                    }
                }
            }
            Resource::Provenance(provenance) => {
                let mut context = Context::default();
                for other in others.iter().chain(&provenance.contained) {
                    context.add(None, other);
                }
                self.provenance(provenance, "Provenance", &context, &mut reports, at);
            }
            _ => {}
        }
        reports
    }

    fn provenance(
        &self,
        provenance: &renhice_model::resources::Provenance,
        location: &str,
        context: &Context<'_>,
        reports: &mut Vec<SignatureReport>,
        at: OffsetDateTime,
    ) {
        let mut targets = Vec::new();
        let mut missing = Vec::new();
        for reference in &provenance.target {
            let text = reference.reference_str().unwrap_or_default();
            match context.resolve(text) {
                Some(resource) => targets.push(Target {
                    reference: text,
                    resource,
                }),
                None => missing.push(text.to_owned()),
            }
        }
        for (index, signature) in provenance.signature.iter().enumerate() {
            let location = format!("{location}.signature[{index}]");
            if missing.is_empty() && !targets.is_empty() {
                reports.push(self.verify_signature(
                    signature,
                    &location,
                    &targets,
                    Canonicalization::Json,
                    context,
                    at,
                ));
            } else {
                let mut report = empty_report(signature, &location, at);
                let error = if targets.is_empty() && missing.is_empty() {
                    SignatureError::NoTarget
                } else {
                    SignatureError::MissingTargets {
                        references: missing.clone(),
                    }
                };
                report.checks = not_run(Check::Format, Status::Indeterminate, error);
                reports.push(report);
            }
        }
    }

    /// Verifies one signature over `targets` as of `at`. `default_method` is the
    /// canonicalization used when `Signature.targetFormat` names none.
    #[must_use]
    pub fn verify_signature(
        &self,
        signature: &Signature,
        location: &str,
        targets: &[Target<'_>],
        default_method: Canonicalization,
        context: &Context<'_>,
        at: OffsetDateTime,
    ) -> SignatureReport {
        let mut report = empty_report(signature, location, at);
        let envelope = match self.decode(signature, targets, default_method) {
            Ok(decoded) => decoded,
            Err(error) => {
                report.checks = not_run(Check::Format, Status::Failed, error.into());
                return report;
            }
        };
        let (envelope, contents) = envelope;
        let when = signature
            .when
            .as_ref()
            .and_then(|when| when.value.as_ref())
            .and_then(|when| parse_rfc3339(when.as_str()).ok());
        let (integrity, value) = content_and_value(&envelope, &contents);
        self.verify_envelope(
            &mut report,
            &envelope,
            [integrity, value],
            Stated::When(when),
            &[],
            |signer| identity_check(signature, signer, context),
            at,
        );
        report
    }

    /// The checks every format shares, once the signature is decoded and its content
    /// and value checked (`checked`): the signing time, the time-stamps (those the
    /// signature carries and `documents`, later document time-stamps over it, already
    /// judged), the certificates at the best signature time, the key usage, the
    /// revocation status and the signer's identity.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of a decoded signature, each from its own format"
    )]
    pub(crate) fn verify_envelope(
        &self,
        report: &mut SignatureReport,
        envelope: &Envelope,
        checked: [CheckResult; 2],
        stated: Stated,
        documents: &[TimestampReport],
        identity: impl FnOnce(&Certificate) -> CheckResult,
        at: OffsetDateTime,
    ) {
        report.algorithm = Some(envelope.algorithm.clone());
        report.signing_time = Some(envelope.signing_time);
        if !envelope.commitment.is_empty() {
            report.commitment.clone_from(&envelope.commitment);
        }
        report.signer = Some(signer_info(&envelope.signer));
        let mut checks = vec![CheckResult::passed(
            Check::Format,
            format!(
                "{} signature, {} with the certificate of \"{}\"",
                report.format,
                envelope.algorithm,
                envelope.signer.subject()
            ),
        )];
        checks.extend(checked);
        let (stamps, proof) = self.timestamps(envelope, documents, at);
        checks.push(signing_time(stated, envelope, at, proof));
        checks.push(stamps_check(&stamps, proof, at));
        for url in stamps.iter().flat_map(|stamp| &stamp.crl_urls) {
            if !report.crl_urls.contains(url) {
                report.crl_urls.push(url.clone());
            }
        }
        report.timestamps = stamps;

        // The best signature time (ETSI EN 319 102-1 §5.6): what a time-stamp proves, else
        // the verification time. The signer's own claim proves nothing: a signer whose
        // certificate has expired could write any earlier time.
        let best = proof.unwrap_or(at);
        report.best_signature_time = Some(best);
        let extra = envelope.carried.with_certificates(&envelope.extra);
        let evaluation = self.trust.evaluate(&envelope.signer, &extra, best);
        report.path = evaluation
            .path
            .iter()
            .map(|cert| cert.subject().to_owned())
            .collect();
        for cert in &evaluation.path {
            for url in cert.crl_distribution_points() {
                if !report.crl_urls.contains(url) {
                    report.crl_urls.push(url.clone());
                }
            }
        }
        checks.push(evaluation.path_check.clone());
        checks.push(evaluation.profile_check.clone());
        checks.push(Self::validity_check(envelope, &evaluation, proof, at));
        checks.push(key_usage_check(&envelope.signer));
        if evaluation.complete {
            for pair in evaluation.path.windows(2) {
                report
                    .ocsp
                    .extend(crate::ocsp::OcspQuery::for_certificate(&pair[0], &pair[1]));
            }
        }
        checks.push(if evaluation.complete {
            // A revocation before the claimed time fails (the signer's own claim places
            // the signature after it); one after the proof does not count; one between
            // leaves the signature indeterminate. Revocation information must be current
            // at the proof, else at the verification time, never at the claimed time.
            let signing = Signing {
                claimed: envelope.signing_time,
                proof,
                fresh: proof.unwrap_or(at),
            };
            let (check, carried) =
                self.revocation_check(&evaluation.path, &extra, &envelope.carried, signing, at);
            report.validation_data = carried;
            check
        } else {
            result(
                Check::Revocation,
                Status::NotRun,
                "no certification path to a trust anchor, so no CA whose revocation information counts".into(),
            )
        });
        checks.push(identity(&envelope.signer));
        report.checks = checks;
    }

    /// Decodes the signature and the canonical bytes of each target.
    fn decode(
        &self,
        signature: &Signature,
        targets: &[Target<'_>],
        default_method: Canonicalization,
    ) -> Result<(Envelope, Named), FormatError> {
        let format = signature
            .sig_format
            .as_ref()
            .and_then(|format| format.value.as_deref())
            .ok_or(FormatError::NoSigFormat)?;
        let data = signature
            .data
            .as_ref()
            .and_then(|data| data.value.as_deref())
            .ok_or(FormatError::NoData)?;
        let essence = format.split(';').next().unwrap_or_default().trim();
        let envelope = match essence {
            JOSE => jws::parse(data, &self.trust)?,
            PKCS7 => pkcs7::parse(data, &self.trust)?,
            other => {
                return Err(FormatError::UnsupportedFormat {
                    format: other.to_owned(),
                });
            }
        };
        let method = match signature
            .target_format
            .as_ref()
            .and_then(|format| format.value.as_deref())
        {
            Some(media_type) => Canonicalization::from_media_type(media_type)
                .map_err(|source| FormatError::TargetFormat { source })?
                .unwrap_or(default_method),
            None => default_method,
        };
        Ok((envelope, canonical_contents(targets, method)?))
    }

    /// The revocation check of `path`, and whether every status it rests on came from
    /// what the signature carries (`carried`) rather than the store.
    fn revocation_check(
        &self,
        path: &[Certificate],
        extra: &[Certificate],
        carried: &Carried,
        signing: Signing,
        at: OffsetDateTime,
    ) -> (CheckResult, bool) {
        self.revocation_of(path, extra, carried, signing, at, 0)
    }

    /// The revocation check of `path`. `depth` counts how many CRL signers' own paths
    /// are being checked above this one: CRLs signed by another key of a CA (a separate
    /// CRL key, a key before or after a rollover) count down to [`MAX_CRL_SIGNER_DEPTH`]
    /// levels, which real PKIs never reach and which bounds the work.
    fn revocation_of(
        &self,
        path: &[Certificate],
        extra: &[Certificate],
        carried: &Carried,
        signing: Signing,
        at: OffsetDateTime,
        depth: usize,
    ) -> (CheckResult, bool) {
        let alternates = depth < MAX_CRL_SIGNER_DEPTH;
        let mut reasons = Vec::new();
        let mut worst = Status::Passed;
        let mut causes = Vec::new();
        let mut all_carried = true;
        let Some(anchor) = path.last() else {
            return (
                result(Check::Revocation, Status::NotRun, "no path".into()),
                false,
            );
        };
        // Every certificate but the anchor, which is trusted as configured.
        for pair in path.windows(2) {
            let issuer = &pair[1];
            let signers_for = |name: &Name| -> Vec<Certificate> {
                let mut signers = Vec::new();
                if name == issuer.subject_name() {
                    signers.push(issuer.clone());
                }
                if alternates {
                    signers.extend(self.crl_signers(
                        name,
                        issuer,
                        anchor,
                        extra,
                        carried,
                        at,
                        depth + 1,
                    ));
                }
                signers
            };
            let (status, reason, why, from_signature) =
                self.revocation
                    .status(&pair[0], issuer, &signers_for, signing, at, carried);
            all_carried &= from_signature;
            if status == Status::Failed {
                return (
                    CheckResult::because(
                        Check::Revocation,
                        status,
                        SignatureError::Revocation { causes: why },
                    ),
                    false,
                );
            }
            if status != Status::Passed && worst == Status::Passed {
                worst = status;
                causes = why;
                reasons.insert(0, reason);
            } else {
                reasons.push(reason);
            }
        }
        if worst == Status::Passed && reasons.is_empty() {
            reasons.push("the signer certificate is itself a trust anchor".to_owned());
        }
        let mut check = result(Check::Revocation, worst, reasons.join("; "));
        if !causes.is_empty() {
            check.error = Some(SignatureError::Revocation { causes });
        }
        let carried_all = all_carried && worst == Status::Passed && path.len() > 1;
        (check, carried_all)
    }
}

impl Verifier {
    /// Every signature time-stamp of `envelope`, judged as of `at`, and the time the
    /// earliest valid one proves.
    fn timestamps(
        &self,
        envelope: &Envelope,
        documents: &[TimestampReport],
        at: OffsetDateTime,
    ) -> (Vec<TimestampReport>, Option<OffsetDateTime>) {
        let count = envelope.timestamps.len();
        if count > crate::timestamp::MAX_TIMESTAMPS {
            let error = TimestampError::TooMany { count };
            let stamp = TimestampReport {
                gen_time: None,
                authority: None,
                serial: None,
                policy: None,
                status: Status::Indeterminate,
                reason: error.to_string(),
                error: Some(SignatureError::Timestamp(error)),
                crl_urls: Vec::new(),
                document: false,
                archive: false,
                validation_data: false,
            };
            return (vec![stamp], None);
        }
        let mut stamps: Vec<TimestampReport> = Vec::with_capacity(count + documents.len());
        // A later document time-stamp that holds proves the signature's own tokens existed
        // at its time: one that does not hold now (its authority's certificate has expired
        // since, say) is judged as of then (ETSI EN 319 102-1 §5.6.2.4, past validation).
        let horizon = documents
            .iter()
            .filter(|stamp| stamp.status == Status::Passed)
            .filter_map(|stamp| stamp.gen_time)
            .min();
        for der in &envelope.timestamps {
            let stamp =
                self.timestamp_then(der, &envelope.timestamped, &envelope.carried, at, horizon);
            let passed = stamp.status == Status::Passed;
            stamps.push(stamp);
            // A signature time-stamp that does not verify decides the check: the others
            // need not cost a path evaluation each.
            if !passed {
                break;
            }
        }
        // A document time-stamp is a later revision anyone may append: one that does not
        // verify proves nothing and decides nothing.
        stamps.extend(documents.iter().cloned());
        let proof = stamps
            .iter()
            .filter(|stamp| stamp.status == Status::Passed)
            .filter_map(|stamp| stamp.gen_time)
            .min();
        (stamps, proof)
    }

    /// One time-stamp token over `data`, judged as of `at` (see [`crate::timestamp`]).
    #[must_use]
    pub fn verify_timestamp(
        &self,
        token: &[u8],
        data: &[u8],
        at: OffsetDateTime,
    ) -> TimestampReport {
        self.timestamp(token, data, Carried::NONE, at, None)
    }

    /// A time-stamp judged as of `at`, or, if its authority's certificates are no longer
    /// valid then, as of `then`: the time a later time-stamp proves it existed at. Only
    /// validity is judged in the past; revocation still counts everything known at `at`
    /// (a revocation dated before `then`, in a CRL issued since, still fails it).
    pub(crate) fn timestamp_then(
        &self,
        der: &[u8],
        data: &[u8],
        carried: &Carried,
        at: OffsetDateTime,
        then: Option<OffsetDateTime>,
    ) -> TimestampReport {
        let now = self.timestamp(der, data, carried, at, None);
        let expired = matches!(
            &now.error,
            Some(SignatureError::Timestamp(TimestampError::Authority { check, .. }))
                if *check == Check::CertificateValidity.code()
        );
        match then {
            Some(then) if expired && then < at => {
                let mut past = self.timestamp(der, data, carried, at, Some(then));
                if past.status != Status::Passed {
                    return now;
                }
                let _ = write!(
                    past.reason,
                    "; judged as of {}, when a later time-stamp proves it existed ({})",
                    rfc3339(then),
                    now.reason
                );
                past
            }
            _ => now,
        }
    }

    /// One token over `data`, as of `at`; with `past`, a time a later time-stamp proves
    /// the token existed at, its authority's certificates are judged valid as of then.
    fn timestamp(
        &self,
        der: &[u8],
        data: &[u8],
        carried: &Carried,
        at: OffsetDateTime,
        past: Option<OffsetDateTime>,
    ) -> TimestampReport {
        let mut report = TimestampReport {
            gen_time: None,
            authority: None,
            serial: None,
            policy: None,
            status: Status::Indeterminate,
            reason: String::new(),
            error: None,
            crl_urls: Vec::new(),
            document: false,
            archive: false,
            validation_data: false,
        };
        // A token that does not prove its time leaves the signature without that proof
        // (INDETERMINATE), whatever is wrong with it: tokens are unsigned properties of the
        // signature, which anyone can add, so a bad one says nothing of the signature.
        let refuse = |mut report: TimestampReport, status: Status, error: TimestampError| {
            report.status = status;
            report.reason = error.to_string();
            report.error = Some(SignatureError::Timestamp(error));
            report
        };
        let token = match Token::read(der, &self.trust) {
            Ok(token) => token,
            Err(error) => return refuse(report, Status::Indeterminate, error),
        };
        let tsa = &token.parts.signer;
        report.gen_time = Some(token.gen_time);
        report.authority = Some(tsa.subject().to_owned());
        report.serial = Some(token.serial.clone());
        report.policy = Some(token.policy.clone());
        if let Err(error) = token.check_binding(data) {
            return refuse(report, Status::Indeterminate, error);
        }
        if token.gen_time > at + WHEN_TOLERANCE {
            let error = TimestampError::AfterVerification {
                gen_time: token.gen_time,
                verified_at: at,
            };
            return refuse(report, Status::Indeterminate, error);
        }
        if let Err(error) = token.check_usage() {
            return refuse(report, Status::Indeterminate, error);
        }
        if !self.trust.is_timestamp_authority(tsa) {
            let error = TimestampError::NotTrustedAuthority {
                subject: tsa.subject().to_owned(),
            };
            return refuse(report, Status::Indeterminate, error);
        }
        if token.gen_time < tsa.not_before() || token.gen_time > tsa.not_after() {
            let error = TimestampError::OutsideValidity {
                subject: tsa.subject().to_owned(),
                gen_time: token.gen_time,
                not_before: tsa.not_before(),
                not_after: tsa.not_after(),
            };
            return refuse(report, Status::Indeterminate, error);
        }
        match self.authority(&token, carried, at, past, &mut report.crl_urls) {
            Ok(from_signature) => report.validation_data = from_signature,
            Err(error) => return refuse(report, Status::Indeterminate, error),
        }
        report.status = Status::Passed;
        report.reason = format!(
            "a time-stamp of \"{}\" (serial {}, policy {}) proves the signature existed at {}",
            tsa.subject(),
            token.serial,
            token.policy,
            rfc3339(token.gen_time)
        );
        report
    }

    /// The time-stamping authority's certificate: a path to an anchor (RFC 5280, its
    /// profile, validity) at the verification time, and its revocation status at the
    /// time-stamp. Gives the CRL distribution points of its path to `crl_urls`, and
    /// whether its revocation status came from what the signature carries.
    fn authority(
        &self,
        token: &Token,
        carried: &Carried,
        at: OffsetDateTime,
        past: Option<OffsetDateTime>,
        crl_urls: &mut Vec<String>,
    ) -> Result<bool, TimestampError> {
        let tsa = &token.parts.signer;
        // The authority's path is held to RFC 5280 at the verification time (or at the
        // time a later time-stamp proves), not to the policies required of signers of
        // clinical acts.
        let extra = &carried.with_certificates(&token.parts.extra);
        let evaluation =
            self.trust
                .evaluate_with(tsa, extra, past.unwrap_or(at), &PolicySettings::default());
        for cert in &evaluation.path {
            for url in cert.crl_distribution_points() {
                if !crl_urls.contains(url) {
                    crl_urls.push(url.clone());
                }
            }
        }
        let authority = |check: &CheckResult| TimestampError::Authority {
            subject: tsa.subject().to_owned(),
            check: check.check.code(),
            reason: check.reason.clone(),
        };
        for check in [
            &evaluation.path_check,
            &evaluation.profile_check,
            &evaluation.validity_check,
        ] {
            if check.status != Status::Passed || !evaluation.complete {
                return Err(authority(check));
            }
        }
        // The authority's status at its time-stamp, from the newest information at hand
        // that was current then (as for a signer with a proof of existence): a revocation
        // dated before the time-stamp, in any later CRL, still counts.
        // Judged in the past, a revocation after the later time-stamp's time does not
        // reach the token (that time-stamp proves it existed before).
        let signing = Signing {
            claimed: token.gen_time,
            proof: past,
            fresh: token.gen_time,
        };
        let (revocation, from_signature) =
            self.revocation_check(&evaluation.path, extra, carried, signing, at);
        if revocation.status != Status::Passed {
            let mut error = authority(&revocation);
            if revocation.status == Status::Failed
                && let TimestampError::Authority { check, .. } = &mut error
            {
                *check = "revoked";
            }
            return Err(error);
        }
        Ok(from_signature)
    }

    /// The validity check. Every certificate of the path must be valid at the claimed
    /// signing time (a signer who claims to have signed outside its certificate's validity
    /// contradicts itself) and at the best signature time; one valid at the claimed time
    /// but expired since, with no time-stamp proving the signature came first, is
    /// indeterminate (`OUT_OF_BOUNDS_NO_POE`) rather than failed.
    fn validity_check(
        envelope: &Envelope,
        evaluation: &crate::path::PathEvaluation,
        proof: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> CheckResult {
        let check = evaluation.validity_check.clone();
        let claimed = envelope.signing_time.min(at);
        // The claim is checked against the signer's own certificate: a CA re-certified
        // since (same key, later notBefore) must not make a genuine signature fail.
        let signer = evaluation
            .path
            .first()
            .map(std::slice::from_ref)
            .unwrap_or_default();
        if let Err(error) = crate::path::validity(signer, claimed) {
            return CheckResult::failed(Check::CertificateValidity, SignatureError::Path(error));
        }
        // Valid at the claimed time, expired at the best signature time: nothing proves
        // the signature came before the expiry, whether there is no time-stamp or only
        // one after it (ETSI EN 319 102-1: OUT_OF_BOUNDS_NO_POE, not EXPIRED).
        match &check.error {
            Some(SignatureError::Path(PathError::Expired {
                subject, not_after, ..
            })) if *not_after >= claimed => CheckResult::because(
                Check::CertificateValidity,
                Status::Indeterminate,
                PathError::ExpiredWithoutProof {
                    subject: subject.clone(),
                    not_after: *not_after,
                    verified_at: proof.unwrap_or(at),
                    claimed: envelope.signing_time,
                },
            ),
            _ => check,
        }
    }
}

/// The summary check of the signature time-stamps.
fn stamps_check(
    stamps: &[TimestampReport],
    proof: Option<OffsetDateTime>,
    at: OffsetDateTime,
) -> CheckResult {
    if stamps.is_empty() {
        return result(
            Check::Timestamp,
            Status::Passed,
            format!(
                "no signature time-stamp: the certificates are judged at the verification time, {}, not at the claimed signing time",
                rfc3339(at)
            ),
        );
    }
    // A token that does not verify is a defect of the signature, even beside a valid one;
    // a document time-stamp that does not is reported, and decides nothing.
    let own = || stamps.iter().filter(|stamp| !stamp.document);
    let worst = own()
        .find(|stamp| stamp.status == Status::Failed)
        .or_else(|| own().find(|stamp| stamp.status != Status::Passed));
    if let Some(stamp) = worst {
        return CheckResult {
            check: Check::Timestamp,
            status: stamp.status,
            reason: stamp.reason.clone(),
            error: stamp.error.clone(),
        };
    }
    let reasons: Vec<String> = stamps
        .iter()
        .map(|stamp| {
            if stamp.status == Status::Passed {
                stamp.reason.clone()
            } else {
                format!("a document time-stamp proves nothing: {}", stamp.reason)
            }
        })
        .collect();
    let mut reason = reasons.join("; ");
    if proof.is_none() {
        let _ = write!(
            reason,
            "; the certificates are judged at the verification time, {}",
            rfc3339(at)
        );
    }
    if let (Some(proof), true) = (proof, stamps.len() > 1) {
        let _ = write!(
            reason,
            "; the earliest, {}, is the best signature time",
            rfc3339(proof)
        );
    }
    result(Check::Timestamp, Status::Passed, reason)
}

impl Verifier {
    /// Certificates named `name`, other than `issuer`, that may sign CRLs under that name
    /// (RFC 5280 §6.3.3 (f)): anchors, or certificates with a valid path, profile and
    /// validity at `at` and no revocation known. A CA may sign CRLs with a separate key,
    /// or keep signing them with its old key after a rollover; an indirect CRL is signed
    /// by another authority altogether.
    #[expect(
        clippy::too_many_arguments,
        reason = "the certificate's context: its issuer, anchor, and what the signature carries"
    )]
    fn crl_signers(
        &self,
        name: &Name,
        issuer: &Certificate,
        anchor: &Certificate,
        extra: &[Certificate],
        carried: &Carried,
        at: OffsetDateTime,
        depth: usize,
    ) -> Vec<Certificate> {
        let trust = &self.trust;
        let mut signers: Vec<Certificate> = Vec::new();
        for candidate in trust
            .anchors()
            .iter()
            .chain(trust.intermediates())
            .chain(extra)
        {
            // Another key must be declared for CRLs (RFC 5280 §6.3.3 (f)).
            let signs_crls = candidate
                .key_usage()
                .is_some_and(|usage| usage & key_usage::CRL_SIGN != 0);
            if candidate.same_as(issuer)
                || !signs_crls
                || candidate.subject_name() != name
                || signers.iter().any(|held| held.same_as(candidate))
            {
                continue;
            }
            // Under the same trust anchor as the certificate whose status it tells
            // (§6.3.3 (f)): another anchor's name-alike speaks for nothing here.
            if candidate.same_as(anchor) {
                signers.push(candidate.clone());
                continue;
            }
            // The CRL signer's path is held to RFC 5280, not to the policies required of
            // signers of clinical acts.
            let evaluation = trust.evaluate_with(candidate, extra, at, &PolicySettings::default());
            let passed = |check: &CheckResult| check.status == Status::Passed;
            if evaluation.complete
                && evaluation
                    .path
                    .last()
                    .is_some_and(|top| top.same_as(anchor))
                && passed(&evaluation.path_check)
                && passed(&evaluation.profile_check)
                && passed(&evaluation.validity_check)
                && passed(
                    &self
                        .revocation_of(
                            &evaluation.path,
                            extra,
                            carried,
                            Signing::claimed(at, at),
                            at,
                            depth,
                        )
                        .0,
                )
            {
                signers.push(candidate.clone());
            }
        }
        signers
    }
}

/// The content-integrity and signature-value checks.
pub(crate) fn content_and_value(
    envelope: &Envelope,
    contents: &[(String, Vec<u8>)],
) -> (CheckResult, CheckResult) {
    let key = match envelope.signer.public_key() {
        Ok(key) => key,
        Err(error) => {
            let error = SignatureError::UnusableKey {
                source: error.clone(),
            };
            return (
                cause(Check::ContentIntegrity, Status::NotRun, error.clone()),
                cause(Check::SignatureValue, Status::Failed, error),
            );
        }
    };
    if !key.jose_algorithms().contains(&envelope.algorithm.as_str()) {
        let error = SignatureError::AlgorithmMismatch {
            algorithm: envelope.algorithm.clone(),
            key_algorithms: key
                .jose_algorithms()
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
        };
        return (
            cause(Check::ContentIntegrity, Status::NotRun, error.clone()),
            cause(Check::SignatureValue, Status::Failed, error),
        );
    }
    match &envelope.binding {
        Binding::JwsDetached { header_b64 } => detached(envelope, key, header_b64, contents),
        Binding::Digests {
            signed,
            hash,
            digests,
        } => {
            let integrity = digests_check(*hash, digests, contents);
            let value = match crypto::verify(
                key,
                envelope.scheme,
                envelope.hash,
                signed,
                &envelope.signature,
            ) {
                Ok(()) => result(
                    Check::SignatureValue,
                    Status::Passed,
                    format!(
                        "{} signature verifies over the signed attributes",
                        envelope.algorithm
                    ),
                ),
                Err(source) => CheckResult::failed(
                    Check::SignatureValue,
                    SignatureError::SignatureValue { source },
                ),
            };
            (integrity, value)
        }
    }
}

/// A JWS with a detached payload: the content is checked by the signature value itself.
fn detached(
    envelope: &Envelope,
    key: &crypto::PublicKey,
    header_b64: &str,
    contents: &[(String, Vec<u8>)],
) -> (CheckResult, CheckResult) {
    let [(reference, content)] = contents else {
        let error = SignatureError::Content(ContentError::DetachedTargets {
            count: contents.len(),
        });
        return (
            cause(Check::ContentIntegrity, Status::Failed, error.clone()),
            cause(Check::SignatureValue, Status::NotRun, error),
        );
    };
    let mut input = String::with_capacity(header_b64.len() + 1 + content.len() * 4 / 3 + 4);
    input.push_str(header_b64);
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(content, &mut input);
    if crypto::verify(
        key,
        envelope.scheme,
        envelope.hash,
        input.as_bytes(),
        &envelope.signature,
    )
    .is_ok()
    {
        (
            result(
                Check::ContentIntegrity,
                Status::Passed,
                format!("the detached payload is the canonical JSON of {reference}, as signed"),
            ),
            result(
                Check::SignatureValue,
                Status::Passed,
                format!(
                    "{} signature verifies over the JWS signing input",
                    envelope.algorithm
                ),
            ),
        )
    } else {
        let error = SignatureError::Content(ContentError::PayloadMismatch {
            reference: reference.clone(),
        });
        (
            cause(Check::ContentIntegrity, Status::Failed, error.clone()),
            cause(Check::SignatureValue, Status::Failed, error),
        )
    }
}

pub(crate) fn result(check: Check, status: Status, reason: String) -> CheckResult {
    CheckResult {
        check,
        status,
        reason,
        error: None,
    }
}

fn cause(check: Check, status: Status, error: impl Into<SignatureError>) -> CheckResult {
    CheckResult::because(check, status, error)
}

/// The report of a signature that could not be read: the failing check, then the others
/// as not run.
pub(crate) fn not_run(first: Check, status: Status, error: SignatureError) -> Vec<CheckResult> {
    let mut checks: Vec<_> = Check::ALL
        .iter()
        .filter(|check| **check != first)
        .map(|check| {
            result(
                *check,
                Status::NotRun,
                format!("not checked: the {} check did not pass", first.title()),
            )
        })
        .collect();
    let position = Check::ALL
        .iter()
        .position(|check| *check == first)
        .unwrap_or_default();
    checks.insert(position, cause(first, status, error));
    checks
}

fn empty_report(signature: &Signature, location: &str, at: OffsetDateTime) -> SignatureReport {
    let mut report = blank_report(
        location,
        signature
            .sig_format
            .as_ref()
            .and_then(|format| format.value.clone())
            .unwrap_or_default(),
        at,
    );
    report.commitment = signature
        .r#type
        .iter()
        .filter_map(|coding| {
            let code = coding.code.as_ref()?.value.as_deref()?;
            Some(code.to_owned())
        })
        .collect();
    report
}

/// A report with no check yet.
pub(crate) fn blank_report(location: &str, format: String, at: OffsetDateTime) -> SignatureReport {
    SignatureReport {
        location: location.to_owned(),
        format,
        algorithm: None,
        signing_time: None,
        verified_at: at,
        best_signature_time: None,
        timestamps: Vec::new(),
        commitment: Vec::new(),
        signer: None,
        path: Vec::new(),
        crl_urls: Vec::new(),
        ocsp: Vec::new(),
        checks: Vec::new(),
        validation_data: false,
    }
}

fn signer_info(cert: &Certificate) -> SignerInfo {
    SignerInfo {
        subject: cert.subject().to_owned(),
        issuer: cert.issuer().to_owned(),
        serial: cert.serial_hex(),
        fingerprint: hex(&cert.fingerprint()),
        identifiers: cert.identifiers().to_vec(),
    }
}

/// Compares the signed digests with the targets.
fn digests_check(
    hash: crypto::Hash,
    digests: &[(Option<String>, Vec<u8>)],
    contents: &[(String, Vec<u8>)],
) -> CheckResult {
    if let [(None, digest)] = digests {
        let [(reference, content)] = contents else {
            return CheckResult::failed(
                Check::ContentIntegrity,
                ContentError::CmsTargets {
                    count: contents.len(),
                },
            );
        };
        return if hash.digest(content) == *digest {
            result(
                Check::ContentIntegrity,
                Status::Passed,
                format!("the signed message digest is that of the canonical JSON of {reference}"),
            )
        } else {
            CheckResult::failed(
                Check::ContentIntegrity,
                ContentError::DigestMismatch {
                    reference: reference.clone(),
                },
            )
        };
    }
    let mut changed = Vec::new();
    let mut unsigned = Vec::new();
    for (reference, content) in contents {
        match digests
            .iter()
            .find(|(par, _)| par.as_deref() == Some(reference.as_str()))
        {
            Some((_, digest)) if hash.digest(content) == *digest => {}
            Some(_) => changed.push(reference.as_str()),
            None => unsigned.push(reference.as_str()),
        }
    }
    let extra: Vec<_> = digests
        .iter()
        .filter_map(|(par, _)| par.as_deref())
        .filter(|par| !contents.iter().any(|(reference, _)| reference == par))
        .collect();
    if changed.is_empty() && unsigned.is_empty() && extra.is_empty() {
        let names: Vec<_> = contents
            .iter()
            .map(|(reference, _)| reference.as_str())
            .collect();
        return result(
            Check::ContentIntegrity,
            Status::Passed,
            format!(
                "the signed digests match the canonical JSON of {}",
                names.join(", ")
            ),
        );
    }
    let owned = |names: Vec<&str>| names.into_iter().map(str::to_owned).collect();
    CheckResult::failed(
        Check::ContentIntegrity,
        ContentError::Digests {
            changed: owned(changed),
            unsigned: owned(unsigned),
            extra: owned(extra),
        },
    )
}

/// What, beside the signed data, states when the signature was made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stated {
    /// `Signature.when`, when present and readable.
    When(Option<OffsetDateTime>),
    /// A PDF signature: the CMS `signingTime` attribute and `/M`, when present (the
    /// envelope's signing time is the first, else the second).
    Pdf {
        attribute: Option<OffsetDateTime>,
        m: Option<OffsetDateTime>,
    },
}

fn signing_time(
    stated: Stated,
    envelope: &Envelope,
    at: OffsetDateTime,
    proof: Option<OffsetDateTime>,
) -> CheckResult {
    let signed = envelope.signing_time;
    if let Some(timestamp) = proof
        && signed > timestamp + WHEN_TOLERANCE
    {
        return CheckResult::failed(
            Check::SigningTime,
            SigningTimeError::AfterTimestamp {
                signing_time: signed,
                timestamp,
            },
        );
    }
    if signed > at + WHEN_TOLERANCE {
        return CheckResult::failed(
            Check::SigningTime,
            SigningTimeError::AfterVerification {
                signing_time: signed,
                verified_at: at,
            },
        );
    }
    let when = match stated {
        Stated::When(when) => when,
        Stated::Pdf { attribute, m } => {
            return match (attribute, m) {
                (Some(attribute), Some(m)) if (m - attribute).abs() > WHEN_TOLERANCE => {
                    CheckResult::failed(
                        Check::SigningTime,
                        SigningTimeError::PdfDateDisagrees {
                            m,
                            signing_time: attribute,
                        },
                    )
                }
                (Some(_), _) => result(
                    Check::SigningTime,
                    Status::Passed,
                    format!("signed at {} (the CMS signingTime)", rfc3339(signed)),
                ),
                (None, _) => result(
                    Check::SigningTime,
                    Status::Passed,
                    format!(
                        "signed at {}, as the signature dictionary's /M says (signed with it)",
                        rfc3339(signed)
                    ),
                ),
            };
        }
    };
    match when {
        Some(when) if (when - signed).abs() > WHEN_TOLERANCE => CheckResult::failed(
            Check::SigningTime,
            SigningTimeError::WhenDisagrees {
                when,
                signing_time: signed,
            },
        ),
        Some(_) => result(
            Check::SigningTime,
            Status::Passed,
            format!("signed at {}, as Signature.when says", rfc3339(signed)),
        ),
        _ => result(
            Check::SigningTime,
            Status::Passed,
            format!("signed at {} (Signature.when is missing)", rfc3339(signed)),
        ),
    }
}

fn key_usage_check(signer: &Certificate) -> CheckResult {
    if signer.is_ca() {
        return CheckResult::failed(
            Check::KeyUsage,
            KeyUsageError::CaCertificate {
                subject: signer.subject().to_owned(),
            },
        );
    }
    let mut fit = Vec::new();
    if let Some(usage) = signer.key_usage() {
        let non_repudiation = usage & key_usage::NON_REPUDIATION != 0;
        let digital_signature = usage & key_usage::DIGITAL_SIGNATURE != 0;
        if !non_repudiation && !digital_signature {
            return CheckResult::failed(
                Check::KeyUsage,
                KeyUsageError::NoSigningUsage {
                    subject: signer.subject().to_owned(),
                },
            );
        }
        if non_repudiation {
            fit.push("nonRepudiation");
        }
        if digital_signature {
            fit.push("digitalSignature");
        }
    } else {
        fit.push("no key usage restriction");
    }
    if let Some(ekus) = signer.extended_key_usage()
        && !ekus
            .iter()
            .any(|eku| DOCUMENT_SIGNING_EKUS.contains(&eku.as_str()))
    {
        return CheckResult::failed(
            Check::KeyUsage,
            KeyUsageError::NoDocumentSigning {
                subject: signer.subject().to_owned(),
                usages: ekus.to_vec(),
            },
        );
    }
    result(
        Check::KeyUsage,
        Status::Passed,
        format!("the signer certificate allows {}", fit.join(" and ")),
    )
}

/// The canonical JSON of every target under `method`, by reference: the bytes a
/// signature over them covers.
pub(crate) fn canonical_contents(
    targets: &[Target<'_>],
    method: Canonicalization,
) -> Result<Named, TargetError> {
    targets
        .iter()
        .map(|target| {
            target
                .resource
                .to_canonical_json(method)
                .map(|bytes| (target.reference.to_owned(), bytes))
                .map_err(|source| TargetError {
                    reference: target.reference.to_owned(),
                    source,
                })
        })
        .collect()
}

/// Resources that `Signature.who` and `Provenance.target` may point at.
#[derive(Debug, Default)]
pub struct Context<'a> {
    /// `(fullUrl, resource)` pairs.
    resources: Vec<(Option<&'a str>, &'a Resource)>,
}

impl<'a> Context<'a> {
    /// The entries of a Bundle plus `others`.
    #[must_use]
    pub fn of_bundle(bundle: &'a Bundle, others: &'a [Resource]) -> Self {
        let mut context = Self::default();
        for entry in &bundle.entry {
            if let Some(resource) = &entry.resource {
                let full_url = entry.full_url.as_ref().and_then(|url| url.value.as_deref());
                context.add(full_url, resource);
            }
        }
        for other in others {
            context.add(None, other);
        }
        context
    }

    /// Adds a resource, with its `fullUrl` if it has one.
    pub fn add(&mut self, full_url: Option<&'a str>, resource: &'a Resource) {
        self.resources.push((full_url, resource));
    }

    /// The resource a reference points at: by `fullUrl`, by `Type/id`, or by a
    /// `#id` of a contained resource.
    #[must_use]
    pub fn resolve(&self, reference: &str) -> Option<&'a Resource> {
        if reference.is_empty() {
            return None;
        }
        let local = reference.trim_start_matches('#');
        self.resources.iter().find_map(|(full_url, resource)| {
            let by_url = *full_url == Some(reference);
            let type_id = resource.id().is_some_and(|id| {
                let relative = format!("{}/{id}", resource.resource_type());
                reference == relative
                    || reference.ends_with(&format!("/{relative}"))
                    || (reference.starts_with('#') && local == id)
            });
            (by_url || type_id).then_some(*resource)
        })
    }
}

/// The identifiers of the party a reference names: its own `identifier`, else those of
/// the resource it points at.
fn who_identifiers(who: &Reference, context: &Context<'_>) -> Option<Vec<Identifier>> {
    if let Some(identifier) = &who.identifier {
        return Some(vec![identifier.as_ref().clone()]);
    }
    let resource = context.resolve(who.reference_str()?)?;
    let identifiers = match resource {
        Resource::Practitioner(r) => &r.identifier,
        Resource::PractitionerRole(r) => &r.identifier,
        Resource::Patient(r) => &r.identifier,
        Resource::Organization(r) => &r.identifier,
        Resource::RelatedPerson(r) => &r.identifier,
        Resource::Device(r) => &r.identifier,
        _ => return None,
    };
    Some(identifiers.clone())
}

/// The number in a certificate identity attribute: `PNOPE-41234567` (ETSI EN 319 412-1
/// semantics: type, country, hyphen, number), `DNI 41234567`, `DNI:41234567` or a bare
/// number.
fn identity_number(attribute: &str) -> &str {
    attribute
        .rsplit(['-', ' ', ':'])
        .next()
        .unwrap_or(attribute)
        .trim()
}

fn identity_check(
    signature: &Signature,
    signer: &Certificate,
    context: &Context<'_>,
) -> CheckResult {
    let Some(who) = &signature.who else {
        return CheckResult::failed(Check::SignerIdentity, IdentityError::NoWho);
    };
    let named = who
        .reference_str()
        .map(str::to_owned)
        .or_else(|| who.display.as_ref().and_then(|d| d.value.clone()))
        .unwrap_or_else(|| "Signature.who".to_owned());
    let Some(identifiers) = who_identifiers(who, context) else {
        return cause(
            Check::SignerIdentity,
            Status::Indeterminate,
            IdentityError::Unresolved { named },
        );
    };
    if signer.identifiers().is_empty() {
        return cause(
            Check::SignerIdentity,
            Status::Indeterminate,
            IdentityError::NoCertificateIdentifier {
                subject: signer.subject().to_owned(),
                named,
            },
        );
    }
    for attribute in signer.identifiers() {
        let number = identity_number(attribute);
        if let Some(identifier) = identifiers.iter().find(|identifier| {
            identifier
                .value_str()
                .is_some_and(|value| value.trim() == number)
        }) {
            return result(
                Check::SignerIdentity,
                Status::Passed,
                format!(
                    "the certificate's {attribute} is the identifier {}|{} of {named}",
                    identifier.system_str().unwrap_or_default(),
                    identifier.value_str().unwrap_or_default()
                ),
            );
        }
    }
    CheckResult::failed(
        Check::SignerIdentity,
        IdentityError::Mismatch {
            certificate: signer.identifiers().to_vec(),
            named,
            identifiers: identifiers
                .iter()
                .filter_map(Identifier::value_str)
                .map(str::to_owned)
                .collect(),
        },
    )
}
