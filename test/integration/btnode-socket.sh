#!/bin/bash
# The API socket is the owner's only: 0600 in a 0700 directory; a client
# running as another uid cannot connect, and even with the file modes
# opened up the node closes a connection from another uid unanswered.
#   test/integration/btnode-socket.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

node_conf a 0 file
node_start a
s=$(sock a)
[ "$(stat -c %a "$s")" = 600 ] || fail "socket mode $(stat -c %a "$s")"
[ "$(stat -c %a "$(dirname "$s")")" = 700 ] || fail "directory mode"
if [ "$(id -u)" != 0 ]; then
	echo "btnode-socket: modes checked; another uid needs root (skipped)"
	exit 0
fi
other() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
chmod 755 "$T" "$T/a"
cp "$PROBE" "$T/probe"
chmod 755 "$T/probe"
if other timeout 10 "$T/probe" -s "$s" status >/dev/null 2>&1; then
	fail "another uid got through a 0700 directory"
fi
# open the modes: the peer credential check must still refuse
chmod 755 "$(dirname "$s")"
chmod 666 "$s"
if other timeout 10 "$T/probe" -s "$s" status >"$T/other.out" 2>&1; then
	fail "another uid was served: $(cat "$T/other.out")"
fi
probe a status >/dev/null || fail "the owner is no longer served"
node_stop a || fail "exit code $?"
echo "btnode-socket: another uid refused (modes and peer credentials)"
