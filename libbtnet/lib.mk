# libbtnet: networking on libevent (Noise transport first).  Variables
# only; the rules are in the top-level Makefile.  Storage is reached
# through an interface, so libbtstore is not a dependency.
btnet_DESC        := BlockTree networking: Noise transport, framing, DHT, RPC, direct connections, pubsub, friends, relaying
btnet_DEPS        := btcore
btnet_PKGS        := libevent libcrypto libsodium
btnet_PC_REQ      :=
btnet_PC_REQPRIV  := libevent libcrypto libsodium
btnet_BENCH_LIBS  :=
