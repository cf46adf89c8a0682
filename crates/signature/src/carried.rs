//! Validation material a signature carries (ETSI EN 319 102-1, B-LT): certificates, CRLs
//! and OCSP responses read from each format's own container into one [`Carried`], used
//! beside the configured stores for that signature alone.
//!
//! Carried material is unsigned (anyone may add to it) and proves nothing by being there:
//! a certificate only completes a path that must still reach a configured anchor, and a
//! CRL or OCSP response counts only once verified against its issuer, exactly as one from
//! the store. An item that does not parse is passed over, as an unusable one would be.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::{Decode as _, Encode as _, Reader as _, SliceReader};
use serde_json::Value;

use crate::cert::Certificate;
use crate::ocsp::OcspResponse;
use crate::revocation::{Carried, Crl};

/// At most this many items (certificates, CRLs and responses together) are read from one
/// signature: a real one carries a handful per certificate of its paths.
pub(crate) const MAX_CARRIED: usize = 256;

/// `CAdES` `certificate-values` (ETSI EN 319 122-1 §A.1.1): `SEQUENCE OF Certificate`.
pub(crate) const ID_CERT_VALUES: &str = "1.2.840.113549.1.9.16.2.23";
/// `CAdES` `revocation-values` (§A.1.2): CRLs and basic OCSP responses.
pub(crate) const ID_REVOCATION_VALUES: &str = "1.2.840.113549.1.9.16.2.24";
/// Adobe's `revocationInfoArchival` signed attribute (ISO 32000-1 §12.8.3.3.2): CRLs and
/// OCSP responses, signed with the signature.
pub(crate) const ID_ADBE_REVOCATION: &str = "1.2.840.113583.1.1.8";
/// `id-ri-ocsp-response` (RFC 5940): an OCSP response among a `SignedData`'s `crls`.
pub(crate) const ID_RI_OCSP_RESPONSE: &str = "1.3.6.1.5.5.7.16.2";

impl Carried {
    fn count(&self) -> usize {
        self.certificates.len() + self.crls.len() + self.ocsp.len()
    }

    /// Adds a DER certificate; whether it was one.
    pub(crate) fn add_certificate_der(&mut self, der: &[u8]) -> bool {
        if self.count() >= MAX_CARRIED {
            return true;
        }
        let Ok(cert) = Certificate::from_der(der) else {
            return false;
        };
        if !self.certificates.iter().any(|held| held.same_as(&cert)) {
            self.certificates.push(cert);
        }
        true
    }

    /// Adds a DER CRL; whether it was one.
    pub(crate) fn add_crl_der(&mut self, der: &[u8]) -> bool {
        if self.count() >= MAX_CARRIED {
            return true;
        }
        let Ok(crl) = Crl::from_der(der) else {
            return false;
        };
        self.extend(Self {
            crls: vec![crl],
            ..Self::default()
        });
        true
    }

    /// Adds a DER `OCSPResponse`, or a `BasicOCSPResponse` (what `CAdES` carries); whether
    /// it was either.
    pub(crate) fn add_ocsp_der(&mut self, der: &[u8]) -> bool {
        if self.count() >= MAX_CARRIED {
            return true;
        }
        let Ok(response) =
            OcspResponse::from_der(der).or_else(|_| OcspResponse::from_basic_der(der))
        else {
            return false;
        };
        self.extend(Self {
            ocsp: vec![response],
            ..Self::default()
        });
        true
    }

    /// Reads a `RevocationValues` (`CAdES`) or a `RevocationInfoArchival` (Adobe), whose
    /// `[0]` holds CRLs and `[1]` OCSP responses, as lists (explicit tags) or directly.
    pub(crate) fn add_revocation_values(&mut self, der: &[u8]) {
        let Some(outer) = contents(der) else {
            return;
        };
        for (tag, tlv) in elements(outer) {
            let der::Tag::ContextSpecific {
                number,
                constructed: true,
            } = tag
            else {
                continue;
            };
            let add = |carried: &mut Self, item: &[u8]| match number.value() {
                0 => carried.add_crl_der(item),
                1 => carried.add_ocsp_der(item),
                _ => true,
            };
            let Some(inner) = contents(tlv) else {
                continue;
            };
            for (_, item) in elements(inner) {
                if !add(self, item) {
                    for (_, nested) in contents(item).map(elements).unwrap_or_default() {
                        add(self, nested);
                    }
                }
            }
        }
    }

