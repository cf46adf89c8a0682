//! Which CRL speaks for which certificate (RFC 5280 §6.3.3 (b), (d)): the certificate's
//! CRL distribution points against the CRL's issuing distribution point — the
//! distribution point names, the kinds of certificate a CRL covers, the revocation
//! reasons it covers (partitioned CRLs) — and indirect CRLs, issued by another
//! authority than the CA, named in the distribution point's `cRLIssuer`.

use der::Decode as _;
use x509_cert::ext::pkix::crl::dp::{DistributionPoint as Asn1Point, IssuingDistributionPoint};
use x509_cert::ext::pkix::name::DistributionPointName;

use crate::constraints::GeneralName;
use crate::names::Name;

/// Every revocation reason a distribution point can be limited to (RFC 5280 §4.2.1.13:
/// keyCompromise to aACompromise; bit 0, `unused`, is none).
pub(crate) const ALL_REASONS: u16 = 0b1_1111_1110;

/// The name of a distribution point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PointName {
    /// `fullName`.
    Full(Vec<GeneralName>),
    /// `nameRelativeToCRLIssuer`: one relative name (its DER) under the CRL issuer.
    Relative(Vec<u8>),
}

/// A CRL distribution point of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct DistributionPoint {
    pub(crate) name: Option<PointName>,
    /// The reasons the CRLs there cover (bits as `ReasonFlags`); `None` for all.
    pub(crate) reasons: Option<u16>,
    /// Who issues the CRLs there, when not the CA (an indirect CRL).
    pub(crate) crl_issuer: Option<Vec<GeneralName>>,
}

/// A CRL's issuing distribution point.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Scope {
    pub(crate) name: Option<PointName>,
    pub(crate) holds: Holds,
    pub(crate) reasons: Option<u16>,
    pub(crate) indirect: bool,
}

/// Which certificates a CRL lists (`onlyContainsUserCerts`, `onlyContainsCACerts`,
/// `onlyContainsAttributeCerts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Holds {
    #[default]
    All,
    Users,
    Cas,
    Attributes,
}

fn point_name(name: &DistributionPointName) -> Result<PointName, String> {
    Ok(match name {
        DistributionPointName::FullName(names) => PointName::Full(
            names
                .iter()
                .map(|name| GeneralName::from_asn1(name, false))
                .collect::<Result<_, _>>()?,
        ),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            PointName::Relative(der::Encode::to_der(rdn).map_err(|error| error.to_string())?)
        }
    })
}

/// The distribution points of a `cRLDistributionPoints` value.
pub(crate) fn distribution_points(value: &[u8]) -> Result<Vec<DistributionPoint>, String> {
    let points = x509_cert::ext::pkix::CrlDistributionPoints::from_der(value)
        .map_err(|error| error.to_string())?
        .0;
    if points.is_empty() {
        return Err("no distribution point in it".into());
    }
    points.iter().map(distribution_point).collect()
}

fn distribution_point(point: &Asn1Point) -> Result<DistributionPoint, String> {
    if point.distribution_point.is_none() && point.crl_issuer.is_none() {
        return Err("a distribution point with neither a name nor a cRLIssuer".into());
    }
    Ok(DistributionPoint {
        name: point
            .distribution_point
            .as_ref()
            .map(point_name)
            .transpose()?,
        reasons: point.reasons.map(der::flagset::FlagSet::bits),
        crl_issuer: point
            .crl_issuer
            .as_ref()
            .map(|names| {
                names
                    .iter()
                    .map(|name| GeneralName::from_asn1(name, false))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?,
    })
}

/// The issuing distribution point of an `issuingDistributionPoint` value.
pub(crate) fn scope(value: &[u8]) -> Result<Scope, String> {
    let point = IssuingDistributionPoint::from_der(value).map_err(|error| error.to_string())?;
    let kinds = [
        point.only_contains_user_certs,
        point.only_contains_ca_certs,
        point.only_contains_attribute_certs,
    ];
    if kinds.iter().filter(|kind| **kind).count() > 1 {
        // RFC 5280 §5.2.5: at most one of the three may be TRUE.
        return Err("more than one onlyContains… asserted".into());
    }
    Ok(Scope {
        name: point
            .distribution_point
            .as_ref()
            .map(point_name)
            .transpose()?,
        holds: if point.only_contains_user_certs {
            Holds::Users
        } else if point.only_contains_ca_certs {
            Holds::Cas
        } else if point.only_contains_attribute_certs {
            Holds::Attributes
        } else {
            Holds::All
        },
        reasons: point.only_some_reasons.map(der::flagset::FlagSet::bits),
        indirect: point.indirect_crl,
    })
}

/// The general names a distribution point name stands for, a relative name resolved
/// under `issuer`.
fn resolve(name: &PointName, issuer: Option<&Name>) -> Vec<GeneralName> {
    match name {
        PointName::Full(names) => names.clone(),
        PointName::Relative(rdn) => issuer
            .and_then(|issuer| issuer.with_relative(rdn))
            .map(GeneralName::Directory)
            .into_iter()
            .collect(),
    }
}

fn directory_names(names: &[GeneralName]) -> impl Iterator<Item = &Name> {
    names.iter().filter_map(|name| match name {
        GeneralName::Directory(name) => Some(name),
        _ => None,
    })
}

/// Whether a CRL issued by `crl_issuer` with `scope` may speak, through distribution
/// point `point`, for a certificate issued by `cert_issuer` (a CA's when `is_ca`): the
/// issuer and scope checks of RFC 5280 §6.3.3 (b). The reasons it covers are
/// [`reasons`]'s business.
pub(crate) fn covers(
    crl_issuer: &Name,
    scope: Option<&Scope>,
    point: &DistributionPoint,
    cert_issuer: &Name,
    is_ca: bool,
) -> bool {
    // (b)(1): the CRL's issuer.
    match &point.crl_issuer {
        Some(names) => {
            let listed = directory_names(names).any(|name| name == crl_issuer);
            if !listed || !scope.is_some_and(|scope| scope.indirect) {
                return false;
            }
        }
        None => {
            if crl_issuer != cert_issuer {
                return false;
            }
        }
    }
    let Some(scope) = scope else {
        return true;
    };
    // (b)(2): the issuing distribution point.
    match (scope.holds, is_ca) {
        (Holds::Attributes, _) | (Holds::Users, true) | (Holds::Cas, false) => return false,
        _ => {}
    }
    let Some(idp_name) = &scope.name else {
        return true;
    };
    let idp_names = resolve(idp_name, Some(crl_issuer));
    let point_names = match (&point.name, &point.crl_issuer) {
        (Some(name), crl_issuers) => {
            let base = crl_issuers
                .as_deref()
                .and_then(|names| directory_names(names).next())
                .unwrap_or(cert_issuer);
            resolve(name, Some(base))
        }
        (None, Some(crl_issuers)) => crl_issuers.clone(),
        (None, None) => Vec::new(),
    };
    idp_names.iter().any(|name| point_names.contains(name))
}

/// The reasons a CRL covers through a distribution point (§6.3.3 (d)).
pub(crate) fn reasons(scope: Option<&Scope>, point: &DistributionPoint) -> u16 {
    scope.and_then(|scope| scope.reasons).unwrap_or(ALL_REASONS)
        & point.reasons.unwrap_or(ALL_REASONS)
        & ALL_REASONS
}
