//! Name constraints (RFC 5280 §4.2.1.10, processed as §6.1.3 (b)–(c) and §6.1.4 (g)
//! say): every CA of a path may limit the names of the certificates below it to
//! permitted subtrees and forbid excluded ones, for directory names (§7.1 comparison),
//! e-mail addresses, DNS names, URIs and IP addresses. Critical or not, they are applied.
//!
//! Permitted subtrees are kept per CA rather than intersected: a name must lie within one
//! of the subtrees of its form that each constraining CA permits, which is the
//! intersection RFC 5280 describes without computing it. A name of a form the verifier
//! cannot compare (otherName, x400Address, ediPartyName, registeredID) under a constraint
//! of that same form refuses the path: it cannot be shown to conform.

use x509_cert::ext::pkix::name::GeneralName as Asn1Name;

use crate::names::Name;

/// A name a certificate carries, or a constraint's base, in a form this verifier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GeneralName {
    /// `rfc822Name`, or an `emailAddress` of the subject.
    Rfc822(String),
    /// `dNSName`.
    Dns(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `iPAddress`: 4 or 16 octets in a name, twice that (address and mask) in a base.
    Ip(Vec<u8>),
    /// `directoryName`, or the subject.
    Directory(Name),
    /// Any other form, by its context tag; never compared.
    Other(u8),
}

impl GeneralName {
    /// The name's form, for grouping constraints.
    fn form(&self) -> u8 {
        match self {
            Self::Rfc822(_) => 1,
            Self::Dns(_) => 2,
            Self::Directory(_) => 4,
            Self::Uri(_) => 6,
            Self::Ip(_) => 7,
            Self::Other(tag) => *tag,
        }
    }

    /// The name as an auditor reads it.
    pub(crate) fn describe(&self, subject: &str) -> String {
        match self {
            Self::Rfc822(text) => format!("e-mail address {text}"),
            Self::Dns(text) => format!("DNS name {text}"),
            Self::Uri(text) => format!("URI {text}"),
            Self::Ip(octets) => format!("IP address {}", ip_text(octets)),
            Self::Directory(_) => format!("directory name \"{subject}\""),
            Self::Other(tag) => format!("a name of form [{tag}]"),
        }
    }

    /// Converts an ASN.1 general name; `Err` says why one cannot be used (a base or
    /// address of the wrong length).
    pub(crate) fn from_asn1(name: &Asn1Name, base: bool) -> Result<Self, String> {
        Ok(match name {
            Asn1Name::Rfc822Name(text) => Self::Rfc822(text.as_str().to_owned()),
            Asn1Name::DnsName(text) => Self::Dns(text.as_str().to_owned()),
            Asn1Name::UniformResourceIdentifier(text) => Self::Uri(text.as_str().to_owned()),
            Asn1Name::IpAddress(octets) => {
                let octets = octets.as_bytes().to_vec();
                let lengths: &[usize] = if base { &[8, 32] } else { &[4, 16] };
                if !lengths.contains(&octets.len()) {
                    return Err(format!(
                        "an iPAddress of {} octets (expected {} or {})",
                        octets.len(),
                        lengths[0],
                        lengths[1]
                    ));
                }
                Self::Ip(octets)
            }
            Asn1Name::DirectoryName(name) => {
                let der = der::Encode::to_der(name).map_err(|error| error.to_string())?;
                Self::Directory(
                    Name::from_der(&der).ok_or_else(|| "an unreadable directoryName".to_owned())?,
                )
            }
            Asn1Name::OtherName(_) => Self::Other(0),
            Asn1Name::EdiPartyName(_) => Self::Other(5),
            Asn1Name::RegisteredId(_) => Self::Other(8),
        })
    }
}

/// The name constraints one CA certificate imposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NameConstraints {
    pub(crate) permitted: Vec<GeneralName>,
    pub(crate) excluded: Vec<GeneralName>,
    /// The extension is there but cannot be read: no name can be shown to conform (an
    /// anchor's, which the profile does not judge, must not vanish for being unreadable).
    pub(crate) unreadable: bool,
}

/// A name that breaks a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The name, described.
    pub(crate) name: String,
    /// The CA whose constraint it breaks.
    pub(crate) ca: String,
    /// Whether it is in an excluded subtree (else outside every permitted one, or of a
    /// form that cannot be compared).
    pub(crate) excluded: bool,
}

/// The constraints accumulated down a path (RFC 5280 §6.1.2 (b)–(c)).
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Per constraining CA and form, the subtrees a name of that form must lie within.
    permitted: Vec<(String, u8, Vec<GeneralName>)>,
    /// A CA whose name constraints cannot be read.
    unreadable: Option<String>,
    /// Every excluded subtree, with the CA that excluded it.
    excluded: Vec<(String, GeneralName)>,
}

