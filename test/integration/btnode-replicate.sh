#!/bin/bash
# Three btnode processes on loopback (the first with its key sealed by
# its own swtpm): a file put on node A is read on node C, which fetches
# A's namespace from A itself; after A stops, node B still gets another
# of A's files from the replicas in the DHT.  SIGTERM exits 0 and leaves no swtpm.
#   test/integration/btnode-replicate.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

node_conf a 0 swtpm
node_conf b 1 file 0
node_conf c 2 file 0 1
node_start a
node_start b
node_start c
[ -n "$(swtpm_of a)" ] || fail "node a runs no swtpm"

head -c 600000 /dev/urandom >"$T/big"
echo "hello from node a" >"$T/small"
probe a put "$T/big" /files/big || fail "put big on a"
probe a put "$T/small" /files/docs/small || fail "put small on a"
home=$(home_of a)
[ -n "$home" ] || fail "no home namespace on a"

# the push to the DHT runs right after the change
ok=0
for _ in $(seq 1 50); do
	if probe c get "$home/files/big" >"$T/big.c" 2>"$T/get.err"; then
		ok=1
		break
	fi
	sleep 0.2
done
[ "$ok" = 1 ] || fail "get on c: $(cat "$T/get.err")"
cmp -s "$T/big" "$T/big.c" || fail "the file read on c differs"
# a answered: c took the blocks from the owner, over their session
grep -q "fetched $home at sequence .*from the network ([1-9][0-9]* from its owner)" \
    "$T/c.log" || fail "c did not fetch from the owner a"
[ "$(probe c get "$home/files/docs/small")" = "hello from node a" ] ||
	fail "small file on c"

# a's publishing of that sequence (its blocks into the DHT, then the root
# record) ends before a stops
seq=$(sed -n "s|.*fetched $home at sequence \([0-9]*\):.*|\1|p" "$T/c.log" |
    tail -1)
for _ in $(seq 1 150); do
	grep -q "published $home at sequence $seq " "$T/a.log" && break
	sleep 0.2
done
grep -q "published $home at sequence $seq " "$T/a.log" ||
	fail "a did not publish sequence $seq"
node_stop a || fail "btnode a exited $? on SIGTERM"
[ -z "$(swtpm_of a)" ] || fail "swtpm of a still runs after SIGTERM"
[ -e "$T/a/api/sock" ] && fail "a left its API socket behind"

[ "$(probe b get "$home/files/docs/small")" = "hello from node a" ] ||
	fail "b could not read a's file from the replicas with a gone"
grep -q "fetched $home at sequence .*(0 from its owner)" "$T/b.log" ||
	fail "b did not fetch from the DHT with a gone"
node_stop b || fail "btnode b exited $?"
node_stop c || fail "btnode c exited $?"
echo "btnode-replicate: put on a, read on c and (a stopped) on b"
