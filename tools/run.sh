#!/bin/bash
# `make run`: a network of three btnode processes on loopback, each with
# its own data directory (BUILD/run/nodeN) and its own swtpm; node 1
# publishes the welcome site (examples/site) and its gateway serves it on
# http://127.0.0.1:8080/.  FILE=path also publishes that file.  Ctrl-C
# stops every node cleanly.  BT_RUN_GATEWAY (127.0.0.1:8080) and
# BT_RUN_PORT (7101, the first node's port) move them elsewhere.
#   tools/run.sh BUILD_DIR
set -u
B=${1:-build}
BIN=$B/bin
RUN=$B/run
SITE=examples/site
GATEWAY=${BT_RUN_GATEWAY:-127.0.0.1:8080}
PORT=${BT_RUN_PORT:-7101}
COUNT=3

for p in btnode btapi-probe; do
	if [ ! -x "$BIN/$p" ]; then
		echo "run: $BIN/$p is missing; run make first" >&2
		exit 1
	fi
done
BT=
[ -x "$BIN/bt" ] && BT=$BIN/bt

pids=()
stopping=0
stop_all() {
	stopping=1
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	pids=()
}
trap 'echo; echo "run: stopping the nodes"; stop_all; echo "run: stopped"; exit 0' INT TERM
trap 'stop_all' EXIT

busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
if busy "$GATEWAY"; then
	echo "run: $GATEWAY is in use; stop what listens there or set" \
	    "BT_RUN_GATEWAY=127.0.0.1:PORT" >&2
	exit 1
fi

mkdir -p "$RUN"
for i in $(seq 1 $COUNT); do
	d=$(cd "$RUN" && pwd)/node$i
	mkdir -p "$d"
	chmod 700 "$d"
	{
		echo "# written by tools/run.sh"
		echo "[node]"
		echo "keystore = swtpm"
		echo "log_level = info"
		echo "[network]"
		echo "listen = 127.0.0.1:$((PORT + i - 1))"
		for j in $(seq 1 $((i - 1))); do
			echo "bootstrap = 127.0.0.1:$((PORT + j - 1))"
		done
		echo "[gateway]"
		if [ "$i" = 1 ]; then
			echo "listen = $GATEWAY"
			echo "static = /=/site"
		else
			echo "listen = off"
		fi
	} >"$d/btnode.conf"
	"$BIN/btnode" -f -d "$d" >"$d/btnode.log" 2>&1 &
	pids+=($!)
	t=0
	until "$BIN/btapi-probe" -s "$d/api/sock" status >/dev/null 2>&1; do
		if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null || [ $t -ge 300 ]; then
			echo "run: node $i did not start; its log:" >&2
			tail -20 "$d/btnode.log" >&2
			exit 1
		fi
		sleep 0.1
		t=$((t + 1))
	done
	echo "run: node $i up ($d)"
done

S1=$(cd "$RUN" && pwd)/node1/api/sock
for f in "$SITE"/*; do
	[ -f "$f" ] || continue
	"$BIN/btapi-probe" -s "$S1" put "$f" "/site/$(basename "$f")" ||
	    { echo "run: cannot publish $f" >&2; exit 1; }
done
if [ -n "${FILE:-}" ]; then
	"$BIN/btapi-probe" -s "$S1" put "$FILE" "/files/$(basename "$FILE")" ||
	    { echo "run: cannot publish $FILE" >&2; exit 1; }
fi
HOME1=$("$BIN/btapi-probe" -s "$S1" status | sed -n 's/^home //p')
S3=$(cd "$RUN" && pwd)/node3/api/sock
# node 3 fetches node 1's namespace from the network (the DHT holds its
# signed root and blocks as soon as node 1 has pushed them)
t=0
until "$BIN/btapi-probe" -s "$S3" get "$HOME1/site/index.html" >/dev/null 2>&1; do
	if [ $t -ge 50 ]; then
		echo "run: node 3 could not fetch node 1's site yet" >&2
		break
	fi
	sleep 0.2
	t=$((t + 1))
done

cat <<EOF

BlockTree is running: $COUNT nodes on 127.0.0.1:$PORT-$((PORT + COUNT - 1)).
Node 1's namespace is $HOME1
and its gateway serves the welcome site on http://$GATEWAY/

Try, in another terminal:
  curl http://$GATEWAY/
EOF
if [ -n "$BT" ]; then
	cat <<EOF
  export BT_SOCKET=$S1
  $BT status
  $BT peers
  $BT ls /site
  $BT put README.md /site/readme.md    (then open http://$GATEWAY/readme.md)
  BT_SOCKET=$S3 $BT cat $HOME1/site/index.html
EOF
else
	cat <<EOF
  $BIN/btapi-probe -s $S1 status
  $BIN/btapi-probe -s $S1 put README.md /site/readme.md
  $BIN/btapi-probe -s $S3 get $HOME1/site/index.html
EOF
fi
cat <<EOF
Logs: $RUN/node*/btnode.log.  Ctrl-C stops the nodes.

EOF

# run until Ctrl-C, or until a node ends by itself
while :; do
	wait -n "${pids[@]}"
	[ "$stopping" = 1 ] && break
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[$i]}" 2>/dev/null; then
			echo "run: node $((i + 1)) stopped; its log:" >&2
			tail -10 "$RUN/node$((i + 1))/btnode.log" >&2
			exit 1
		fi
	done
done
