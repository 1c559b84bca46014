#!/usr/bin/env bash
# The core load run (docs/bench-core.md): 50 clients for 30 s against a real
# `dooros serve` process, on SQLite and, when DOOROS_TEST_POSTGRES_URL is
# set, on PostgreSQL (a fresh schema, dropped afterwards). Loopback only,
# bounded: each run stops after DURATION; the server is stopped at exit.
#   scripts/load-core.sh                 # CLIENTS=50 DURATION=30s
# Exits non-zero if any request failed.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-50}
DURATION=${DURATION:-30s}
tmp=$(mktemp -d)
pid=""
schema=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	[ -n "$schema" ] && psql -q "$DOOROS_TEST_POSTGRES_URL" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] && echo "logs kept in $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/dooros" ./cmd/dooros
go build -o "$tmp/loadcore" ./tools/loadcore
password='load test password'
export DOOROS_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

one() { # one <label> [--db URL]
	local label=$1; shift
	local data="$tmp/$label" port
	port=$(free_port)
	"$tmp/dooros" init --data "$data" "$@" --org "Load Co" --email pm@load.example.com --password "$password" >"$tmp/$label.init" 2>&1
	"$tmp/dooros" serve --data "$data" "$@" --addr "127.0.0.1:$port" --mqtt-addr 127.0.0.1:0 >"$tmp/$label.out" 2>"$tmp/$label.log" &
	pid=$!
	for _ in $(seq 1 200); do
		curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	echo "== $label ($(nproc) cores, $(uptime | sed 's/.*load average/load average/'))"
	local rc=0
	"$tmp/loadcore" -base "http://127.0.0.1:$port" -email pm@load.example.com -password "$password" \
		-clients "$CLIENTS" -duration "$DURATION" -label "$label" || rc=$?
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	return $rc
}

status=0
one sqlite || status=1
if [ -n "${DOOROS_TEST_POSTGRES_URL:-}" ]; then
	schema="load_$(date +%s)_$$"
	psql -q "$DOOROS_TEST_POSTGRES_URL" -c "CREATE SCHEMA $schema" >/dev/null
	sep='?'; case "$DOOROS_TEST_POSTGRES_URL" in *\?*) sep='&';; esac
	one postgres --db "${DOOROS_TEST_POSTGRES_URL}${sep}search_path=$schema" || status=1
else
	echo "== postgres skipped: set DOOROS_TEST_POSTGRES_URL"
fi
exit $status
