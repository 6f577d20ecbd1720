#!/bin/bash
# btnode --check-config: the defaults with no file; errors name the file,
# line and key, and exit 2.
#   test/integration/btnode-config.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

out=$(BT_HOME=$T/d "$BTNODE" --check-config) || fail "defaults refused"
echo "$out" | grep -qx "datadir = $T/d" || fail "BT_HOME not the data dir"
echo "$out" | grep -qx "listen = 127.0.0.1:8080" || fail "gateway default"
echo "$out" | grep -qx "socket = $T/d/api/sock" || fail "socket default"

check_bad() { # expected-substring, then the file's lines
	local want=$1 rc
	shift
	printf '%s\n' "$@" >"$T/bad.conf"
	"$BTNODE" -c "$T/bad.conf" --check-config >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" = 2 ] || fail "exit $rc for: $*"
	grep -qF "$want" "$T/err" || fail "message '$(cat "$T/err")' lacks '$want'"
}
check_bad "bad.conf:3: [network] replication" "[network]" "" "replication = 21"
check_bad "bad.conf:2: [network] listen" "[network]" "listen = localhost:1"
check_bad "bad.conf:2: [node] log_level" "[node]" "log_level = loud"
check_bad "bad.conf:2: [node] colour: unknown key" "[node]" "colour = blue"
check_bad "bad.conf:2: [nope] x: unknown section" "[nope]" "x = 1"
check_bad "bad.conf:2: [gateway] static" "[gateway]" "static = nonsense"
check_bad "bad.conf:2: [node] keystore" "[node]" "keystore = tpm:"
"$BTNODE" -c "$T/missing.conf" --check-config 2>/dev/null
[ $? = 2 ] || fail "a missing -c file is not exit 2"
"$BTNODE" --bogus 2>/dev/null
[ $? = 2 ] || fail "a bad option is not exit 2"
echo "btnode-config: defaults and 9 errors checked"
