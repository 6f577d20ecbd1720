#!/bin/bash
# btnode's HTTP gateway, run in-process with an API server on a fresh
# store by tools/gateway-test: static files (ETag, Last-Modified, 304,
# Range 206 / 416, MIME types, index.html, listing only when allowed),
# limits and errors (404, 413 body, 431 header block over the limit up
# to evhttp's hard limit of 4 x the limit, 400 beyond it (evhttp's own
# answer in libevent 2.1), 431 too many headers, 400 garbage), and programs registering routes
# (tools/http-echo-program): streamed bodies both ways (the program has
# the first part of a body before the client sends the rest; a 64 MiB
# upload leaves the gateway's memory bounded), a manifest
# without the route refused, a silent program 504 within ~5 s, a program
# that goes away 502 — while other requests keep being served.
#   test/integration/gateway-http.sh BUILD_DIR
set -u
build=${1:?usage: gateway-http.sh BUILD_DIR}
bin=$build/bin
for p in gateway-test http-echo-program bt; do
	if [ ! -x "$bin/$p" ]; then
		make --no-print-directory B="$build" "$bin/$p" >/dev/null || exit 1
	fi
done
command -v curl >/dev/null || { echo "gateway-http: curl missing"; exit 1; }
command -v python3 >/dev/null || { echo "gateway-http: python3 missing"; exit 1; }
dir=$(mktemp -d)
chmod 700 "$dir"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fails=0
checks=0
check() {	# check NAME EXPECTED ACTUAL
	checks=$((checks + 1))
	if [ "$2" != "$3" ]; then
		echo "gateway-http: $1: expected '$2', got '$3'"
		fails=$((fails + 1))
	fi
}

"$bin/gateway-test" -d "$dir" -t 5000 -b 1048576 -H 8192 \
    -s "/=/site" -s "/pub=/site/pub listing" >"$dir/gw.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -e "$dir/info" ] && break; sleep 0.1; done
[ -e "$dir/info" ] || { echo "gateway-http: no gateway"; cat "$dir/gw.log"; exit 1; }
port=$(awk '$1 == "port" {print $2}' "$dir/info")
sock=$dir/api/sock
url=http://127.0.0.1:$port
export BT_SOCKET=$sock
code() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"; }

# ---- content ----
mkdir "$dir/src"
printf '<h1>welcome</h1>\n' >"$dir/src/index.html"
head -c 4096 /dev/urandom >"$dir/src/f4k.bin"
for e in css js json png svg wasm mp4 webm txt; do
	printf 'x' >"$dir/src/a.$e"
