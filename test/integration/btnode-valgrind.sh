#!/bin/bash
# One btnode under valgrind for a short scripted session (start, status,
# put, get, the "node" scope, malformed frames, SIGTERM): no memory
# errors and no definite leaks.  Skipped when valgrind is not installed.
#   test/integration/btnode-valgrind.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "btnode-valgrind: valgrind not installed (skipped)"
	exit 0
fi
node_conf a 0 file
node_start a timeout 300 valgrind --leak-check=full \
    --errors-for-leak-kinds=definite --error-exitcode=99 \
    --log-file="$T/valgrind.txt"
printf 'under valgrind\n' >"$T/f"
probe a put "$T/f" /v/f || fail "put"
[ "$(probe a get /v/f)" = "under valgrind" ] || fail "get"
probe a node-status >/dev/null || fail "node status"
probe a garbage >/dev/null || fail "malformed frames"
node_stop a
rc=$?
grep -q "ERROR SUMMARY: 0 errors" "$T/valgrind.txt" ||
	{ cat "$T/valgrind.txt" >&2; fail "valgrind found errors (exit $rc)"; }
grep -Eq "definitely lost: 0 bytes|no leaks are possible" "$T/valgrind.txt" ||
	{ cat "$T/valgrind.txt" >&2; fail "definite leaks"; }
[ "$rc" = 0 ] || fail "btnode exited $rc under valgrind"
echo "btnode-valgrind: no errors, no definite leaks"
