#!/bin/bash
# Benchmark of a file moved between two real btnode processes on
# loopback (file keystores): `bt put` of a BENCH_TRANSFER_MIB file
# (default 1024) on node A, then at once `bt get` of it on node B, which
# asks A (the namespace's owner) for its root record and its blocks over
# their session, and reads the file out.  The figure is the file's size
# over the time from the start of the put to the end of the get (MB/s),
# divided by libbtnet's encrypted stream between two processes
# (build/bench/btnet-stream stream-enc) measured in this run.  A second
# figure is A's publishing of the file: its blocks pushed into the DHT
# (to B, its nearest node) under the DHT's per-source request limit, and
# the new root record; from the end of the put to the end of that round.
# Each step is bounded (BENCH_TRANSFER_TIMEOUT seconds, default 300);
# the nodes and the scratch directory go away on any exit.
#   bench/transfer.sh BUILD_DIR
set -u
build=${1:-build}
mib=${BENCH_TRANSFER_MIB:-1024}
limit=${BENCH_TRANSFER_TIMEOUT:-300}
BT=$build/bin/bt
STREAM=$build/bench/btnet-stream
for p in "$BT" "$STREAM"; do
	if [ ! -x "$p" ]; then
		make --no-print-directory B="$build" "$p" >/dev/null || exit 1
	fi
done
set -- "$build"
. "$(dirname "$0")/../test/integration/lib-btnode.bash"

now() { date +%s.%N; }
bt_on() {	# bt_on NODE ARGS...: bt on NODE's socket, bounded
	local n=$1
	shift
	timeout "$limit" "$BT" -q -S "$(sock "$n")" "$@"
}

# the baseline: libbtnet's encrypted stream between two processes
base=$(timeout 120 "$STREAM" stream-enc | awk '/^encrypted/ {print $2}')
[ -n "$base" ] || fail "btnet-stream stream-enc printed no figure"

node_conf a 0 file
node_conf b 1 file 0
# room in the DHT stores for the pushed file (the default, 256 MiB, holds
# less than a 1 GiB file: the rest would be fetched block by block, each
# a DHT lookup under the holder's per-source rate limit)
for n in a b; do
	printf '[replication]\ndht_max_bytes = %dM\n' $((mib * 2 + 64)) \
	    >>"$T/$n/btnode.conf"
done
node_start a
node_start b
# wait until b knows a (its bootstrap peer)
for _ in $(seq 100); do
	"$BT" -S "$(sock b)" peers 2>/dev/null | grep -q . && break
	sleep 0.1
done
home=$(home_of a)	# "/<64 hex>"
[ -n "$home" ] || fail "no home namespace on a"

# A's publishing rounds of its home namespace (btnode logs each at debug
# level): started, and ended (published, or failed)
hex=${home#/}
rounds() {
	awk -v h="$hex" '
	    index($0, "publishing /" h " at sequence") && /: [0-9]+ new blocks/ { s++ }
	    index($0, "published /" h " at sequence") { e++ }
	    index($0, "publishing /" h " at sequence") && / failed: / { e++ }
	    END { printf "%d %d\n", s, e }' "$T/a.log"
}
# wait_rounds MIN_STARTED: until that many rounds started and all ended
wait_rounds() {
	local s e t=0
	while :; do
		read -r s e < <(rounds)
		[ "$s" -ge "$1" ] && [ "$e" -ge "$s" ] && return 0
		[ "$t" -ge $((limit * 20)) ] && return 1
		sleep 0.05
		t=$((t + 1))
	done
}
wait_rounds 1 || fail "a never published its namespace"
read -r n0 _ < <(rounds)

head -c $((mib * 1048576)) /dev/urandom >"$T/src" || fail "no room for the file"
t0=$(now)
bt_on a put "$T/src" /big || fail "put on a failed or timed out"
t1=$(now)
bt_on b get "$home/big" "$T/got" || fail "get on b failed or timed out"
t2=$(now)
cmp -s "$T/src" "$T/got" || fail "the file read on b differs"
rm -f "$T/src" "$T/got"
grep -q "fetched $home at sequence .*from the network ([1-9][0-9]* from its owner)" \
    "$T/b.log" || echo "  (b did not fetch from the owner: see its log)"
wait_rounds $((n0 + 1)) || fail "a did not publish the file in $limit s"
t3=$(now)
grep -q "published $home at sequence [0-9]* .*0 failed" "$T/a.log" ||
	echo "  (some blocks failed to push into the DHT)"

awk -v mib="$mib" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" \
    -v base="$base" 'BEGIN {
	bytes = mib * 1048576
	mb = bytes / 1e6 / (t2 - t0)
	pub = bytes / 1e6 / (t3 - t1)
	printf "  (%d MiB: put on a %.2f s (%.0f MB/s), get on b %.2f s (%.0f MB/s); a published it %.2f s after the put)\n",
	    mib, t1 - t0, bytes / 1e6 / (t1 - t0), t2 - t1,
	    bytes / 1e6 / (t2 - t1), t3 - t1
	sfx = mib == 1024 ? "1gib" : sprintf("%dmib", mib)
	printf "bench btapi.transfer_%s: %.1f MB/s | baseline %.0f MB/s | ratio %.3f | target -\n",
	    sfx, mb, base, (base > 0 ? mb / base : 0)
	printf "bench btapi.publish_%s: %.1f MB/s | baseline %.0f MB/s | ratio %.3f | target -\n",
	    sfx, pub, base, (base > 0 ? pub / base : 0) }'
