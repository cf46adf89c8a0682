#!/usr/bin/env python3
"""Independent X.509 path judge built on pyca/cryptography 48 (``cryptography.x509.verification``).

Usage::

    pyca_verify.py AT DIR [DIR...]

AT is a unix timestamp (integer seconds, UTC), the validation time. Each DIR holds
``root.pem`` (the trust anchor), ``ca.pem`` (the intermediate CA; further certificates in
that file are offered as extra untrusted intermediates) and ``leaf.pem`` (the end-entity
certificate). For each DIR, in order, exactly one line is printed on stdout:

    DIR<TAB>OK
    DIR<TAB>FAIL<TAB>reason            (reason on one line)

Exit status: 0 when every DIR was judged (whatever the verdicts); 2 on a usage error (bad
arguments, a DIR that is not a directory or lacks one of the three files), checked for all
DIRs before anything is printed. A PEM file that does not parse, or that does not hold
exactly one certificate (root.pem, leaf.pem) or at least one (ca.pem), is a FAIL verdict.
Warnings that pyca raises while judging a DIR (e.g. its CryptographyDeprecationWarning
for a serial number of 0) go to stderr as ``DIR<TAB>warning: message``; they do not change
the verdict.

Verification
------------
``PolicyBuilder().store(Store([root])).time(datetime.fromtimestamp(AT, timezone.utc))
.extension_policies(ca_policy=CA_POLICY, ee_policy=EE_POLICY).build_client_verifier()
.verify(leaf, [ca])``. A ``VerificationError`` (or any other exception from verify) is FAIL
with pyca's message.

The leaves judged are document-signing certificates (keyUsage digitalSignature +
nonRepudiation, EKU emailProtection, maybe no subjectAltName), not TLS certificates, so
pyca's Web PKI profile is adapted in exactly these places and nowhere else:

* The client verifier, not the server one: no server name is matched against the SAN.
* pyca 48 has no way to set the policy's EKU: a client verifier fixes it to clientAuth,
  which the default EE and CA policies then demand. Both policies' ExtendedKeyUsage entries
  are replaced by validators with the same shape as pyca's, for emailProtection instead:
  - EE (``ExtensionPolicy.webpki_defaults_ee()`` otherwise): EKU may be absent; if present
    it must be non-critical and list emailProtection (anyExtendedKeyUsage alone does not
    do, as in pyca's own EE rule).
  - CA (``ExtensionPolicy.webpki_defaults_ca()`` otherwise): EKU may be absent; if present
    it must be non-critical and list emailProtection or anyExtendedKeyUsage (EKU
    chaining, as pyca does for its own EKU).
* subjectAltName: pyca's EE default requires it; here it may be absent. When present the
  default rule is kept: critical if and only if the subject is empty.

Everything else is pyca's default Web PKI (CA/B Forum flavoured RFC 5280) checking.
Stricter than plain RFC 5280:

* Every certificate in the path, the root included (it is checked as the intermediate's
  issuer), must be X.509 v3, valid at AT (both bounds inclusive), have a non-empty issuer,
  signatureAlgorithm equal to tbsCertificate.signature, a serial of 1..21 content octets
  and not negative (a serial of 0 IS accepted, with only a deprecation warning on
  loading), and UTCTime for dates before 2050.
* Any critical extension pyca does not handle (all but AIA, AKI, SKI, keyUsage, SAN,
  basicConstraints, nameConstraints, EKU) is refused: e.g. a critical certificatePolicies,
  policyConstraints or inhibitAnyPolicy. Duplicate extensions are refused.
* CA certificates (intermediate and root): basicConstraints present, critical, cA TRUE,
  pathLenConstraint honoured; keyUsage present (any criticality) with keyCertSign (cRLSign
  is not required); AKI, SKI, AIA, EKU non-critical if present; AKI, if present, must carry
  keyIdentifier (AKI is not required on CAs); nameConstraints (criticality agnostic, which
  is laxer than 5280's MUST be critical) must not be empty.
* The leaf: authorityKeyIdentifier REQUIRED and non-critical; AIA non-critical; no
  nameConstraints extension; basicConstraints, if present, with cA FALSE; keyUsage, if
  present, without keyCertSign (digitalSignature / nonRepudiation are not required).
* Issuer keys (intermediate and root) only RSA >= 2048 bits or EC P-256/P-384/P-521;
  e.g. Ed25519 or brainpool issuers are refused. The leaf's own key is not checked.
* Signatures of the leaf and the intermediate only RSA PKCS#1 v1.5 SHA-256/384/512,
  RSA-PSS SHA-256/384/512 with matching MGF1 and salt = hash length, or ECDSA with
  SHA-256/384/512 (no SHA-1). The root's self-signature is not checked at all.
* At most 8 intermediates, self-issued ones counted too.

Laxer than, or different from, plain RFC 5280:

* No revocation (CRL, OCSP) and no certificate policy processing (no policy tree).
* Issuers are found by subject == issuer name, compared as encoded (no RFC 4518
  normalisation); AKI keyIdentifier is not matched against the issuer's SKI (a leaf whose
  AKI names another key verifies).
* Name constraints apply to subjectAltName entries only: DNS, IP and rfc822 names are
  checked. The subject DN is not: a leaf subject outside a directoryName constraint is
  accepted, and emailAddress or CN in the DN is never checked. A URI (or otherName,
  directoryName, ...) constraint meeting a SAN of the same type is refused ("unsupported
  name constraint"); a constraint of another type than the SAN is skipped. The trust
  anchor's own nameConstraints are applied too.
* A serial of 0, a CA without AKI or SKI, a leaf of any key type (e.g. Ed25519) and a leaf
  without keyUsage or EKU are accepted.
"""

