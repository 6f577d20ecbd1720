#!/bin/bash
# The bt client against a node's API socket (an API server on a fresh
# store, run by tools/gateway-test): put/get/cat/ls/mkdir/rm/mv round
# trips, --json output that parses, and the documented exit codes for a
# missing path (3), an unreachable node (4) and bad usage (2).
#   test/integration/bt-files.sh BUILD_DIR
set -u
build=${1:?usage: bt-files.sh BUILD_DIR}
bin=$build/bin
for p in gateway-test bt; do
	if [ ! -x "$bin/$p" ]; then
		make --no-print-directory B="$build" "$bin/$p" >/dev/null || exit 1
	fi
done
dir=$(mktemp -d)
chmod 700 "$dir"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fails=0
checks=0
check() {	# check NAME EXPECTED ACTUAL
	checks=$((checks + 1))
	if [ "$2" != "$3" ]; then
		echo "bt-files: $1: expected '$2', got '$3'"
		fails=$((fails + 1))
	fi
}
"$bin/gateway-test" -d "$dir" >"$dir/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "$dir/info" ] && break; sleep 0.1; done
[ -e "$dir/info" ] || { echo "bt-files: no node"; cat "$dir/gw.log"; exit 1; }
bt() { "$bin/bt" -S "$dir/api/sock" "$@"; }
home=$(awk '$1 == "home" {print $2}' "$dir/info")

head -c 3000000 /dev/urandom >"$dir/big"
printf 'hello\nworld\n' >"$dir/small"
bt mkdir -p /a/b/c; check "mkdir -p" 0 $?
bt mkdir /a 2>/dev/null; check "mkdir existing" 6 $?
bt put "$dir/big" /a/big.bin; check "put" 0 $?
bt put "$dir/small" /a/b/; check "put into dir" 0 $?
bt get /a/big.bin "$dir/big.out"; check "get" 0 $?
check "get round trip" ok "$(cmp -s "$dir/big" "$dir/big.out" && echo ok)"
check "get to stdout" ok "$(bt get /a/big.bin - | cmp -s - "$dir/big" && echo ok)"
check "cat" "$(cat "$dir/small")" "$(bt cat /a/b/small)"
check "cat full path" "$(cat "$dir/small")" "$(bt cat "/$home/a/b/small")"
check "ls" "b/ big.bin" "$(bt ls /a | tr '\n' ' ' | sed 's/ $//')"
check "ls -l size" "3000000" "$(bt ls -l /a | awk '/big.bin/ {print $2}')"
check "ls file" "small" "$(bt ls /a/b/small)"
check "ls --json parses" 0 "$(bt --json ls /a | python3 -m json.tool >/dev/null; echo $?)"
check "ls --json size" 3000000 "$(bt --json ls /a | python3 -c 'import json,sys; print([e["size"] for e in json.load(sys.stdin) if e["name"] == "big.bin"][0])')"
check "status --json" "$home" "$(bt --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["home"].lstrip("/"))')"
check "put --json" 3000000 "$(bt --json put "$dir/big" /a/big2.bin | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')"
check "peers --json" 0 "$(bt --json peers | python3 -m json.tool >/dev/null; echo $?)"
bt mv /a/big2.bin /a/b/moved.bin; check "mv" 0 $?
check "mv result" "c/ moved.bin small" "$(bt ls /a/b | tr '\n' ' ' | sed 's/ $//')"
bt mv /a/b/small /a/b/moved.bin 2>/dev/null; check "mv onto existing" 6 $?
printf 'from stdin' | bt put - /a/stdin.txt; check "put stdin" 0 $?
check "stdin content" "from stdin" "$(bt cat /a/stdin.txt)"
bt rm /a/b 2>/dev/null; check "rm non-empty" 1 $?
bt rm -r /a/b; check "rm -r" 0 $?
bt rm /a/stdin.txt; check "rm file" 0 $?
bt cat /a/stdin.txt 2>/dev/null; check "not found exit" 3 $?
bt get /nothing/here "$dir/x" 2>/dev/null; check "get not found" 3 $?
check "no partial file" "" "$(ls "$dir" | grep -e '^x' -e bt-part)"
bt ls /nothing 2>/dev/null; check "ls not found" 3 $?
bt put "$dir/missing" /a/m 2>/dev/null; check "put missing local" 3 $?
bt frob 2>/dev/null; check "unknown command" 2 $?
bt put 2>/dev/null; check "put usage" 2 $?
"$bin/bt" -S "$dir/no/sock" status 2>"$dir/err"; check "unreachable" 4 $?
check "unreachable says what to do" 1 "$(grep -c 'is btnode running' "$dir/err")"
BT_SOCKET=$dir/api/sock "$bin/bt" status >/dev/null; check "BT_SOCKET" 0 $?
BT_HOME=$dir "$bin/bt" status >/dev/null; check "BT_HOME" 0 $?
BT_HOME=$dir/none "$bin/bt" --json ls / >/dev/null 2>&1; check "BT_HOME unreachable" 4 $?

echo "bt-files: $checks checks, $fails failed"
[ $fails -eq 0 ]
