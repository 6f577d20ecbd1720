# libbtcore: data formats and crypto.  Variables only; the rules are in
# the top-level Makefile.
btcore_DESC        := BlockTree core: ids, keys, blocks, file trees, directories, paths, messages, fragments, manifests, signed records
btcore_DEPS        :=
btcore_PKGS        := libcrypto libsodium libbson-1.0 libisal
btcore_PC_REQ      :=
btcore_PC_REQPRIV  := libcrypto libsodium libbson-1.0 libisal
btcore_BENCH_LIBS  :=