impl State {
    /// Adds the constraints of the CA named `ca`.
    pub(crate) fn add(&mut self, ca: &str, constraints: &NameConstraints) {
        if constraints.unreadable {
            self.unreadable.get_or_insert_with(|| ca.to_owned());
        }
        let mut forms: Vec<u8> = constraints
            .permitted
            .iter()
            .map(GeneralName::form)
            .collect();
        forms.sort_unstable();
        forms.dedup();
        for form in forms {
            let bases = constraints
                .permitted
                .iter()
                .filter(|base| base.form() == form)
                .cloned()
                .collect();
            self.permitted.push((ca.to_owned(), form, bases));
        }
        self.excluded.extend(
            constraints
                .excluded
                .iter()
                .map(|base| (ca.to_owned(), base.clone())),
        );
    }

    /// Whether nothing constrains names yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.permitted.is_empty() && self.excluded.is_empty() && self.unreadable.is_none()
    }

    /// Checks the names of a certificate (its subject as `subject`).
    pub(crate) fn check(&self, names: &[GeneralName], subject: &str) -> Result<(), Violation> {
        if let (Some(ca), Some(name)) = (&self.unreadable, names.first()) {
            return Err(Violation {
                name: name.describe(subject),
                ca: ca.clone(),
                excluded: false,
            });
        }
        for name in names {
            for (ca, base) in &self.excluded {
                if base.form() == name.form() && matches(name, base) != Match::No {
                    return Err(Violation {
                        name: name.describe(subject),
                        ca: ca.clone(),
                        excluded: true,
                    });
                }
            }
            for (ca, form, bases) in &self.permitted {
                if *form == name.form()
                    && !bases.iter().any(|base| matches(name, base) == Match::Yes)
                {
                    return Err(Violation {
                        name: name.describe(subject),
                        ca: ca.clone(),
                        excluded: false,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Whether a name lies within a base: `Unknown` when it cannot be told (the name or the
/// base cannot be compared), which counts as inside an excluded subtree and outside a
/// permitted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Yes,
    No,
    Unknown,
}

impl From<bool> for Match {
    fn from(yes: bool) -> Self {
        if yes { Self::Yes } else { Self::No }
    }
}

fn matches(name: &GeneralName, base: &GeneralName) -> Match {
    match (name, base) {
        (GeneralName::Directory(name), GeneralName::Directory(base)) => {
            name.within(base).map_or(Match::Unknown, Match::from)
        }
        (GeneralName::Dns(name), GeneralName::Dns(base)) => dns_within(name, base).into(),
        (GeneralName::Rfc822(name), GeneralName::Rfc822(base)) => mailbox_within(name, base),
        (GeneralName::Uri(name), GeneralName::Uri(base)) => match uri_host(name) {
            Some(host) => host_within(&host, base),
            None => Match::Unknown,
        },
        (GeneralName::Ip(name), GeneralName::Ip(base)) => ip_within(name, base).into(),
        _ => Match::Unknown,
    }
}

/// A DNS name lies within `base` when it is `base` with zero or more labels added on the
/// left; an empty base holds every name; a base with a leading period, only names below.
fn dns_within(name: &str, base: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    if base.is_empty() {
        return true;
    }
    if let Some(domain) = base.strip_prefix('.') {
        return name.ends_with(&format!(".{domain}"));
    }
    name == base || name.ends_with(&format!(".{base}"))
}

/// A host against a URI or e-mail base: a base with a leading period holds the hosts
/// below that domain; any other, that host exactly.
fn host_within(host: &str, base: &str) -> Match {
    // A host that is not plainly a DNS name (percent-encoded, or other characters) cannot
    // be compared.
    if !host
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b':'))
    {
        return Match::Unknown;
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let base = base.trim_end_matches('.').to_ascii_lowercase();
    match base.strip_prefix('.') {
        Some(_) => host.ends_with(&base),
        None => host == base,
    }
    .into()
}

/// A mailbox against an rfc822Name base: a whole mailbox (exact local part), a host, or a
/// domain with a leading period (RFC 5280 §4.2.1.10).
fn mailbox_within(name: &str, base: &str) -> Match {
    let Some((local, host)) = name.rsplit_once('@') else {
        return Match::Unknown;
    };
    match base.rsplit_once('@') {
        Some((base_local, base_host)) => {
            if local != base_local {
                return Match::No;
            }
            host_within(host, base_host)
        }
        None => host_within(host, base),
    }
}

/// The host of a URI with an authority (`scheme://[user@]host[:port]…`).
fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// An address within a base of address and mask of the same family.
fn ip_within(name: &[u8], base: &[u8]) -> bool {
    if base.len() != name.len() * 2 {
        return false;
    }
    let (address, mask) = base.split_at(name.len());
    name.iter()
        .zip(address)
        .zip(mask)
        .all(|((n, a), m)| n & m == a & m)
}

fn ip_text(octets: &[u8]) -> String {
    match octets.len() {
        4 => std::net::Ipv4Addr::from([octets[0], octets[1], octets[2], octets[3]]).to_string(),
        16 => {
            let mut array = [0u8; 16];
            array.copy_from_slice(octets);
            std::net::Ipv6Addr::from(array).to_string()
        }
        8 | 32 => {
            let (address, mask) = octets.split_at(octets.len() / 2);
            format!("{}/{}", ip_text(address), ip_text(mask))
        }
        _ => crate::cert::hex(octets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_add_labels_on_the_left() {
        assert!(dns_within("www.minsa.gob.pe", "minsa.gob.pe"));
        assert!(dns_within("MINSA.gob.pe", "minsa.gob.pe"));
        assert!(!dns_within("notminsa.gob.pe", "minsa.gob.pe"));
        assert!(!dns_within("minsa.gob.pe", ".minsa.gob.pe"));
        assert!(dns_within("a.minsa.gob.pe", ".minsa.gob.pe"));
        assert!(dns_within("anything.example", ""));
    }

    #[test]
    fn mailboxes_hosts_and_domains() {
        assert_eq!(
            mailbox_within("ana@minsa.gob.pe", "minsa.gob.pe"),
            Match::Yes
        );
        assert_eq!(
            mailbox_within("ana@x.minsa.gob.pe", "minsa.gob.pe"),
            Match::No
        );
        assert_eq!(
            mailbox_within("ana@x.minsa.gob.pe", ".minsa.gob.pe"),
            Match::Yes
        );
        assert_eq!(
            mailbox_within("ana@minsa.gob.pe", ".minsa.gob.pe"),
            Match::No
        );
        assert_eq!(
            mailbox_within("ana@MINSA.gob.pe", "ana@minsa.gob.pe"),
            Match::Yes
        );
        assert_eq!(
            mailbox_within("Ana@minsa.gob.pe", "ana@minsa.gob.pe"),
            Match::No
        );
        assert_eq!(mailbox_within("no-at-sign", "minsa.gob.pe"), Match::Unknown);
    }

    #[test]
    fn uris_by_their_host() {
        assert_eq!(
            uri_host("https://user@Host.pe:8443/x?y").as_deref(),
            Some("Host.pe")
        );
        assert_eq!(
            uri_host("http://[2001:db8::1]:80/").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(uri_host("urn:oid:1.2.3"), None);
        assert_eq!(host_within("host.pe", "HOST.pe"), Match::Yes);
        assert_eq!(host_within("a.host.pe", "host.pe"), Match::No);
        assert_eq!(host_within("a.host.pe", ".host.pe"), Match::Yes);
        // A trailing dot is the same host; percent-encoding cannot be compared.
        assert_eq!(host_within("secret.gob.pe.", "secret.gob.pe"), Match::Yes);
        assert_eq!(
            host_within("secr%65t.gob.pe", "secret.gob.pe"),
            Match::Unknown
        );
        assert_eq!(
            mailbox_within("a@secret.gob.pe.", "secret.gob.pe"),
            Match::Yes
        );
    }

    #[test]
    fn addresses_under_masks() {
        let base = [10, 1, 0, 0, 255, 255, 0, 0];
        assert!(ip_within(&[10, 1, 200, 3], &base));
        assert!(!ip_within(&[10, 2, 0, 1], &base));
        assert!(!ip_within(&[0; 16], &base));
        assert_eq!(ip_text(&base), "10.1.0.0/255.255.0.0");
    }

    #[test]
    fn each_ca_constrains_its_forms_and_exclusions_win() {
        let mut state = State::default();
        state.add(
            "CA 1",
            &NameConstraints {
                permitted: vec![GeneralName::Dns("gob.pe".into())],
                excluded: vec![GeneralName::Dns("secret.gob.pe".into())],
                unreadable: false,
            },
        );
        state.add(
            "CA 2",
            &NameConstraints {
                permitted: vec![GeneralName::Dns("minsa.gob.pe".into())],
                excluded: Vec::new(),
                unreadable: false,
            },
        );
        // Not constrained: another form.
        assert!(
            state
                .check(&[GeneralName::Rfc822("a@b.com".into())], "")
                .is_ok()
        );
        assert!(
            state
                .check(&[GeneralName::Dns("x.minsa.gob.pe".into())], "")
                .is_ok()
        );
        let outside = state
            .check(&[GeneralName::Dns("essalud.gob.pe".into())], "")
            .unwrap_err();
        assert_eq!((outside.ca.as_str(), outside.excluded), ("CA 2", false));
        let excluded = state
            .check(&[GeneralName::Dns("secret.gob.pe".into())], "")
            .unwrap_err();
        assert_eq!((excluded.ca.as_str(), excluded.excluded), ("CA 1", true));
        let mut other = State::default();
        other.add(
            "CA",
            &NameConstraints {
                permitted: Vec::new(),
                excluded: vec![GeneralName::Other(0)],
                unreadable: false,
            },
        );
        assert!(other.check(&[GeneralName::Other(0)], "").is_err());
        assert!(other.check(&[GeneralName::Dns("a".into())], "").is_ok());
    }
}
