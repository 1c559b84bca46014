#!/usr/bin/env bash
# Door Sync at fleet scale with real processes (docs/bench-fleet.md): a
# `dooros serve` (SQLite, embedded MQTT broker) and `doorlock fleet`, which
# creates N online doors through the API as a manager, provisions and
# connects N simulated locks in one process (each uploading its log after
# every bundle), then runs ROUNDS revocations through the HTTP API, timing
# each from the moment the revoke request is sent until every lock refuses
# the resident (revocation notice or bundle, whichever first) and until
# every lock holds the bundle, with the fan-out floor (one MQTT
# message to each lock's bundle topic, time until the last arrives) and
# the checked floor (the same with a revocation notice sealed for each
# lock, which the lock opens and whose signature it checks before it
# counts: what delivering and checking one notice per lock costs on this
# rig with no server work) measured in every round. The script adds the server's CPU and RSS per
# connected lock (/proc/PID), Door Sync's metrics and the load average.
#
#   scripts/bench-fleet.sh                      # SIZES=100 ROUNDS=20
#   SIZES="100 1000 3000 10000" scripts/bench-fleet.sh
#   DBS="sqlite postgres" scripts/bench-fleet.sh   # PostgreSQL: DOOROS_TEST_POSTGRES_URL, a fresh schema per run
#   DOOROS_REVOCATION_NOTICES=false scripts/bench-fleet.sh   # bundles alone (the server reads it)
#
# Environment: SIZES, ROUNDS (20), SETTLE (1s), QUIET (500ms: after the
# settle, each round waits until Door Sync's inbound counters held still
# this long — the grant's acks and logs recorded, seconds of the server's
# CPU at 10,000 locks — before its floor and revocation; 0: no wait, as
# before session 12), IDLE (30s: the fleet idles
# this long after every lock applied its first bundle, for the idle CPU
# figure: the server's acks settle, then 10 s are measured), PARALLEL (32),
# FLEET_GOGC (the fleet process's GOGC; default GOGC or 100: the simulated
# locks share one garbage collector, real locks do not),
# FLEET_HTTP_PORT (18810), FLEET_MQTT_PORT (18811), KEEP=1 keeps the logs,
# PPROF=DIR profiles the server (--pprof-addr on FLEET_PPROF_PORT, 18812):
# DIR/heap-DB-N.pprof (and .txt with MemStats, goroutine-DB-N.txt) with every
# lock connected and DIR/cpu-DB-N.pprof over
# the first PPROF_SECONDS (30) of the revocations, and the fleet's own CPU
# over the whole benchmark in DIR/fleet-cpu-DB-N.pprof (go tool pprof DIR/…).
# Output: one summary line per size, and $OUT (default
# /tmp/bench-fleet-results.txt) gets the JSON and metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-100}
ROUNDS=${ROUNDS:-20}
SETTLE=${SETTLE:-1s}
QUIET=${QUIET:-500ms}
IDLE=${IDLE:-30s}
PARALLEL=${PARALLEL:-32}
HTTP_PORT=${FLEET_HTTP_PORT:-18810}
MQTT_PORT=${FLEET_MQTT_PORT:-18811}
PPROF=${PPROF:-}
PPROF_PORT=${FLEET_PPROF_PORT:-18812}
PPROF_SECONDS=${PPROF_SECONDS:-30}
pprofflag=()
if [ -n "$PPROF" ]; then
	mkdir -p "$PPROF"
	pprofflag=(--pprof-addr "127.0.0.1:$PPROF_PORT")
fi
fleetprof() { [ -n "$PPROF" ] && echo "--cpuprofile=$PPROF/fleet-cpu-$1-$2.pprof" || true; }
OUT=${OUT:-/tmp/bench-fleet-results.txt}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-fleet.XXXXXX")
srv=""
schemas=()
DBS=${DBS:-sqlite}
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
	for sc in "${schemas[@]}"; do psql -q "$DOOROS_TEST_POSTGRES_URL" -c "DROP SCHEMA $sc CASCADE" >/dev/null 2>&1 || true; done
	[ -n "${KEEP:-}" ] && echo "logs kept in $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; KEEP=1; exit 1; }