done
"$bin/bt" -q mkdir -p /site/pub/sub /site/empty || exit 1
for f in "$dir"/src/*; do "$bin/bt" -q put "$f" /site/ || exit 1; done
"$bin/bt" -q put "$dir/src/a.txt" /site/pub/b.txt || exit 1

# ---- static ----
check "index" "200" "$(code "$url/")"
check "index body" "<h1>welcome</h1>" "$(curl -s "$url/")"
h=$(curl -s -D - -o "$dir/out" "$url/f4k.bin" | tr -d '\r')
check "4k body" "ok" "$(cmp -s "$dir/out" "$dir/src/f4k.bin" && echo ok)"
etag=$(printf '%s\n' "$h" | awk -F': ' 'tolower($1) == "etag" {print $2}')
lm=$(printf '%s\n' "$h" | awk -F': ' 'tolower($1) == "last-modified" {print $2}')
check "etag form" "1" "$(printf '%s' "$etag" | grep -Ec '^"[0-9a-f]{64}"$')"
check "last-modified form" "1" "$(printf '%s' "$lm" | grep -Ec 'GMT$')"
check "304 if-none-match" "304" "$(code -H "If-None-Match: $etag" "$url/f4k.bin")"
check "200 other etag" "200" "$(code -H 'If-None-Match: "abc"' "$url/f4k.bin")"
check "304 if-modified-since" "304" "$(code -H "If-Modified-Since: $lm" "$url/f4k.bin")"
check "200 old if-modified-since" "200" \
    "$(code -H 'If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT' "$url/f4k.bin")"
check "206 range" "206 100" "$(curl -s -o "$dir/part" -w '%{http_code} %{size_download}' -r 100-199 "$url/f4k.bin")"
check "206 bytes" "ok" "$(cmp -s "$dir/part" <(tail -c +101 "$dir/src/f4k.bin" | head -c 100) && echo ok)"
check "206 suffix" "206 10" "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -r -10 "$url/f4k.bin")"
check "206 open" "206 96" "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -r 4000- "$url/f4k.bin")"
check "content-range" "bytes 100-199/4096" "$(curl -s -D - -o /dev/null -r 100-199 "$url/f4k.bin" | tr -d '\r' | awk -F': ' 'tolower($1) == "content-range" {print $2}')"
check "416" "416" "$(code -r 5000-6000 "$url/f4k.bin")"
check "head" "200 0" "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "$url/f4k.bin")"
mime() { curl -s -o /dev/null -w '%{content_type}' "$url/$1"; }
check "mime html" "text/html; charset=utf-8" "$(mime index.html)"
check "mime css" "text/css; charset=utf-8" "$(mime a.css)"
check "mime js" "text/javascript; charset=utf-8" "$(mime a.js)"
check "mime json" "application/json" "$(mime a.json)"
check "mime png" "image/png" "$(mime a.png)"
check "mime svg" "image/svg+xml" "$(mime a.svg)"
check "mime wasm" "application/wasm" "$(mime a.wasm)"
check "mime mp4" "video/mp4" "$(mime a.mp4)"
check "mime webm" "video/webm" "$(mime a.webm)"
check "mime txt" "text/plain; charset=utf-8" "$(mime a.txt)"
check "mime bin" "application/octet-stream" "$(mime f4k.bin)"
check "dir redirect" "301" "$(code "$url/pub")"
check "no listing" "404" "$(code "$url/empty/")"
check "listing" "200" "$(code "$url/pub/")"
check "listing names" "1" "$(curl -s "$url/pub/" | grep -c 'href="b.txt"')"
check "missing file" "404" "$(code "$url/nope.html")"
check "dotdot" "400" "$(code --path-as-is "$url/pub/../../x")"

# ---- limits and errors ----
check "unknown route" "404" "$(code "$url/echo-nothing-here")"
head -c 2000000 /dev/zero >"$dir/big"
check "413 body" "413" "$(code -X PUT --data-binary @"$dir/big" "$url/echo")"
big_h=$(head -c 9000 /dev/zero | tr '\0' 'a')
check "oversized header block" "431" "$(code -H "X-Big: $big_h" "$url/")"
big_h=$(head -c 20480 /dev/zero | tr '\0' 'a')
check "20 KiB header" "431" "$(code -H "X-Big: $big_h" "$url/f4k.bin")"
check "served after 431" "200" "$(code "$url/f4k.bin")"
big_h=$(head -c 40000 /dev/zero | tr '\0' 'a')
check "header block over the hard limit" "400" "$(code -H "X-Big: $big_h" "$url/")"
check "served after 400" "200" "$(code "$url/f4k.bin")"
hdrs=()
for i in $(seq 120); do hdrs+=(-H "X-H$i: v"); done
py_raw() {	# send raw bytes, print the status line
	python3 - "$port" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
try:
    data = s.recv(4096)
except socket.timeout:
    data = b""
print(data.split(b"\r\n", 1)[0].decode("latin-1"))
PY
}
check "400 garbage" "HTTP/1.1 400 Bad Request" "$(py_raw 'GARBAGE\r\n\r\n' | cut -c1-24)"
check "400 bad version" "400" "$(py_raw 'GET / HTTP/9.x\r\nHost: a\r\n\r\n' | cut -d' ' -f2)"

# ---- programs ----
echo_prog() {	# mode prefix [manifest] -> pid; waits for ready
	local m=()
	[ -n "${3:-}" ] && m=(-m "$3")
	"$bin/http-echo-program" -S "$sock" "${m[@]}" -H 127.0.0.1 -P "$2" \
	    -M "$1" >"$dir/prog-${2#/}.out" 2>&1 &
	local pid=$!
	pids+=($pid)
	for _ in $(seq 50); do
		grep -q ready "$dir/prog-${2#/}.out" 2>/dev/null && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	echo $pid
}
echo_prog echo /echo "$dir/manifest-echo" >/dev/null
head -c 600000 /dev/urandom >"$dir/body"
check "echo post" "200" "$(curl -s -o "$dir/echoed" -w '%{http_code}' --data-binary @"$dir/body" "$url/echo/x?y=1")"
check "echo body" "ok" "$(cmp -s "$dir/echoed" "$dir/body" && echo ok)"
check "echo chunked upload" "200" "$(curl -s -o "$dir/echoed2" -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$dir/body" "$url/echo/")"
check "echo chunked body" "ok" "$(cmp -s "$dir/echoed2" "$dir/body" && echo ok)"
check "echo uri" "/echo/x?y=1" "$(curl -s -D - -o /dev/null "$url/echo/x?y=1" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-echo-uri" {print $2}')"
check "echo method" "DELETE" "$(curl -s -X DELETE -D - -o /dev/null "$url/echo" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-echo-method" {print $2}')"
check "431 headers" "431" "$(code "${hdrs[@]}" "$url/echo")"
"$bin/http-echo-program" -S "$sock" -m "$dir/manifest-none" -H 127.0.0.1 \
    -P /echo2 >"$dir/refused.out" 2>&1
check "route outside manifest refused" "3" "$?"
# request bodies stream: the echo of the first half comes back before
# the client sends the second half
stream_early() {
	python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
half = b"x" * 300000
s.sendall(b"POST /echo/s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Content-Length: %d\r\n\r\n" % (2 * len(half)) + half)
got = b""
try:
    while len(got.split(b"\r\n\r\n", 1)[-1]) < 100000 or b"\r\n\r\n" not in got:
        d = s.recv(65536)
        if not d:
            break
        got += d
except socket.timeout:
    pass
early = b"\r\n\r\n" in got and len(got.split(b"\r\n\r\n", 1)[1]) >= 100000
s.sendall(half)
try:
    while not got.endswith(b"0\r\n\r\n"):
        d = s.recv(65536)
        if not d:
            break
        got += d
except socket.timeout:
    pass
print(got.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[1] + " " +
      ("early" if early else "late"))
PY
}
check "body streams to the program" "200 early" "$(stream_early)"
echo_prog stream /stream "$dir/manifest-echo" >/dev/null
check "streamed response" "200 1048576" "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$url/stream")"
echo_prog silent /slow "$dir/manifest-echo" >/dev/null
t0=$(date +%s%N)
curl -s -o /dev/null -w '%{http_code}' -m 15 "$url/slow" >"$dir/slow.code" &
slow=$!
# the gateway keeps serving while the silent program holds a request
sleep 1
check "served during slow" "200" "$(code "$url/f4k.bin")"
check "echo during slow" "200" "$(code -d hi "$url/echo")"
wait $slow
t1=$(date +%s%N)
check "504 silent program" "504" "$(cat "$dir/slow.code")"
ms=$(( (t1 - t0) / 1000000 ))
check "504 within 4-7 s" "1" "$([ $ms -ge 4000 ] && [ $ms -le 7000 ] && echo 1 || echo "$ms ms")"
echo_prog gone /gone "$dir/manifest-echo" >/dev/null
check "502 program gone" "502" "$(code "$url/gone")"
check "404 after it went" "404" "$(code "$url/gone")"
check "still serving" "200" "$(code "$url/")"
kill -0 "${pids[0]}" 2>/dev/null
check "gateway alive" "0" "$?"

# a 64 MiB upload through a second gateway (128 MiB body limit) to the
# echo program: the gateway's peak memory stays far below the body
mkdir -m 700 "$dir/n2"
"$bin/gateway-test" -d "$dir/n2" -t 5000 -b 134217728 >"$dir/gw2.log" 2>&1 &
gw2=$!
pids+=($gw2)
for _ in $(seq 50); do [ -e "$dir/n2/info" ] && break; sleep 0.1; done
port2=$(awk '$1 == "port" {print $2}' "$dir/n2/info")
"$bin/http-echo-program" -S "$dir/n2/api/sock" -H 127.0.0.1 -P /echo \
    >"$dir/prog2.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$dir/prog2.out" 2>/dev/null && break; sleep 0.1; done
head -c 67108864 /dev/zero >"$dir/big64"
hwm0=$(awk '/^VmHWM/ {print $2}' /proc/$gw2/status)
check "64 MiB upload echoed" "200 67108864" \
    "$(curl -s -m 60 -o /dev/null -w '%{http_code} %{size_download}' -T "$dir/big64" "http://127.0.0.1:$port2/echo/big")"
hwm1=$(awk '/^VmHWM/ {print $2}' /proc/$gw2/status)
check "gateway memory bounded" "1" \
    "$([ $((hwm1 - hwm0)) -lt 24576 ] && echo 1 || echo "grew by $((hwm1 - hwm0)) KiB")"
rm -f "$dir/big64"

echo "gateway-http: $checks checks, $fails failed"
[ $fails -eq 0 ]
