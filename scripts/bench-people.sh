#!/usr/bin/env bash
# Does a person's token (signed in through the web app's flow) cost more per request than
# a SIHCE's? Loads a registry with `renhice bench`, signs Dra. Quispe in at the test
# identity provider (tests/idp), mints a SIHCE clinician token for the same IPRESS and
# colegiatura, and runs `wrk` on `$record-locations` with each, alternating. Results go
# to docs/benchmarks.md ("People's tokens").
#
#   scripts/bench-people.sh [RENHICE_BIN] [DATABASE_URL]
#
# Needs: a release build (default target/release/renhice), node and the test provider's
# packages (npm ci --prefix tests/idp), wrk (Debian: apt-get install wrk), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/release/renhice}
work=$(mktemp -d "${TMPDIR:-/tmp}/renhice-bench-people.XXXXXX")
database=${2:-sqlite://$work/renhice.db?mode=rwc}
port=18080
base=http://127.0.0.1:$port
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-20}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

node tests/idp/idp.mjs --port 0 --any-loopback-redirect >"$work/idp.json" 2>"$work/idp.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/idp.json" ] && break; sleep 0.1; done
issuer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["issuer"])' "$work/idp.json")

cat >"$work/bench.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
rate_limit_per_second = 0
[database]
url = "$database"
[auth]
keys_dir = "$work/keys"
token_lifetime_secs = 3600
[[auth.identity_providers]]
name = "pruebas"
issuer = "$issuer"
client_id = "renhice"
client_secret = "renhice-dev-secret"
scopes = ["openid", "profile", "renhice"]
roles = ["patient", "clinician", "auditor", "admin"]
EOF
RENHICE_LOG_LEVEL=warn "$bin" serve --config "$work/bench.toml" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "$base/readyz" >/dev/null || { echo "the registry did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

# IPRESS 00010000 + n: 2,500 of them, so that 00012345 (Dra. Quispe's) is among them.
"$bin" bench --config "$work/bench.toml" --target "$base/fhir" --patients 10000 --ipress 2500 \
    --entries 100000 --measure-entries 1000 --queries 100 >"$work/load.txt"

user=$(node tests/idp/sign-in.mjs "$base" medica medica-clave 'openid fhirUser user/*.rs' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
sihce=$("$bin" token issue --config "$work/bench.toml" --role clinician --organization 00012345 \
    --practitioner '01|012345' --name 'Dra. Rosa Quispe Mamani' --lifetime 3600)
# One of the synthetic patients (DNI 10000000 + n).
patient=$(curl -fs -H "Authorization: Bearer $sihce" "$base/fhir/Patient?identifier=10002345&_count=1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["entry"][0]["resource"]["id"])')
url="$base/fhir/Patient/$patient/\$record-locations"
for token in "$user" "$sihce"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url")
    [ "$code" = 200 ] || { echo "the token is refused ($code)" >&2; exit 1; }
done

echo "| round | token | requests/s | p50 | p90 | p99 |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for round in $(seq "$rounds"); do
    for kind in person sihce; do
        token=$user
        [ "$kind" = sihce ] && token=$sihce
        wrk -t2 -c16 -d"${seconds}s" --latency -H "Authorization: Bearer $token" "$url" >"$work/wrk.txt"
        rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
        p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
        p90=$(awk '$1=="90%" {print $2}' "$work/wrk.txt")
        p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
        echo "| $round | $kind | $rps | $p50 | $p90 | $p99 |"
    done
done