    /// Reads a `CAdES` `certificate-values`: `SEQUENCE OF Certificate`.
    pub(crate) fn add_certificate_values(&mut self, der: &[u8]) {
        for (_, item) in contents(der).map(elements).unwrap_or_default() {
            self.add_certificate_der(item);
        }
    }

    /// Reads one `JAdES` unsigned property (ETSI TS 119 182-1 §5.3.5): `xVals`
    /// (`[{"x509Cert": {"val": …}}]`) or `rVals` (`{"crlVals": […], "ocspVals": […]}`),
    /// whose values are base64 DER (`pkiOb`).
    pub(crate) fn add_jades(&mut self, name: &str, value: &Value) {
        match name {
            "xVals" => {
                for item in value.as_array().into_iter().flatten() {
                    if let Some(der) = item.get("x509Cert").and_then(pki_ob) {
                        self.add_certificate_der(&der);
                    }
                }
            }
            "rVals" => {
                for der in list(value.get("crlVals")) {
                    self.add_crl_der(&der);
                }
                for der in list(value.get("ocspVals")) {
                    self.add_ocsp_der(&der);
                }
            }
            _ => {}
        }
    }
}

/// The DER values of a `JAdES` list of `pkiOb`s.
fn list(value: Option<&Value>) -> Vec<Vec<u8>> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MAX_CARRIED)
        .filter_map(pki_ob)
        .collect()
}

/// A `JAdES` `pkiOb` (`{"val": base64}`; a bare string is taken too).
fn pki_ob(value: &Value) -> Option<Vec<u8>> {
    let text = match value {
        Value::String(text) => text.as_str(),
        Value::Object(object) => object.get("val")?.as_str()?,
        _ => return None,
    };
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
        .ok()
}

/// The contents of one DER element.
fn contents(tlv: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(tlv).ok()?;
    let header = der::Header::decode(&mut reader).ok()?;
    reader.read_slice(header.length).ok()
}

/// The elements of a constructed value's contents, each as its tag and whole encoding
/// (at most [`MAX_CARRIED`]).
fn elements(contents: &[u8]) -> Vec<(der::Tag, &[u8])> {
    let mut found = Vec::new();
    let Ok(mut reader) = SliceReader::new(contents) else {
        return found;
    };
    while !reader.is_finished() && found.len() < MAX_CARRIED {
        let Ok(header) = reader.peek_header() else {
            break;
        };
        let Ok(tlv) = reader.tlv_bytes() else {
            break;
        };
        found.push((header.tag, tlv));
    }
    found
}

/// What a CMS `SignedData` carries besides its certificates: its `crls` (CRLs, and OCSP
/// responses as RFC 5940 other revocation information), Adobe's signed
/// `revocationInfoArchival`, and the `CAdES` `certificate-values` and `revocation-values`
/// unsigned attributes of its signer.
pub(crate) fn from_cms(signed: &cms::signed_data::SignedData) -> Carried {
    use cms::revocation::RevocationInfoChoice;
    let mut carried = Carried::default();
    for choice in signed.crls.iter().flat_map(|set| set.0.iter()) {
        match choice {
            RevocationInfoChoice::Crl(crl) => {
                if let Ok(der) = crl.to_der() {
                    carried.add_crl_der(&der);
                }
            }
            RevocationInfoChoice::Other(other)
                if other.other_format.oid.to_string() == ID_RI_OCSP_RESPONSE =>
            {
                if let Ok(der) = other.other.to_der() {
                    carried.add_ocsp_der(&der);
                }
            }
            RevocationInfoChoice::Other(_) => {}
        }
    }
    for info in signed.signer_infos.0.iter() {
        let attributes = info
            .signed_attrs
            .iter()
            .flat_map(|set| set.iter())
            .chain(info.unsigned_attrs.iter().flat_map(|set| set.iter()));
        for attribute in attributes {
            let oid = attribute.oid.to_string();
            for value in attribute.values.iter() {
                let Ok(der) = value.to_der() else { continue };
                match oid.as_str() {
                    ID_ADBE_REVOCATION | ID_REVOCATION_VALUES => {
                        carried.add_revocation_values(&der);
                    }
                    ID_CERT_VALUES => carried.add_certificate_values(&der),
                    _ => {}
                }
            }
        }
    }
    carried
}
