#!/bin/bash
# The bt client's data commands against real btnode processes: invite /
# accept between two nodes and both list each other as friends after a
# restart; feed create / append / cat / head; record set on A, get on B;
# program install / list / remove, a running program disconnected by the
# removal and refused afterwards; peers with addresses; --json output.
# The node's bookkeeping (friends, programs) never shows in a namespace.
#   test/integration/bt-data.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"
for p in bt http-echo-program; do
	if [ ! -x "$build/bin/$p" ]; then
		make --no-print-directory B="$build" "$build/bin/$p" >/dev/null ||
			exit 1
	fi
done
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

# ns_paths NODE DIR [DEPTH]: every path below DIR of NODE's namespaces,
# one a line (directories end in /)
ns_paths() {
	local n=$1 d=$2 depth=${3:-0} e
	[ "$depth" -lt 8 ] || return 0
	bt "$n" ls "$d" | while IFS= read -r e; do
		echo "${d%/}/$e"
		case $e in
		*/) ns_paths "$n" "${d%/}/${e%/}" $((depth + 1)) ;;
		esac
	done
}
# private NAME: neither node's home namespace says anything of friends
# or programs (nor has a /.node)
private() {
	local n
	for n in a b; do
		ns_paths "$n" / >"$T/paths.$n" || fail "$1: cannot list $n"
		check "$1: nothing private in $n's namespace" "" \
		    "$(grep -i -e '\.node' -e friend -e program -e removed \
		        -e '/app$' -e "$ida" -e "$idb" "$T/paths.$n")"
		bt "$n" ls /.node >/dev/null 2>&1
		check "$1: no /.node on $n" 3 $?
	done
}

node_conf a 0 file
node_conf b 1 file 0
node_start a
node_start b
ida=$(id_of a)
idb=$(id_of b)
keya=$(home_of a | tr -d /)	# the node key: its feed and record key

# ---- peers --------------------------------------------------------------
retry 20 sh -c "'$build/bin/bt' -S '$(sock b)' peers | grep -q '^$ida '" ||
	fail "b never listed a as a peer"
check "peers address" "127.0.0.1:$PORT" \
    "$(bt b peers | awk -v id="$ida" '$1 == id {print $2}')"
check "peers --json" "$ida" "$(bt b --json peers | python3 -c '
import json, sys
print(json.load(sys.stdin)["peers"][0]["node"])')"

# ---- friends ------------------------------------------------------------
bt a invite -o "$T/a.peer"; check "invite" 0 $?
bt b invite >"$T/b.peer"; check "invite to stdout" 0 $?
check "accept on b" "$ida" "$(bt b accept "$T/a.peer")"
check "accept on a" "$idb" "$(bt a accept - <"$T/b.peer")"
check "accept again" 0 "$(bt a accept "$T/b.peer" >/dev/null; echo $?)"
head -c 100 /dev/urandom >"$T/junk"
bt a accept "$T/junk" 2>/dev/null
check "accept junk" 1 $?
check "friends on a" "$idb" "$(bt a friends | awk '{print $1}')"
check "friends --json" "$ida" "$(bt b --json friends | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["node"])')"
node_stop a || fail "a: exit code $?"
node_stop b || fail "b: exit code $?"
node_start a
node_start b
check "friends of a after restart" "$idb" "$(bt a friends | awk '{print $1}')"
check "friends of b after restart" "$ida" "$(bt b friends | awk '{print $1}')"

# ---- feeds --------------------------------------------------------------
check "feed create" "$keya" "$(bt a feed create | awk '$1 == "feed" {print $2}')"
bt a feed create 2>/dev/null
check "feed create twice" 6 $?
check "feed append" 0 "$(bt a feed append one two)"
check "feed append stdin" 2 "$(printf 'three\nfour\n' | bt a feed append -)"
check "feed cat" "one two three four" "$(bt a feed cat | tr '\n' ' ' | sed 's/ $//')"
check "feed cat -n" "three four" "$(bt a feed cat -n 2 "$keya" | tr '\n' ' ' | sed 's/ $//')"
check "feed head" 4 "$(bt a --json feed head | python3 -c '
import json, sys
print(json.load(sys.stdin)["length"])')"
bt b feed append x 2>/dev/null
check "append without a feed" 3 $?
timeout 60 "$build/bin/bt" -S "$(sock a)" feed follow -n 3 \
    >"$T/follow.out" 2>&1 &
