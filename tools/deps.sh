#!/bin/sh
# Install the Debian 12 packages BlockTree needs, only when something is
# missing.  Idempotent; safe to run on every `make check` and `make run`.
set -eu

# pkg-config module -> Debian package
PKGS="libcrypto:libssl-dev libsodium:libsodium-dev libbson-1.0:libbson-dev
libisal:libisal-dev check:check lmdb:liblmdb-dev libevent:libevent-dev
tss2-esys:libtss2-dev tss2-tctildr:libtss2-dev tss2-mu:libtss2-dev
inih:libinih-dev"
# command -> Debian package
CMDS="cc:build-essential make:make pkg-config:pkg-config clang:clang
mandoc:mandoc swtpm:swtpm swtpm_ioctl:swtpm-tools swtpm_setup:swtpm-tools
tpm2_getcap:tpm2-tools openssl:openssl curl:curl"
# `deps.sh bench` also wants the tools the benchmarks compare against
if [ "${1:-}" = bench ]; then
	CMDS="$CMDS wrk:wrk nginx:nginx-light"
fi
# files -> Debian package (libFuzzer and sanitizer runtimes for clang)
FILES="/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev"

missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1";; esac; }

for e in $PKGS; do
	m=${e%%:*}; p=${e#*:}
	pkg-config --exists "$m" 2>/dev/null || add "$p"
done
for e in $CMDS; do
	c=${e%%:*}; p=${e#*:}
	command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || add "$p"
done
for e in $FILES; do
	f=${e%%:*}; p=${e#*:}
	[ "$(uname -m)" = x86_64 ] || continue
	[ -e "$f" ] || add "$p"
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "deps: missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root, or: sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/lists
if [ -z "$(find $stamp -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
	apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: installed:$missing"
