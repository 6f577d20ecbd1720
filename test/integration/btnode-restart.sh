#!/bin/bash
# kill -9 a node whose key is sealed by its swtpm, start it again on the
# same data directory: the same node id and home namespace, its files
# readable, and it answers on its API socket.
#   test/integration/btnode-restart.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

node_conf a 0 swtpm
node_start a
id1=$(id_of a)
home1=$(home_of a)
printf 'kept across a crash\n' >"$T/f"
probe a put "$T/f" /keep/f || fail "put"

node_stop a KILL
# the swtpm child ends with its parent
for _ in $(seq 1 50); do
	[ -z "$(swtpm_of a)" ] && break
	sleep 0.1
done
[ -z "$(swtpm_of a)" ] || fail "swtpm outlived its killed btnode"

node_start a
[ "$(id_of a)" = "$id1" ] || fail "node id changed: $id1 -> $(id_of a)"
[ "$(home_of a)" = "$home1" ] || fail "home namespace changed"
[ "$(probe a get /keep/f)" = "kept across a crash" ] ||
	fail "file lost across kill -9"
node_stop a || fail "exit code $? on SIGTERM"
echo "btnode-restart: same identity and data after kill -9"