# Each lock is a connection: a descriptor in the server and in the fleet.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go build -o "$tmp/" ./cmd/dooros ./cmd/doorlock
: >"$OUT"

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
load() { cut -d' ' -f1 /proc/loadavg; }
# The kernel's TCP counters (every connection is on loopback): a
# retransmission or a timeout there is a message held for at least the
# 200 ms retransmission timeout; zero-window adverts mean a reader fell behind.
tcp_counters() { nstat -az 2>/dev/null | awk '$1 ~ /^(TcpRetransSegs|TcpExtTCPTimeouts|TcpExtTCPToZeroWindowAdv|TcpExtTCPMemoryPressures|TcpExtPruneCalled|TcpExtTCPBacklogDrop|TcpExtTCPRcvQDrop)$/ {printf "%s=%s ", $1, $2}'; }
tcp_delta() { # tcp_delta "<before>" "<after>"
	python3 -c 'import sys; a=dict(x.split("=") for x in sys.argv[1].split()); b=dict(x.split("=") for x in sys.argv[2].split()); print(" ".join(f"{k} {int(b[k])-int(a.get(k,0))}" for k in b))' "$1" "$2" 2>/dev/null || true
}

for db in $DBS; do
for n in $SIZES; do
	data="$tmp/data-$db-$n"
	dbflag=()
	if [ "$db" = postgres ]; then
		[ -n "${DOOROS_TEST_POSTGRES_URL:-}" ] || fail "DBS=postgres needs DOOROS_TEST_POSTGRES_URL"
		sc="fleet_$(date +%s)_$$_$n"
		psql -q "$DOOROS_TEST_POSTGRES_URL" -c "CREATE SCHEMA $sc" >/dev/null
		schemas+=("$sc")
		sep='?'; case "$DOOROS_TEST_POSTGRES_URL" in *\?*) sep='&';; esac
		dbflag=(--db "${DOOROS_TEST_POSTGRES_URL}${sep}search_path=$sc")
		# With --db every server shares one master key (dooros init/serve).
		DOOROS_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
		export DOOROS_MASTER_KEY
	fi
	api="http://127.0.0.1:$HTTP_PORT"
	"$tmp/dooros" init --data "$data" "${dbflag[@]}" --org "Fleet $n" --email pm@example.com --password "fleet bench password" >/dev/null 2>&1
	DOOROS_MQTT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
	export DOOROS_MQTT_PASSWORD
	"$tmp/dooros" serve --data "$data" "${dbflag[@]}" --addr "127.0.0.1:$HTTP_PORT" --mqtt-addr "127.0.0.1:$MQTT_PORT" "${pprofflag[@]}" >"$tmp/server-$db-$n.log" 2>&1 &
	srv=$!
	for _ in $(seq 200); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done
	curl -fs "$api/healthz" >/dev/null || fail "server did not start (see $tmp/server-$db-$n.log)"
	DOORLOCK_API_TOKEN=$(curl -fsS "$api/api/v1/auth/login" -d '{"email":"pm@example.com","password":"fleet bench password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	export DOORLOCK_API_TOKEN
	load0=$(load)
	ready="$tmp/ready-$db-$n" provisioned="$tmp/provisioned-$db-$n"
	DOORLOCK_FLOOR_PASSWORD=$DOOROS_MQTT_PASSWORD GOGC=${FLEET_GOGC:-${GOGC:-100}} "$tmp/doorlock" fleet --server "$api" --locks "$n" --revocations "$ROUNDS" \
		--settle "$SETTLE" --quiet "$QUIET" --idle "$IDLE" --parallel "$PARALLEL" --ready "$ready" --provisioned "$provisioned" --timeout 10m --server-pid "$srv" $(fleetprof "$db" "$n") >"$tmp/fleet-$db-$n.json" 2>"$tmp/fleet-$db-$n.log" &
	fleet=$!
	# The fleet waits IDLE between provisioning and connecting: the server's
	# memory with every door provisioned and no lock connected.
	while [ ! -e "$provisioned" ]; do
		kill -0 "$fleet" 2>/dev/null || { cat "$tmp/fleet-$db-$n.log" >&2; fail "fleet of $n stopped while provisioning"; }
		sleep 0.2
	done
	sleep 5
	rss0=$(rss_kb "$srv")
	while [ ! -e "$ready" ]; do
		kill -0 "$fleet" 2>/dev/null || { cat "$tmp/fleet-$db-$n.log" >&2; fail "fleet of $n stopped before connecting"; }
		sleep 0.2
	done
	# The fleet idles for IDLE: the server's CPU over 10 s of it, and its
	# memory with every lock connected. The fleet says it is ready once
	# every lock applied its first bundle (a newly provisioned lock gets one
	# when it reports online); the server may still be recording their
	# acks, so the idle window starts when Door Sync's inbound counters
	# (messages received, messages recorded) held still for 2 s.
	quiet=0 prev="" waited=0
	for _ in $(seq 120); do
		cur=$(curl -fsS "$api/metrics" | awk '/^dooros_doorsync_inbound_messages_total|^dooros_doorsync_inbound_group_size_sum/ {s += $2} END {printf "%d", s}')
		if [ "$cur" = "$prev" ]; then quiet=$((quiet + 1)); else quiet=0; fi
		[ "$quiet" -ge 2 ] && break
		prev=$cur
		sleep 1
		waited=$((waited + 1))
	done
	[ "$quiet" -ge 2 ] || echo "warning: Door Sync's inbound counters still moving 2 min after the locks connected; idle CPU includes them" >&2
	# The 10 s below must end before the fleet's IDLE does.
	idle_s=$(awk -v d="$IDLE" 'BEGIN {v = d + 0; if (d ~ /ms$/) v /= 1000; else if (d ~ /m$/) v *= 60; print int(v)}')
	[ $((waited + 11)) -le "$idle_s" ] || echo "warning: the acks took ${waited} s to settle: the idle window overlaps the benchmark (raise IDLE above ${IDLE})" >&2
	c0=$(cpu_ticks "$srv")
	sleep 10
	c1=$(cpu_ticks "$srv")
	rss1=$(rss_kb "$srv")
	fleet_rss=$(rss_kb "$fleet")
	cpuprof=""
	if [ -n "$PPROF" ]; then
		curl -fsS "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap" -o "$PPROF/heap-$db-$n.pprof" || true
		# The same as text, ending with the runtime's MemStats (heap, stacks,
		# GC target), and the goroutines by stack, for the per-lock account.
		curl -fsS "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap?debug=1" -o "$PPROF/heap-$db-$n.txt" || true
		curl -fsS "http://127.0.0.1:$PPROF_PORT/debug/pprof/goroutine?debug=1" -o "$PPROF/goroutine-$db-$n.txt" || true
		curl -fsS "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$PPROF_SECONDS" -o "$PPROF/cpu-$db-$n.pprof" &
		cpuprof=$!
	fi
	idle_cpu=$(awk -v d=$((c1 - c0)) -v hz="$hz" 'BEGIN {printf "%.1f", 100 * d / hz / 10}')
	b0=$(cpu_ticks "$srv")
	tcp0=$(tcp_counters)
	wait "$fleet" || { cat "$tmp/fleet-$db-$n.log" >&2; fail "fleet of $n failed"; }
	b1=$(cpu_ticks "$srv")
	tcp1=$(tcp_counters)
	[ -n "$cpuprof" ] && { wait "$cpuprof" || true; }
	rss2=$(rss_kb "$srv")
	load1=$(load)
	# The revoke request as the server timed it (handler only), beside the
	# fleet's figure from the moment the request was sent.
	metrics=$(curl -fsS "$api/metrics" | grep -E '^dooros_doorsync_(inbound_messages_total|inbound_waits|pushes_held|pushes_ahead|republishes|ack_round_trip|mqtt_publish_failures|bundle_failures|bundles_total|inbound_group_size_(sum|count)|revocation_notice)|^dooros_http_request_duration_seconds_(sum|count)\{route="POST /api/v1/properties/\{p\}/people/\{id\}/revoke"' || true)
	kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
	# Messages the embedded broker dropped (in-flight quota or outbound channel full).
	broker_drops=$(grep -c 'client store quota reached\|packet ids exhausted\|client write queue full' "$tmp/server-$db-$n.log" || true)
	{
		echo "== $db, $n locks, $ROUNDS revocations, load $load0 → $load1 ($(uptime))"
		cat "$tmp/fleet-$db-$n.json"
		grep '^fleet:' "$tmp/fleet-$db-$n.log"
		echo "server RSS: $n doors provisioned, no lock connected ${rss0} KB, $n locks connected ${rss1} KB, after the benchmark ${rss2} KB"
		echo "fleet RSS (the simulated locks' process), every lock connected: ${fleet_rss} KB"
		echo "server CPU: idle with $n locks ${idle_cpu}% of a core; benchmark $(awk -v d=$((b1 - b0)) -v hz="$hz" -v r="$ROUNDS" 'BEGIN {printf "%.2f s per round (invite + revoke)", d / hz / r}')"
		echo "$metrics"
		echo "broker drops (server log): $broker_drops"
		echo "kernel TCP during the benchmark: $(tcp_delta "$tcp0" "$tcp1")"
	} >>"$OUT"
	python3 - "$tmp/fleet-$db-$n.json" "$n" "$rss0" "$rss1" "$idle_cpu" "$load0" "$load1" "$b0" "$b1" "$hz" "$ROUNDS" "$db" "$broker_drops" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n, rss0, rss1, idle, l0, l1, b0, b1, hz, rounds = sys.argv[2:12]
n = int(n)
per_lock = (int(rss1) - int(rss0)) / n
print(f"{sys.argv[12]}, {n} locks: revoke → every lock refusing p50 {r['every_lock_p50_ms']:.0f} ms p99 {r['every_lock_p99_ms']:.0f} ms; "
      f"per lock p50 {r['refusal_p50_ms']:.0f} ms p99 {r['refusal_p99_ms']:.0f} ms max {r['refusal_max_ms']:.0f} ms; "
      f"every lock holding the bundle p50 {r['every_lock_bundle_p50_ms']:.0f} ms p99 {r['every_lock_bundle_p99_ms']:.0f} ms; "
      f"fan-out floor p50 {r['floor_p50_ms']:.1f} ms p99 {r['floor_p99_ms']:.1f} ms; "
      f"checked floor p50 {r['checked_floor_p50_ms']:.1f} ms p99 {r['checked_floor_p99_ms']:.1f} ms; revoke call p50 {r['revoke_call_p50_ms']:.0f} ms; "
      f"server RSS {int(rss1)/1024:.0f} MB ({per_lock:.1f} KB per connected lock); idle CPU {idle}% ; "
      f"benchmark CPU {(int(b1)-int(b0))/int(hz)/int(rounds):.2f} s/round; "
      f"cores used in the refusal windows: fleet {r['refusal_window_fleet_cores']:.2f}, server {r['refusal_window_server_cores']:.2f}; lock queue drops {r['lock_queue_drops']}; broker drops {sys.argv[13]}; load {l0} → {l1}")
EOF
	grep -E '^dooros_doorsync_(inbound_waits|mqtt_publish_failures)' <<<"$metrics" || true
	echo "kernel TCP during the benchmark: $(tcp_delta "$tcp0" "$tcp1"); fleet RSS $((fleet_rss / 1024)) MB"
done
done
echo "details in $OUT"