from __future__ import annotations

import os
import sys
import warnings
from datetime import datetime, timezone

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
)

FILES = ("root.pem", "ca.pem", "leaf.pem")
USAGE = "usage: pyca_verify.py AT DIR [DIR...]  (AT: unix timestamp; DIR: root.pem ca.pem leaf.pem)"


def _ee_eku(_policy, _cert, eku: x509.ExtendedKeyUsage | None) -> None:
    if eku is not None and ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku:
        raise ValueError("leaf EKU lacks emailProtection")


def _ca_eku(_policy, _cert, eku: x509.ExtendedKeyUsage | None) -> None:
    if eku is not None and not (
        ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
        or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku
    ):
        raise ValueError("CA EKU has neither emailProtection nor anyExtendedKeyUsage")


def _ee_san(_policy, cert: x509.Certificate, san: x509.SubjectAlternativeName | None) -> None:
    if san is None:
        return
    critical = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    empty_subject = len(cert.subject) == 0
    if empty_subject and not critical:
        raise ValueError("EE subjectAltName MUST be critical when subject is empty")
    if not empty_subject and critical:
        raise ValueError("EE subjectAltName MUST NOT be critical when subject is nonempty")


CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _ca_eku
)
EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, _ee_eku)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, _ee_san)
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _load(path: str, exactly_one: bool) -> list[x509.Certificate]:
    name = os.path.basename(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        certs = x509.load_pem_x509_certificates(data)
    except Exception as e:  # noqa: BLE001 - any parse error is a verdict
        raise _Fail(f"cannot load {name}: {type(e).__name__}: {e}") from e
    if exactly_one and len(certs) != 1:
        raise _Fail(f"{name} holds {len(certs)} certificates, expected 1")
    return certs


class _Fail(Exception):
    pass


def judge(at: datetime, directory: str) -> str | None:
    """Return None when the path verifies, else the reason."""
    try:
        (root,) = _load(os.path.join(directory, "root.pem"), True)
        cas = _load(os.path.join(directory, "ca.pem"), False)
        (leaf,) = _load(os.path.join(directory, "leaf.pem"), True)
    except _Fail as e:
        return str(e)
    try:
        verifier = (
            PolicyBuilder()
            .store(Store([root]))
            .time(at)
            .extension_policies(ca_policy=CA_POLICY, ee_policy=EE_POLICY)
            .build_client_verifier()
        )
        verifier.verify(leaf, cas)
    except Exception as e:  # noqa: BLE001 - VerificationError, UnsupportedGeneralNameType, ...
        return f"{type(e).__name__}: {e}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        at = datetime.fromtimestamp(int(argv[1]), timezone.utc)
    except (ValueError, OverflowError, OSError):
        print(f"pyca_verify.py: AT must be a unix timestamp, got {argv[1]!r}", file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    dirs = argv[2:]
    for d in dirs:
        missing = [f for f in FILES if not os.path.isfile(os.path.join(d, f))]
        if missing:
            print(f"pyca_verify.py: {d}: missing {', '.join(missing)}\n{USAGE}", file=sys.stderr)
            return 2
    for d in dirs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reason = judge(at, d)
        for w in caught:
            print(f"{d}\twarning: {_one_line(str(w.message))}", file=sys.stderr)
        if reason is None:
            print(f"{d}\tOK", flush=True)
        else:
            print(f"{d}\tFAIL\t{_one_line(reason)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
