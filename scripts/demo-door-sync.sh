#!/usr/bin/env bash
# Door Sync, end to end, with real processes: a DOOR OS server (embedded
# MQTT broker), one online lock (MQTT) and one offline lock (BLE only), two
# residents using doorapp. The first resident is revoked: the online door
# refuses them within a second; the offline door keeps admitting them until
# the second resident's unlock relays the revocation.
#
#   scripts/demo-door-sync.sh            (needs go, curl, jq)
#
# Exits non-zero if any step does not behave as described.
set -euo pipefail

cd "$(dirname "$0")/.."
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dooros-demo.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf '\033[31mFAIL: %s\033[0m\n' "$*" >&2; echo "logs in $WORK (KEEP=1 keeps them)" >&2; KEEP=1; exit 1; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step "building dooros, doorlock, doorapp"
go build -o "$WORK/bin/" ./cmd/dooros ./cmd/doorlock ./cmd/doorapp
PATH="$WORK/bin:$PATH"
DATA="$WORK/data"
HTTP=$(freeport); MQTT=$(freeport)
API="http://127.0.0.1:$HTTP"

step "starting DOOR OS on $API (embedded MQTT broker on 127.0.0.1:$MQTT)"
dooros init --data "$DATA" --org "Demo Org" --email pm@example.com --password "correct horse battery" >/dev/null
dooros serve --data "$DATA" --addr "127.0.0.1:$HTTP" --mqtt-addr "127.0.0.1:$MQTT" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fs "$API/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$API/healthz" >/dev/null || fail "server did not start"

call() { # METHOD PATH [JSON] -> body; fails on HTTP errors
	local out
	out=$(curl -sS -X "$1" "$API$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"} -w '\n%{http_code}')
	local code=${out##*$'\n'}
	[[ $code == 2* ]] || fail "$1 $2 answered $code: ${out%$'\n'*}"
	printf '%s' "${out%$'\n'*}"
}
TOKEN=$(curl -fsS "$API/api/v1/auth/login" -d '{"email":"pm@example.com","password":"correct horse battery"}' | jq -r .token)
PROP=$(call POST /api/v1/properties '{"name":"Elm Court","time_zone":"America/New_York"}' | jq -r .id)
LOBBY=$(call POST "/api/v1/properties/$PROP/doors" '{"name":"Lobby","type":"entrance","connectivity":"online"}' | jq -r .id)
BIKE=$(call POST "/api/v1/properties/$PROP/doors" '{"name":"Bike Room","type":"communal","connectivity":"offline"}' | jq -r .id)
KEY=$(call POST "/api/v1/properties/$PROP/keys" "{\"name\":\"Residents\",\"doors\":[{\"door_id\":\"$LOBBY\",\"doorcodes\":true},{\"door_id\":\"$BIKE\",\"doorcodes\":true}]}" | jq -r .id)
echo "property $PROP: Lobby (online) $LOBBY, Bike Room (offline) $BIKE, key Residents $KEY"

step "provisioning both locks and starting them (doorlock run)"
start_lock() { # NAME DOOR [mqtt]
	local name=$1 door=$2 prov ble ctl
	prov=$(call POST "/api/v1/properties/$PROP/doors/$door/lock")
	jq .provisioning <<<"$prov" >"$WORK/$name.json"
	doorlock provision --state "$WORK/$name" "$WORK/$name.json"
	ble=$(freeport); ctl=$(freeport)
	local args=(run --state "$WORK/$name" --ble "127.0.0.1:$ble" --control "127.0.0.1:$ctl" --rate 2048)
	if [ "$(jq -r .connectivity <<<"$prov")" = online ]; then
		args+=(--mqtt-url "$(jq -r .mqtt_url <<<"$prov")")
		DOORLOCK_MQTT_PASSWORD=$(jq -r .mqtt_password <<<"$prov") doorlock "${args[@]}" >"$WORK/$name.log" 2>&1 &
	else
		doorlock "${args[@]}" >"$WORK/$name.log" 2>&1 &
	fi
	PIDS+=($!)
	eval "${name^^}_BLE=127.0.0.1:$ble; ${name^^}_CTL=127.0.0.1:$ctl"
	for _ in $(seq 50); do doorlock status --control "127.0.0.1:$ctl" >/dev/null 2>&1 && break; sleep 0.1; done
}
start_lock lobby "$LOBBY"
start_lock bike "$BIKE"
echo "lobby: BLE $LOBBY_BLE, keypad $LOBBY_CTL (MQTT); bike room: BLE $BIKE_BLE, keypad $BIKE_CTL (Bluetooth only)"

step "inviting two residents, Ana and Ben"
invite() {
	call POST "/api/v1/properties/$PROP/people" "{\"first_name\":\"$1\",\"last_name\":\"Resident\",\"email\":\"$2\",\"access\":\"app\",\"resident\":true,\"keys\":[{\"key_id\":\"$KEY\"}]}" | jq -r .id
}
ANA=$(invite Ana ana@example.com); BEN=$(invite Ben ben@example.com)
ANA_CODE=$(call GET "/api/v1/properties/$PROP/people/$ANA" | jq -r .doorcode)
echo "Ana $ANA (doorcode $ANA_CODE), Ben $BEN"

