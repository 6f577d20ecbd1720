# libbtapi: the program API (wire protocol on the node's Unix API socket,
# the server engine a node embeds, the client library programs link).
# Variables only; the rules are in the top-level Makefile.
btapi_DESC        := BlockTree program API: the Unix-socket protocol of a node, its server engine and the client library
btapi_DEPS        := btcore bttpm btstore btnet
btapi_PKGS        := libevent libbson-1.0
btapi_PC_REQ      :=
btapi_PC_REQPRIV  := libevent libbson-1.0
btapi_BENCH_LIBS  :=
