#!/usr/bin/env bash
# Two suites at once against one fakebbs server, each in its own namespace, driven with curl
# alone: seed through the admin API, fail a route, call the BBS, read the journal, reset.
# Run it as is (it starts `fakebbs serve` itself); FAKEBBS overrides the command.
set -euo pipefail

FAKEBBS=${FAKEBBS:-fakebbs}
out=$(mktemp)
$FAKEBBS serve --port 0 --manual-clock >"$out" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$out"' EXIT
until grep -q 'listening on' "$out"; do sleep 0.1; done
URL=$(sed -n 's/^fakebbs listening on //p' "$out")

suite() {
    local name=$1 guid=$2 theirs=$3
    local bbs=$URL/ns/$name admin=$URL/ns/$name/fakebbs/v1
    # Seed this namespace only: a domain, a cell, a desired LRP with two RUNNING instances.
    curl -sf -X POST "$admin/seed" -d "{
        \"domains\": [\"cf-apps\"],
        \"cells\": [{\"cell_id\": \"cell-1\"}],
        \"desired_lrps\": [{\"process_guid\": \"$guid\", \"instances\": 2, \"running\": 2}]
    }" >/dev/null
    # The next list of desired LRPs answers 503, in this namespace only.
    curl -sf -X POST "$admin/faults" \
        -d '{"route": "DesiredLRPs*", "fault": {"kind": "status", "code": 503}, "times": 1}' >/dev/null
    # What the code under test would do: call the BBS (an empty body lists everything).
    first=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$bbs/v1/desired_lrps/list.r3")
    second=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$bbs/v1/desired_lrps/list.r3")
    [ "$first $second" = "503 200" ] || { echo "$name: got $first $second" >&2; return 1; }
    # The journal shows both calls, in this namespace.
    calls=$(curl -sf -G "$admin/journal" --data-urlencode 'route=DesiredLRPs*')
    [ "$(grep -c '"namespace": "'"$name"'"' <<<"$calls")" = 2 ] || {
        echo "$name: journal $calls" >&2
        return 1
    }
    # The state holds this suite's LRP and not the other's.
    state=$(curl -sf "$admin/state")
    if ! grep -q "\"process_guid\": \"$guid\"" <<<"$state" ||
        grep -q "\"process_guid\": \"$theirs\"" <<<"$state"; then
        echo "$name: state $state" >&2
        return 1
    fi
    # Time moves only when told to (--manual-clock).
    curl -sf -X POST "$admin/clock/advance" -d '{"seconds": 31}' | grep -q '"frozen": true'
    curl -sf -X POST "$admin/reset" >/dev/null
    echo "$name: ok"
}

suite suite-a web api &
a=$!
suite suite-b api web &
b=$!
wait "$a"
wait "$b"
