//! What a signature says, whatever its format: the signer, the signing time, the signed
//! bytes and how they bind the signed content.

use time::OffsetDateTime;

use crate::cert::Certificate;
use crate::crypto::{Hash, Scheme};

/// Bytes per signed object, by reference: the canonical JSON of each target, or its
/// digest.
pub(crate) type Named = Vec<(String, Vec<u8>)>;

/// A decoded signature, before any check.
#[derive(Debug)]
pub(crate) struct Envelope {
    /// The algorithm as a JOSE name (`ES256`), also for CMS.
    pub(crate) algorithm: String,
    pub(crate) scheme: Scheme,
    pub(crate) hash: Hash,
    pub(crate) signer: Certificate,
    /// Other certificates the signature carries (intermediates).
    pub(crate) extra: Vec<Certificate>,
    pub(crate) signing_time: OffsetDateTime,
    /// Commitment type identifiers (URIs) in the signed data.
    pub(crate) commitment: Vec<String>,
    pub(crate) signature: Vec<u8>,
    pub(crate) binding: Binding,
    /// Signature time-stamp tokens (DER `ContentInfo`s) the signature carries: `JAdES`
    /// `sigTst`, `CAdES` `signature-time-stamp`.
    pub(crate) timestamps: Vec<Vec<u8>>,
    /// The bytes a signature time-stamp's message imprint is the digest of: the
    /// signature value for CMS, the base64url of the signature value for a JWS.
    pub(crate) timestamped: Vec<u8>,
    /// Validation material the signature carries (`JAdES` `xVals`/`rVals`, `CAdES`
    /// `certificate-values`/`revocation-values`, CMS `crls`, Adobe's
    /// `revocationInfoArchival`; for a PDF, also its DSS).
    pub(crate) carried: crate::revocation::Carried,
}

/// How the signed bytes bind the content.
#[derive(Debug)]
pub(crate) enum Binding {
    /// A JWS with a detached payload: the signing input is
    /// `header_b64 "." base64url(content)`, so the content is checked by the signature
    /// value itself.
    JwsDetached {
        /// The protected header as sent.
        header_b64: String,
    },
    /// Fixed signed bytes that carry digests of the content (`JAdES` `sigD`, CMS
    /// `messageDigest`): the content is checked by comparing digests.
    Digests {
        /// The exact bytes the signature value covers.
        signed: Vec<u8>,
        /// The digest algorithm of `digests`.
        hash: Hash,
        /// Per signed object: its reference (`None`: the one target) and digest.
        digests: Vec<(Option<String>, Vec<u8>)>,
    },
}
