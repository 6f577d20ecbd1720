# libbtstore: the node's persistence on LMDB.  Variables only; the rules
# are in the top-level Makefile.
btstore_DESC        := BlockTree store: blocks, bags, DHT values, held fragments and change notifications on LMDB
btstore_DEPS        := btcore
btstore_PKGS        := lmdb
btstore_PC_REQ      :=
btstore_PC_REQPRIV  := lmdb
btstore_BENCH_LIBS  :=
