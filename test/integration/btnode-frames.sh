#!/bin/bash
# Malformed API frames get an error reply (or, for a frame length beyond
# the limit, the connection is closed) and the node keeps serving.
#   test/integration/btnode-frames.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

node_conf a 0 file
node_start a
for _ in 1 2 3; do
	probe a garbage >/dev/null || fail "malformed frames"
done
printf 'still here\n' >"$T/f"
probe a put "$T/f" /x/f || fail "put after malformed frames"
[ "$(probe a get /x/f)" = "still here" ] || fail "get after malformed frames"
kill -0 "${NODE_PID[a]}" || fail "btnode died"
node_stop a || fail "exit code $?"
echo "btnode-frames: error replies, node kept running"
