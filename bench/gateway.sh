#!/bin/bash
# Benchmark of btnode's HTTP gateway: requests/s for a 4 KiB static file
# stored in the blocktree, served by the gateway (tools/gateway-test: the
# gateway and an API server in one process, one event loop), divided by
# nginx serving the same file from disk with one worker, both measured
# with wrk in this run on this machine.  Needs wrk and nginx (Debian:
# wrk, nginx-light).
#   bench/gateway.sh BUILD_DIR
set -u
build=${1:-build}
bin=$build/bin
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-32}
for p in gateway-test bt; do
	if [ ! -x "$bin/$p" ]; then
		make --no-print-directory B="$build" "$bin/$p" >/dev/null || exit 1
	fi
done
for t in wrk nginx; do
	command -v $t >/dev/null || [ -x /usr/sbin/$t ] || {
		echo "bench btapi.gateway_static_4k: skipped ($t missing:" \
		    "apt-get install wrk nginx-light)"; exit 0; }
done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
dir=$(mktemp -d)
chmod 755 "$dir"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -e "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
mkdir -m 700 "$dir/node" && mkdir -m 755 "$dir/www"
head -c 4096 /dev/urandom >"$dir/www/f4k.bin"
"$bin/gateway-test" -d "$dir/node" -s "/=/site" >"$dir/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "$dir/node/info" ] && break; sleep 0.1; done
gport=$(awk '$1 == "port" {print $2}' "$dir/node/info")
"$bin/bt" -q -S "$dir/node/api/sock" mkdir -p /site &&
    "$bin/bt" -q -S "$dir/node/api/sock" put "$dir/www/f4k.bin" /site/f4k.bin ||
    exit 1
nport=$((20000 + RANDOM % 20000))
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/nginx.err;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	types { application/octet-stream bin; }
	server {
		listen 127.0.0.1:$nport;
		root $dir/www;
		etag on;
	}
}
CONF
"$nginx" -c "$dir/nginx.conf" -p "$dir" 2>"$dir/nginx.start" ||
    { echo "bench: nginx failed:"; cat "$dir/nginx.start"; exit 1; }
sleep 0.3
rps() {
	wrk -t1 -c"$conns" -d"${secs}s" "$1" 2>/dev/null |
	    awk '/^Requests\/sec:/ {print $2}'
}
curl -sf -o /dev/null "http://127.0.0.1:$gport/f4k.bin" || { echo "bench: gateway not serving"; exit 1; }
curl -sf -o /dev/null "http://127.0.0.1:$nport/f4k.bin" || { echo "bench: nginx not serving"; exit 1; }
g=$(rps "http://127.0.0.1:$gport/f4k.bin")
n=$(rps "http://127.0.0.1:$nport/f4k.bin")
awk -v g="$g" -v n="$n" 'BEGIN {
	printf "bench btapi.gateway_static_4k: %.0f req/s | baseline %.0f req/s | ratio %.3f | target -\n", g, n, (n > 0 ? g / n : 0) }'
