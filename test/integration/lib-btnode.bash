# Shared by the btnode-*.sh integration tests (sourced, not run):
# configure, start and stop btnode processes in a scratch directory, and
# clean everything up on exit.
#   . lib-btnode.bash BUILD_DIR
build=${1:?usage: $0 BUILD_DIR}
BTNODE=$build/bin/btnode
PROBE=$build/bin/btapi-probe
if [ ! -x "$BTNODE" ] || [ ! -x "$PROBE" ]; then
	make --no-print-directory B="$build" "$BTNODE" "$PROBE" >/dev/null || exit 1
fi
T=$(mktemp -d /tmp/btnode-test.XXXXXX)
chmod 755 "$T"
declare -A NODE_PID=()
NAME=$(basename "$0" .sh)

cleanup() {
	local n
	for n in "${!NODE_PID[@]}"; do
		kill -TERM "${NODE_PID[$n]}" 2>/dev/null
	done
	for n in "${!NODE_PID[@]}"; do
		wait_pid "${NODE_PID[$n]}" 15 || kill -KILL "${NODE_PID[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "$NAME: $*" >&2
	local f
	for f in "$T"/*.log; do
		[ -e "$f" ] || continue
		echo "--- $f" >&2
		tail -20 "$f" >&2
	done
	exit 1
}

# A free-looking port base for this test run (each node uses base + i).
PORT=$((21000 + RANDOM % 10000))

# node_conf NAME INDEX KEYSTORE [BOOTSTRAP_INDEX...]
node_conf() {
	local name=$1 i=$2 ks=$3 b
	shift 3
	mkdir -p "$T/$name"
	{
		echo "[node]"
		[ "$ks" = swtpm ] || echo "keystore = file:$T/$name/seed"
		[ "$ks" = swtpm ] && echo "keystore = swtpm"
		echo "log_level = debug"
		echo "[network]"
		echo "listen = 127.0.0.1:$((PORT + i))"
		for b in "$@"; do echo "bootstrap = 127.0.0.1:$((PORT + b))"; done
		echo "[gateway]"
		echo "listen = off"
	} >"$T/$name/btnode.conf"
}

sock() { echo "$T/$1/api/sock"; }

# wait_pid PID SECONDS: 0 when it ended within the time (not reaped)
wait_pid() {
	local t=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$t" -ge $(($2 * 10)) ] && return 1
		sleep 0.1
		t=$((t + 1))
	done
	return 0
}

# node_start NAME [launcher...]: start and wait until its API answers
node_start() {
	local name=$1 t=0
	shift
	rm -f "$T/$name.pid" "$T/$name.rc"
	# a watcher records the exit code (and keeps the shell quiet about
	# a node killed on purpose)
	(
		"$@" "$BTNODE" -f -d "$T/$name" >>"$T/$name.log" 2>&1 &
		echo $! >"$T/$name.pid"
		wait $!
		echo $? >"$T/$name.rc"
	) 2>/dev/null &
	while [ ! -s "$T/$name.pid" ]; do sleep 0.02; done
	NODE_PID[$name]=$(cat "$T/$name.pid")
	while ! "$PROBE" -s "$(sock "$name")" status >/dev/null 2>&1; do
		kill -0 "${NODE_PID[$name]}" 2>/dev/null ||
			fail "btnode $name exited while starting"
		[ "$t" -ge 300 ] && fail "btnode $name did not answer in 30 s"
		sleep 0.1
		t=$((t + 1))
	done
}

# node_stop NAME [SIGNAL]: stop and return btnode's exit code
node_stop() {
	local name=$1 sig=${2:-TERM} pid=${NODE_PID[$1]} rc
	kill -"$sig" "$pid" 2>/dev/null
	wait_pid "$pid" 30 || { kill -KILL "$pid"; fail "btnode $name did not stop"; }
	while [ ! -s "$T/$name.rc" ]; do sleep 0.02; done
	rc=$(cat "$T/$name.rc")
	unset "NODE_PID[$name]"
	return $rc
}

# probe NAME ARGS...: btapi-probe on NAME's socket, bounded
probe() {
	local name=$1
	shift
	timeout 60 "$PROBE" -s "$(sock "$name")" "$@"
}

home_of() { probe "$1" status | sed -n 's/^home //p'; }
id_of() { probe "$1" status | sed -n 's/^node //p'; }

# swtpm processes whose state lies under $T/NAME
swtpm_of() { pgrep -f "swtpm socket.*dir=$T/$1/swtpm" || true; }
