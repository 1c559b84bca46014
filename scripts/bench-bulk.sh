#!/usr/bin/env bash
# The bulk paths under load (docs/bench-bulk.md): invites per second on
# SQLite (serial, with the one-row write transaction floor and CPU per
# invite) and the 10,000-row CSV import against the raw insert, each run
# without and then with one CPU-bound process beside it (`yes`). PostgreSQL
# import rows run when DOOROS_TEST_POSTGRES_URL is set. Every benchmark
# prints its load average (load1); the script prints `uptime` beside each.
#   scripts/bench-bulk.sh                      # INVITES=3000 RUNS=1
#   BASE=<commit> scripts/bench-bulk.sh        # also the store/imports of <commit>, interleaved
#   INVITES=0 PAIRS=5 scripts/bench-bulk.sh    # imports only; PAIRS import/raw pairs per run (default 5)
# The import benchmark prints every pair (import, raw insert, their ratio
# by wall and CPU time, the load) and the median ratio with its spread.
# Nothing listens on a port. The hog is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
INVITES=${INVITES:-3000}
RUNS=${RUNS:-1}
export DOOROS_BENCH_PAIRS=${PAIRS:-5}
tmp=$(mktemp -d)
hog=""
wt=""
cleanup() {
	[ -n "$hog" ] && kill "$hog" 2>/dev/null || true
	[ -n "$wt" ] && git worktree remove --force "$wt" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

variants=(new)
go test -c -o "$tmp/store-new.test" ./store/
go test -c -o "$tmp/imports-new.test" ./imports/
if [ -n "${BASE:-}" ]; then
	# The code of BASE with this tree's benchmarks (so both print the same figures).
	wt="$tmp/base"
	git worktree add --detach "$wt" "$BASE" >/dev/null 2>&1
	cp store/bench_test.go "$wt/store/bench_test.go"
	cp imports/bench_test.go "$wt/imports/bench_test.go"
	# The raw insert uses the product's person ids; a base from before
	# time-ordered ids (domain.NewSeqID) gets its own random ones.
	if ! grep -q 'func NewSeqID' "$wt/domain/secret.go"; then
		sed -i 's/domain\.NewSeqID(/domain.NewID(/g' "$wt/imports/bench_test.go"
	fi
	(cd "$wt" && go test -c -o "$tmp/store-base.test" ./store/ && go test -c -o "$tmp/imports-base.test" ./imports/)
	variants=(base new)
fi

imports='Import10k/sqlite/with-key'
if [ -n "${DOOROS_TEST_POSTGRES_URL:-}" ]; then
	imports='Import10k/.*/with-key'
fi

run() { # run <label>
	for _ in $(seq 1 "$RUNS"); do
		for v in "${variants[@]}"; do
			echo "== $1 $v ($(nproc) cores, $(uptime | sed 's/.*load average/load average/'))"
			if [ "$INVITES" -gt 0 ]; then
				(cd "$tmp" && "$tmp/store-$v.test" -test.run '^$' -test.bench 'Invite/sqlite/serial' -test.benchtime "${INVITES}x" | grep '^Benchmark')
			fi
			(cd "$tmp" && "$tmp/imports-$v.test" -test.run '^$' -test.bench "$imports" -test.benchtime 1x -test.timeout 60m | grep -E '^Benchmark|^    pair')
		done
	done
}

run "quiet"
yes >/dev/null &
hog=$!
run "with 1 CPU hog"
kill "$hog"
hog=""
