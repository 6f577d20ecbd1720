# btnode: the node daemon (btnode(8), btnode.conf(5))
PROGRAMS += btnode
btnode_SRCS := btnode/main.c btnode/config.c btnode/swtpm.c
btnode_LIB := btapi
btnode_LDLIBS := $(shell pkg-config --libs inih 2>/dev/null || echo -linih)
btnode_INSTALL := 1

# bt: the command-line client (bt(1))
PROGRAMS += bt
bt_SRCS := btnode/bt.c
bt_LIB := btapi
bt_INSTALL := 1