fpid=$!
retry 10 grep -q four "$T/follow.out" || fail "follow did not start"
bt a feed append five >/dev/null
retry 10 grep -q five "$T/follow.out" || fail "follow did not see five"
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
check "follow" "four five" "$(tr '\n' ' ' <"$T/follow.out" | sed 's/ $//')"

# ---- records ------------------------------------------------------------
bt a record set greeting "hello from a"; check "record set" 0 $?
check "record get local" "hello from a" "$(bt a record get greeting)"
bt a --json record set greeting "hello again" >"$T/seq.json"
check "record seq" 2 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seq"])' "$T/seq.json")"
check "record get on b" "hello again" "$(bt b record get -k "$keya" greeting)"
bt a record set addr x 2>/dev/null
check "reserved key" 5 $?
bt b record get -k "$keya" nothing-here 2>/dev/null
check "record missing" 3 $?

# ---- programs -----------------------------------------------------------
# sign a manifest with node a's key (its clear seed file) and another key
python3 - "$T/a/seed" "$T/prog.manifest" "$T/other.manifest" <<'PY' ||
import struct, sys, os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization as s

def el(t, k, v):
    return bytes([t]) + k.encode() + b"\0" + v
def string(v):
    v = v.encode() + b"\0"
    return struct.pack("<i", len(v)) + v
def binary(v):
    return struct.pack("<i", len(v)) + b"\0" + v
def doc(items):
    body = b"".join(items)
    return struct.pack("<i", len(body) + 5) + body + b"\0"
def manifest(seed, name):
    k = Ed25519PrivateKey.from_private_bytes(seed)
    pub = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    items = [el(2, "name", string(name)), el(2, "version", string("1")),
             el(5, "owner", binary(pub)), el(4, "scopes", doc([])),
             el(4, "routes", doc([el(3, "0", doc([
                 el(2, "host", string("127.0.0.1")),
                 el(2, "path", string("/app"))]))])),
             el(4, "grants", doc([]))]
    sig = k.sign(b"blocktree-manifest-v1\0" + doc(items))
    return doc(items + [el(5, "sig", binary(sig))])
raw = open(sys.argv[1], "rb").read()
assert raw[:6] == b"BTKS\x01\x00" and len(raw) == 38
open(sys.argv[2], "wb").write(manifest(raw[6:], "app"))
open(sys.argv[3], "wb").write(manifest(os.urandom(32), "app"))
PY
	fail "cannot make a manifest"
bt a program install "$T/other.manifest" 2>/dev/null
check "foreign manifest refused" 5 $?
bt a program install "$T/prog.manifest"; check "program install" 0 $?
check "program list" "app" "$(bt a program list | awk '{print $1}')"
check "program list --json" "1" "$(bt a --json program list | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["version"])')"
bt a mkdir /docs && bt a put - /docs/readme.txt <<<"a file of the node's own"
check "put a file" 0 $?
check "the file is listed" "/docs/readme.txt" "$(ns_paths a / | grep readme)"
private "friends and a program"
echo_prog() {
	"$build/bin/http-echo-program" -S "$(sock a)" -m "$T/prog.manifest" \
	    -H 127.0.0.1 -P /app -M echo >"$T/prog.out" 2>&1 &
	echo $! >"$T/prog.pid"
}
echo_prog
retry 10 grep -q ready "$T/prog.out" || fail "installed program not served"
bt a program remove app; check "program remove" 0 $?
wait_pid "$(cat "$T/prog.pid")" 10 || fail "removed program still connected"
check "program list empty" "" "$(bt a program list)"
echo_prog
wait_pid "$(cat "$T/prog.pid")" 10 || fail "removed program accepted"
check "removed program refused" 1 "$(grep -c "hello: .*manifest" "$T/prog.out")"
bt a program remove app 2>/dev/null
check "remove twice" 3 $?
private "a program removed"
# kept in the store's local area: friends and removal survive a restart
node_stop a || fail "a: exit code $?"
node_start a
check "friends of a after the last restart" "$idb" "$(bt a friends | awk '{print $1}')"
echo_prog
wait_pid "$(cat "$T/prog.pid")" 10 || fail "removed program accepted after restart"
private "after a restart"

node_stop a || fail "a: exit code $?"
node_stop b || fail "b: exit code $?"
echo "bt-data: $checks checks passed"
