#!/usr/bin/env bash
# renhice beside Helios FHIR Server (https://github.com/HeliosSoftware/hfs, its crates.io
# release) on the same machine and the same PostgreSQL, with the same driver (wrk) and the
# same resources: reads of a Patient by id, and ITI-67 `DocumentReference?patient=…&
# status=current`. Results go to docs/benchmarks.md ("renhice beside Helios").
#
#   scripts/compare-helios.sh [RENHICE_BIN] [HFS_BIN]
#
# The registry is loaded by `renhice bench` (patients, IPRESS, index entries pushed as
# ITI-65 transactions); the very resources it stored (the JSON of each current version)
# are then written to Helios with PUT, so both servers hold the same Patients and
# DocumentReferences under the same ids. Each measurement runs against one server at a
# time, alternating, ROUNDS times.
#
# Needs: a release build of renhice (default target/release/renhice); Helios's `hfs`
# (default /tmp/helios/bin/hfs, from `cargo install helios-hfs@0.2.7
# --no-default-features --features R4,postgres --root /tmp/helios`); wrk (Debian: apt-get install wrk); python3; psql; a PostgreSQL
# where this user may create databases (RENHICE_TEST_POSTGRES_URL's server, default
# postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

renhice=${1:-target/release/renhice}
hfs=${2:-/tmp/helios/bin/hfs}
server=${RENHICE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
server=${server%/*}
patients=${PATIENTS:-10000}
entries=${ENTRIES:-100000}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-15}
clients=${CLIENTS:-16}
work=$(mktemp -d "${TMPDIR:-/tmp}/renhice-compare.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
for tool in wrk psql python3 curl; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
[ -x "$renhice" ] || { echo "no renhice at $renhice (cargo build --release)" >&2; exit 1; }
[ -x "$hfs" ] || { echo "no hfs at $hfs (cargo install helios-hfs@0.2.7 --no-default-features --features R4,postgres --root /tmp/helios)" >&2; exit 1; }

for db in renhice_compare helios_compare; do
    psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done

cat >"$work/renhice.toml" <<TOML
[server]
listen = "127.0.0.1:18081"
rate_limit_per_second = 0
[database]
url = "$server/renhice_compare?sslmode=disable"
[auth]
keys_dir = "$work/keys"
token_lifetime_secs = 3600
TOML

wait_ready() { # URL NAME LOG
    for _ in $(seq 600); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "$2 did not start:" >&2; cat "$3" >&2; exit 1
}
start_renhice() {
    RENHICE_LOG_LEVEL=warn "$renhice" serve --config "$work/renhice.toml" >"$work/renhice.log" 2>&1 &
    pids+=($!); renhice_pid=$!
    wait_ready http://127.0.0.1:18081/readyz renhice "$work/renhice.log"
}
start_hfs() {
    HFS_STORAGE_BACKEND=postgres HFS_BASE_URL=http://127.0.0.1:18082 \
        "$hfs" --host 127.0.0.1 --port 18082 --log-level warn \
        --database-url "$server/helios_compare?sslmode=disable" >"$work/hfs.log" 2>&1 &
    pids+=($!); hfs_pid=$!
    wait_ready http://127.0.0.1:18082/metadata helios "$work/hfs.log"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "== loading renhice: $patients patients, $entries entries"
start_renhice
"$renhice" bench --config "$work/renhice.toml" --target http://127.0.0.1:18081/fhir \
    --patients "$patients" --ipress 100 --entries "$entries" --measure-entries 0 --queries 0 \
    | grep -E '^(fed|load)'
stop "$renhice_pid"

echo "== loading Helios with the resources renhice stored"
psql "$server/renhice_compare" -qAt -c "COPY (
    SELECT r.resource_type, r.id, v.body FROM resources r
    JOIN resource_versions v ON v.resource_pk = r.pk AND v.version_id = r.version_id
    WHERE r.resource_type IN ('Organization', 'Patient', 'DocumentReference') AND NOT r.deleted
    ORDER BY r.pk) TO STDOUT WITH (FORMAT csv)" >"$work/resources.csv"
start_hfs
python3 - "$work/resources.csv" http://127.0.0.1:18082 "$clients" <<'PY'
import csv, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
path, base, clients = sys.argv[1], sys.argv[2], int(sys.argv[3])
csv.field_size_limit(1 << 30)
rows = list(csv.reader(open(path)))
def put(row):
    kind, rid, body = row
    req = urllib.request.Request(f"{base}/{kind}/{rid}", data=body.encode(), method="PUT",
                                 headers={"Content-Type": "application/fhir+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status
started = time.time()
# Organizations and Patients first: the entries refer to them.
for phase in (("Organization", "Patient"), ("DocumentReference",)):
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(put, [r for r in rows if r[0] in phase]))
    bad = [s for s in statuses if s not in (200, 201)]
    if bad:
        sys.exit(f"Helios refused {len(bad)} PUTs")
print(f"loaded {len(rows)} resources into Helios in {time.time() - started:.1f} s")
PY
stop "$hfs_pid"
psql "$server/renhice_compare" -qc ANALYZE
psql "$server/helios_compare" -qc ANALYZE

psql "$server/renhice_compare" -qAt -c \
    "SELECT id FROM resources WHERE resource_type = 'Patient' ORDER BY pk" >"$work/patients.txt"
token=$("$renhice" token issue --config "$work/renhice.toml" --role system --organization 00010001)
cat >"$work/ids.lua" <<LUA
-- Each request a random patient of the list: a read by id, or ITI-67 for that patient.
local ids = {}
for line in io.lines("$work/patients.txt") do ids[#ids + 1] = line end
math.randomseed(42)
local kind = os.getenv("KIND")
local prefix = os.getenv("PREFIX")
request = function()
    local id = ids[math.random(#ids)]
    local path
    if kind == "read" then
        path = prefix .. "/Patient/" .. id
    else
        path = prefix .. "/DocumentReference?patient=Patient/" .. id .. "&status=current"
    end
    return wrk.format("GET", path)
end
done = function(summary, latency, requests)
    io.write(string.format("%.0f requests/s, p50 %.1f ms, p99 %.1f ms, errors %d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
        latency:percentile(99) / 1000,
        summary.errors.status + summary.errors.connect + summary.errors.read +
        summary.errors.write + summary.errors.timeout))
end
LUA
measure() { # NAME KIND URL PREFIX [HEADER]
    local out headers=(-H 'Accept: application/fhir+json')
    [ $# -ge 5 ] && headers+=(-H "$5")
    out=$(KIND=$2 PREFIX=$4 wrk -t2 -c"$clients" -d"${seconds}s" -s "$work/ids.lua" \
        "${headers[@]}" "$3" | tail -1)
    printf '%-8s %-6s %s\n' "$1" "$2" "$out"
}
for round in $(seq "$rounds"); do
    echo "== round $round"
    start_renhice
    for kind in read iti67; do
        measure renhice "$kind" http://127.0.0.1:18081 /fhir "Authorization: Bearer $token"
    done
    stop "$renhice_pid"
    start_hfs
    for kind in read iti67; do
        measure helios "$kind" http://127.0.0.1:18082 ""
    done
    stop "$hfs_pid"
done
for db in renhice_compare helios_compare; do
    psql "$server/postgres" -qAt -c "SELECT '$db', pg_size_pretty(pg_database_size('$db'))"
done
