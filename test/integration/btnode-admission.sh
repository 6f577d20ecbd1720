#!/bin/bash
# TPM-gated admission: nodes a and b keep their keys in their own swtpm,
# provisioned beforehand (swtpm_setup) with endorsement certificates from
# a local CA; a requires activated peers (the statement, then a
# credential-activation challenge to the peer's TPM), b attested ones
# (ca = the CA's root and issuer).  They admit each other; node c, with a
# software keystore, is refused by a, with the reason logged on both
# sides; files flow between a and b.
#   test/integration/btnode-admission.sh BUILD_DIR
set -u
. "$(dirname "$0")/lib-btnode.bash"

command -v swtpm_setup >/dev/null || fail "swtpm_setup is not installed"

# the local CA: its state under $T/ca, never machine-wide
mkdir -p "$T/ca"
cat >"$T/swtpm-localca.conf" <<EOF
statedir = $T/ca
signingkey = $T/ca/signkey.pem
issuercert = $T/ca/issuercert.pem
certserial = $T/ca/certserial
EOF
cat >"$T/swtpm_setup.conf" <<EOF
create_certs_tool = /usr/bin/swtpm_localca
create_certs_tool_config = $T/swtpm-localca.conf
create_certs_tool_options = /dev/null
active_pcr_banks = sha256
EOF

# provision <datadir>/swtpm, the state directory btnode's swtpm uses
provision() {
	mkdir -p "$T/$1/swtpm" "$T/$1/certs"
	swtpm_setup --tpm2 --tpmstate "$T/$1/swtpm" --config "$T/swtpm_setup.conf" \
		--create-ek-cert --lock-nvram --write-ek-cert-files "$T/$1/certs" \
		>"$T/$1-setup.out" 2>&1 || { cat "$T/$1-setup.out" >&2; fail "swtpm_setup for $1"; }
}
provision a
provision b
[ -s "$T/ca/swtpm-localca-rootca-cert.pem" ] || fail "the local CA made no root"

# conf NAME INDEX KEYSTORE ADMISSION [BOOTSTRAP_INDEX...]
conf() {
	local name=$1 i=$2 ks=$3 adm=$4 b
	shift 4
	mkdir -p "$T/$name"
	{
		echo "[node]"
		echo "keystore = $ks"
		echo "log_level = debug"
		echo "admission = $adm"
		echo "ca = $T/ca/swtpm-localca-rootca-cert.pem"
		echo "ca = $T/ca/issuercert.pem"
		echo "[network]"
		echo "listen = 127.0.0.1:$((PORT + i))"
		for b in "$@"; do echo "bootstrap = 127.0.0.1:$((PORT + b))"; done
		echo "[gateway]"
		echo "listen = off"
	} >"$T/$name/btnode.conf"
}

conf a 0 swtpm activated
conf b 1 swtpm attested 0
conf c 2 "file:$T/c/seed" open 0
"$BTNODE" --check-config -d "$T/a" | grep -q "^admission = activated$" ||
	fail "--check-config does not show the policy"

# a policy that cannot be enforced is refused at start
mkdir -p "$T/bad"
printf '[node]\nkeystore = file:%s\nadmission = attested\n' "$T/bad/seed" \
	>"$T/bad/btnode.conf"
"$BTNODE" -f -d "$T/bad" >"$T/bad.out" 2>&1 && fail "attested without ca started"
grep -q 'needs at least one "ca' "$T/bad.out" || fail "no reason for the missing ca"
printf '[node]\nadmission = sometimes\n' >"$T/bad/btnode.conf"
"$BTNODE" --check-config -d "$T/bad" >"$T/bad.out" 2>&1 && fail "admission = sometimes accepted"
grep -q 'not open, attested or activated' "$T/bad.out" || fail "no reason for a bad policy"

node_start a
node_start b
node_start c
ida=$(id_of a)
idb=$(id_of b)
idc=$(id_of c)
[ -n "$ida" ] && [ -n "$idb" ] && [ -n "$idc" ] || fail "no node ids"

# logged INPUT PATTERN: wait up to 20 s for the pattern in a node's log
logged() {
	local t=0
	while ! grep -q "$2" "$T/$1.log"; do
		[ "$t" -ge 200 ] && return 1
		sleep 0.1
		t=$((t + 1))
	done
}

logged a "admission: admitted peer $idb" || fail "a did not admit b"
logged b "admission: admitted peer $ida" || fail "b did not admit a"
logged b "challenged our TPM: answered" || fail "a did not challenge b's TPM"
logged a "admission: refused peer $idc: .*unattested" ||
	fail "a did not refuse c as unattested"
logged c "admission: peer $ida refused this node: .*unattested" ||
	fail "c was not told why a refused it"
grep -q "admission: admitted peer $idc" "$T/a.log" && fail "a admitted c"
logged b "online" || fail "b never went online through a"

# data flows between the admitted nodes
echo "attested hello" >"$T/small"
probe b put "$T/small" /files/small || fail "put on b"
home=$(home_of b)
ok=0
for _ in $(seq 1 50); do
	if [ "$(probe a get "$home/files/small" 2>/dev/null)" = "attested hello" ]; then
		ok=1
		break
	fi
	sleep 0.2
done
[ "$ok" = 1 ] || fail "a could not read b's file"

node_stop c || fail "btnode c exited $?"
node_stop b || fail "btnode b exited $?"
node_stop a || fail "btnode a exited $?"
[ -z "$(swtpm_of a)$(swtpm_of b)" ] || fail "a swtpm still runs"
echo "btnode-admission: a and b (swtpm, local CA) admitted each other; c (file keystore) refused"
