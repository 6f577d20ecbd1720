#!/bin/bash
# Twelve btnet-node processes on loopback form a network: each listens
# on its own 127.0.0.x address, joins through the first, stores a value
# and fetches every other node's value through the DHT.  Every process
# must exit 0 within the deadline; all are killed on exit.
#   test/integration/net-multiprocess.sh BUILD_DIR
set -u
build=${1:?usage: net-multiprocess.sh BUILD_DIR}
prog=$build/bin/btnet-node
count=12
deadline=60
if [ ! -x "$prog" ]; then
	make --no-print-directory B="$build" "$prog" >/dev/null || exit 1
fi
logs=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$logs"
}
trap cleanup EXIT INT TERM

# a free port base, the same port on every address
port=$((20000 + RANDOM % 20000))
seed=127.0.1.1:$port
"$prog" --listen "$seed" --index 0 --count $count --timeout $deadline \
    --linger 8 >"$logs/0.out" 2>"$logs/0.err" &
pids+=($!)
sleep 0.3
for i in $(seq 1 $((count - 1))); do
	"$prog" --listen "127.0.1.$((i + 1)):$port" --bootstrap "$seed" \
	    --index "$i" --count $count --timeout $deadline --linger 8 \
	    >"$logs/$i.out" 2>"$logs/$i.err" &
	pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
	if ! wait "${pids[$i]}"; then
		echo "net-multiprocess: node $i failed:" >&2
		cat "$logs/$i.err" >&2
		failed=$((failed + 1))
	fi
done
pids=()
ok=$(cat "$logs"/*.out | grep -c 'fetched all')
echo "net-multiprocess: $ok of $count nodes fetched every value"
[ "$failed" -eq 0 ] && [ "$ok" -eq "$count" ]
