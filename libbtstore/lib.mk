# libbtstore: the node's persistence on LMDB.  Variables only; the rules
# are in the top-level Makefile.
btstore_DESC       := BlockTree storage on LMDB: verified blocks, file trees, signed namespaces and paths, feeds, records, bags, DHT values, held fragments, change notifications
btstore_DEPS        := btcore
btstore_PKGS        := lmdb
btstore_PC_REQ      :=
btstore_PC_REQPRIV  := lmdb
btstore_BENCH_LIBS  :=
