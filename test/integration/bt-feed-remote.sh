#!/bin/bash
# Another node's feed through the bt client, between two real btnode
# processes: node A writes its feed; on node B, `bt feed head` and
# `bt feed cat` fetch it from A, and `bt feed follow` prints every entry
# in order, each once, including those A appends while it runs.
#   test/integration/bt-feed-remote.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"
if [ ! -x "$build/bin/bt" ]; then
	make --no-print-directory B="$build" "$build/bin/bt" >/dev/null ||
		exit 1
fi
bt() { local n=$1; shift; timeout 60 "$build/bin/bt" -S "$(sock "$n")" "$@"; }
checks=0
check() {	# check NAME EXPECTED ACTUAL
	checks=$((checks + 1))
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}
# retry SECONDS CMD...: until CMD succeeds
retry() {
	local t=$1 i
	shift
	for i in $(seq $((t * 5))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
lines() { tr '\n' ' ' <"$1" | sed 's/ $//'; }

node_conf a 0 file
node_conf b 1 file 0
node_start a
node_start b
ida=$(id_of a)
keya=$(home_of a | tr -d /)	# the node key: its feed
retry 20 sh -c "'$build/bin/bt' -S '$(sock b)' peers | grep -q '^$ida '" ||
	fail "b never listed a as a peer"

# ---- before A has a feed -------------------------------------------------
bt b feed head "$keya" >/dev/null 2>&1
check "no feed on a yet" 3 $?

# ---- head and cat fetch from A -------------------------------------------
check "feed create" "$keya" "$(bt a feed create | awk '$1 == "feed" {print $2}')"
check "feed append" 0 "$(bt a feed append one two three)"
check "head on b" "3 false" "$(bt b --json feed head "$keya" | python3 -c '
import json, sys
h = json.load(sys.stdin)
print(h["length"], str(h["owned"]).lower())')"
check "cat on b" "one two three" "$(bt b feed cat "$keya" | tr '\n' ' ' | sed 's/ $//')"
check "cat -n on b" "three" "$(bt b feed cat -n 2 "$keya")"
check "held on b" 3 "$(bt b --json feed head "$keya" | python3 -c '
import json, sys
print(json.load(sys.stdin)["held"])')"

# ---- follow on B, while A appends ----------------------------------------
timeout 120 "$build/bin/bt" -S "$(sock b)" feed follow "$keya" \
    >"$T/follow.out" 2>"$T/follow.err" &
fpid=$!
retry 15 grep -q three "$T/follow.out" || fail "follow on b did not start: $(cat "$T/follow.err")"
check "follow had the first" "one two three" "$(lines "$T/follow.out")"
bt a feed append four >/dev/null || fail "append four"
retry 30 grep -q four "$T/follow.out" || fail "follow on b did not see four"
printf 'five\nsix\nseven\n' | bt a feed append - >/dev/null || fail "append stdin"
retry 30 grep -q seven "$T/follow.out" || fail "follow on b did not see seven"
sleep 1
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
check "follow on b, in order, once" "one two three four five six seven" \
    "$(lines "$T/follow.out")"
check "follow from 5" "six seven" \
    "$(timeout 5 "$build/bin/bt" -S "$(sock b)" feed follow -n 5 "$keya" | tr '\n' ' ' | sed 's/ $//')"
check "b holds them all" "7 7 false" "$(bt b --json feed head "$keya" | python3 -c '
import json, sys
h = json.load(sys.stdin)
print(h["length"], h["held"], str(h["forked"]).lower())')"

# ---- A stops: B still reads what it holds --------------------------------
node_stop a || fail "a: exit code $?"
check "cat from b's store" "one two three four five six seven" \
    "$(bt b feed cat "$keya" | tr '\n' ' ' | sed 's/ $//')"
node_stop b || fail "b: exit code $?"
echo "$NAME: $checks checks passed"