applogin() { # EMAIL STATEDIR
	curl -fsS "$API/api/v1/app/login/start" -d "{\"email\":\"$1\"}" >/dev/null
	local code=""
	for _ in $(seq 100); do
		# The newest login-code email to this address; the code stands alone
		# on an indented line of the text part (never in the subject).
		local f
		f=$(ls -t "$DATA"/mailbox/*.eml 2>/dev/null | xargs -r grep -l "^To: .*$1" 2>/dev/null | xargs -r grep -l '^X-Dooros-Kind: login-code\|^X-DoorOS-Kind: login-code' 2>/dev/null | head -1 || true)
		[ -n "$f" ] && code=$(grep -o '^ \{4\}[0-9]\{6\}' "$f" | tr -d ' ' | head -1 || true)
		[ -n "$code" ] && break; sleep 0.1
	done
	[ -n "$code" ] || fail "no login code email for $1"
	doorapp --server "$API" --state "$2" login --email "$1" --code "$code" >/dev/null
	doorapp --server "$API" --state "$2" credentials refresh
}
step "Ana and Ben log in to the DOOR App (codes from the local mailbox)"
applogin ana@example.com "$WORK/ana"
applogin ben@example.com "$WORK/ben"

step "waiting for the online lock to receive the invites over MQTT"
for _ in $(seq 100); do
	doorlock keypad --control "$LOBBY_CTL" "$ANA_CODE" >/dev/null 2>&1 && break; sleep 0.1
done
doorlock keypad --control "$LOBBY_CTL" "$ANA_CODE" || fail "Ana's doorcode does not open the online lobby"

step "Ana unlocks both doors with the app (the bike room syncs during her unlock)"
doorapp --server "$API" --state "$WORK/ana" unlock --door "$LOBBY" --ble "$LOBBY_BLE" --no-sync || fail "Ana refused at the lobby"
doorapp --server "$API" --state "$WORK/ana" unlock --door "$BIKE" --ble "$BIKE_BLE" || fail "Ana refused at the bike room"
doorlock keypad --control "$BIKE_CTL" "$ANA_CODE" || fail "Ana's doorcode does not open the synced bike room"

step "the manager revokes Ana (Revoke All Keys)"
call POST "/api/v1/properties/$PROP/people/$ANA/revoke" >/dev/null
T0=$(date +%s%N)
refused=""
for _ in $(seq 100); do
	if ! doorlock keypad --control "$LOBBY_CTL" "$ANA_CODE" >/dev/null 2>&1; then refused=1; break; fi
	sleep 0.02
done
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
[ -n "$refused" ] || fail "the online lobby still admits Ana 2 s after the revoke"
echo "online lobby refuses Ana's doorcode ${MS} ms after the revoke returned"
[ "$MS" -lt 1000 ] || fail "online refusal took ${MS} ms (over a second)"
doorapp --server "$API" --state "$WORK/ana" unlock --door "$LOBBY" --ble "$LOBBY_BLE" --no-sync && fail "Ana's phone still opens the lobby"

step "the offline bike room has not heard of it yet"
call GET "/api/v1/properties/$PROP/sync-tasks" | jq -c '.items[] | {door_name, pending_changes, includes_revocation, connection}'
call GET "/api/v1/properties/$PROP/exposure" | jq -c '.items[] | {person_name, door_name, until, ways: [.ways[].kind]}'
doorlock keypad --control "$BIKE_CTL" "$ANA_CODE" || fail "expected the unsynced bike room to still take Ana's code"
echo "(as the help article warns: until the door syncs, the old credentials still work there)"

step "Ben unlocks the bike room; his phone relays the revocation"
doorapp --server "$API" --state "$WORK/ben" unlock --door "$BIKE" --ble "$BIKE_BLE" || fail "Ben refused at the bike room"
doorlock keypad --control "$BIKE_CTL" "$ANA_CODE" && fail "the bike room still takes Ana's code after Ben's sync"
doorapp --server "$API" --state "$WORK/ana" unlock --door "$BIKE" --ble "$BIKE_BLE" && fail "Ana's phone still opens the bike room after Ben's sync"
[ "$(call GET "/api/v1/properties/$PROP/sync-tasks" | jq '.items | length')" = 0 ] || fail "Door Sync tasks remain"
[ "$(call GET "/api/v1/properties/$PROP/exposure" | jq '.items | length')" = 0 ] || fail "exposure remains"
echo "no Door Sync tasks and no exposure left"

step "Activity (latest lock events, with the lock's own times)"
call GET "/api/v1/properties/$PROP/activity?kind=door.&limit=12" | jq -r '.items[] | "\(.at)  \(.kind)  \(.person_name // "")  \(.detail)"'
printf '\n\033[32mDemo passed.\033[0m\n'
