# BlockTree: one non-recursive GNU make build for the whole suite.
#
#   make                 build every library present (static + shared + .pc)
#   make check           unit tests, export and man checks, fuzz corpus replay
#   make check-asan      the same under AddressSanitizer + UBSan
#   make fuzz            libFuzzer targets (clang) for FUZZ_SECONDS each
#   make bench           benchmarks, one ratio line per figure
#   make man-lint        mandoc -Tlint over every page
#   make install / uninstall   PREFIX=... DESTDIR=...
#   make deps            install missing Debian 12 packages
#   make run             the demonstration (see README.md)

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PCDIR      ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man

CC       ?= cc
AR       ?= ar
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
FUZZ_SECONDS ?= 20
FUZZ_CC  ?= clang

B        ?= build

# Quiet by default; V=1 shows every command.
ifeq ($(V),1)
Q :=
E := @:
else
Q := @
E := @echo
endif

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wcast-qual -Wundef \
       -Wmissing-prototypes -Wstrict-prototypes -Werror
BT_CFLAGS   = -std=c11 $(WARN) -fPIC -fvisibility=hidden -pthread
BT_CPPFLAGS = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE

# Dependency order: a library may use only libraries to its left.
ALL_LIBS := btcore bttpm btstore btnet btapi
LIBS     := $(foreach l,$(ALL_LIBS),$(if $(wildcard lib$(l)/lib.mk),$(l)))

pc = $(if $(1),$(shell pkg-config $(2) $(1) 2>/dev/null))

CHECK_CFLAGS := $(call pc,check,--cflags)
CHECK_LIBS   := $(call pc,check,--libs)

include $(LIBS:%=lib%/lib.mk)

# Every public header folder is visible to every library; a library's own
# src/ only to itself.
INC_ALL := $(foreach l,$(LIBS),-Ilib$(l)/include)

all: $(LIBS) examples tools programs

# ---- one template instantiated per library ---------------------------------
# lib.mk sets: X_DESC, X_DEPS (bt libraries), X_PKGS (pkg-config modules),
# X_PC_REQ, X_PC_REQPRIV, optionally X_LDLIBS_EXTRA.
define LIB_template
$(1)_VERSION := $$(shell cat lib$(1)/VERSION)
$(1)_SOMAJOR := $$(firstword $$(subst ., ,$$($(1)_VERSION)))
$(1)_SRCS    := $$(call only,$(1),$$(sort $$(wildcard lib$(1)/src/*.c)),lib$(1)/src/)
$(1)_HDRS    := $$(sort $$(wildcard lib$(1)/include/bt/*.h))
$(1)_OBJS    := $$($(1)_SRCS:lib$(1)/src/%.c=$(B)/obj/$(1)/%.o)
$(1)_A       := $(B)/lib/lib$(1).a
$(1)_SONAME  := lib$(1).so.$$($(1)_SOMAJOR)
$(1)_SO      := $(B)/lib/lib$(1).so.$$($(1)_VERSION)
$(1)_PC      := $(B)/lib/pkgconfig/lib$(1).pc
# third-party headers are system headers: our warnings do not apply to them
$(1)_PKG_CFLAGS := $$(patsubst -I%,-isystem %,$$(call pc,$$($(1)_PKGS),--cflags))
$(1)_LDLIBS  := $$(call pc,$$($(1)_PKGS),--libs) $$($(1)_LDLIBS_EXTRA) -pthread
# static link line: this library, then its bt deps right to left, then
# every external library they need
$(1)_STATIC  := $$($(1)_A) $$(foreach d,$$(call reverse,$$($(1)_DEPS)),$$($$(d)_A)) \
                $$($(1)_LDLIBS) $$(foreach d,$$($(1)_DEPS),$$($$(d)_LDLIBS))
$(1)_ALLCFLAGS := $$($(1)_PKG_CFLAGS) $$(foreach d,$$($(1)_DEPS),$$($$(d)_PKG_CFLAGS))

$(1): $$($(1)_A) $$($(1)_SO) $$($(1)_PC)

$(B)/obj/$(1)/%.o: lib$(1)/src/%.c
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) -DBT_BUILDING_$(1) \
	    -D$$(shell echo $(1) | tr a-z A-Z)_VERSION_STRING='"$$($(1)_VERSION)"' \
	    $(INC_ALL) -Ilib$(1)/src $$($(1)_ALLCFLAGS) $$(CPPFLAGS) \
	    $$(BT_CFLAGS) $$(CFLAGS) -MMD -MP -c $$< -o $$@

# the list of objects, rewritten only when it changes (BT_ONLY_<lib>
# changes it, and no file date records that)
$(B)/obj/$(1).objs: FORCE
	@mkdir -p $$(@D)
	@echo $$($(1)_OBJS) > $$@.tmp
	@cmp -s $$@.tmp $$@ || mv $$@.tmp $$@; rm -f $$@.tmp

$$($(1)_A): $$($(1)_OBJS) $(B)/obj/$(1).objs
	@mkdir -p $$(@D)
	$(Q)rm -f $$@
	$(E) '  AR   $$@'
	$(Q)$$(AR) rcs $$@ $$($(1)_OBJS)

$$($(1)_SO): $$($(1)_OBJS) $(B)/obj/$(1).objs lib$(1)/$(1).map $$(foreach d,$$($(1)_DEPS),$$($$(d)_SO))
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) -shared -Wl,-soname,$$($(1)_SONAME) \
	    -Wl,--version-script=lib$(1)/$(1).map -Wl,--no-undefined \
	    $$(CFLAGS) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) \
	    -L$(B)/lib $$(addprefix -l,$$($(1)_DEPS)) $$($(1)_LDLIBS)
	$(Q)ln -sf lib$(1).so.$$($(1)_VERSION) $(B)/lib/$$($(1)_SONAME)
	$(Q)ln -sf $$($(1)_SONAME) $(B)/lib/lib$(1).so

$$($(1)_PC): lib$(1)/lib.mk lib$(1)/VERSION $(B)/config.stamp
	@mkdir -p $$(@D)
	$(E) '  GEN  $$@'
	$(Q)printf '%s\n' 'prefix=$$(PREFIX)' 'libdir=$$(LIBDIR)' \
	    'includedir=$$(INCLUDEDIR)' '' 'Name: lib$(1)' \
	    'Description: $$($(1)_DESC)' 'Version: $$($(1)_VERSION)' \
	    'Requires: $$(strip $$(addprefix lib,$$($(1)_DEPS)) $$($(1)_PC_REQ))' \
	    'Requires.private: $$($(1)_PC_REQPRIV)' \
	    'Cflags: -I$$$${includedir}' 'Libs: -L$$$${libdir} -l$(1)' > $$@

install-$(1): $(1)
	mkdir -p $$(DESTDIR)$$(LIBDIR) $$(DESTDIR)$$(PCDIR) $$(DESTDIR)$$(INCLUDEDIR)/bt
	install -m 644 $$($(1)_A) $$(DESTDIR)$$(LIBDIR)/
	install -m 755 $$($(1)_SO) $$(DESTDIR)$$(LIBDIR)/
	$(Q)ln -sf lib$(1).so.$$($(1)_VERSION) $$(DESTDIR)$$(LIBDIR)/$$($(1)_SONAME)
	$(Q)ln -sf $$($(1)_SONAME) $$(DESTDIR)$$(LIBDIR)/lib$(1).so
	install -m 644 $$($(1)_PC) $$(DESTDIR)$$(PCDIR)/
	install -m 644 $$($(1)_HDRS) $$(DESTDIR)$$(INCLUDEDIR)/bt/

uninstall-$(1):
	rm -f $$(DESTDIR)$$(LIBDIR)/lib$(1).a $$(DESTDIR)$$(LIBDIR)/lib$(1).so \
	    $$(DESTDIR)$$(LIBDIR)/$$($(1)_SONAME) \
	    $$(DESTDIR)$$(LIBDIR)/lib$(1).so.$$($(1)_VERSION) \
	    $$(DESTDIR)$$(PCDIR)/lib$(1).pc \
	    $$(addprefix $$(DESTDIR)$$(INCLUDEDIR)/bt/,$$(notdir $$($(1)_HDRS)))

# The dynamic symbols must be exactly the names in the version script, and
# every one must carry the library's prefix and have a section-3 page.
check-exports-$(1): $$($(1)_SO)
	@mkdir -p $(B)/exports
	@nm -D --defined-only $$($(1)_SO) | \
	    awk '$$$$2 ~ /^[TDBRVW]$$$$/ {sub(/@.*/, "", $$$$3); print $$$$3}' | \
	    grep -v '^$$$$' | \
	    sort > $(B)/exports/$(1).exported
	@sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' lib$(1)/$(1).map | \
	    sort > $(B)/exports/$(1).listed
	@diff -u $(B)/exports/$(1).listed $(B)/exports/$(1).exported || \
	    { echo "lib$(1): exported symbols differ from lib$(1)/$(1).map"; exit 1; }
	@bad=$$$$(grep -v '^$(1)_' $(B)/exports/$(1).exported); \
	    if [ -n "$$$$bad" ]; then echo "lib$(1): exports without the $(1)_ prefix: $$$$bad"; exit 1; fi
	@miss=$$$$(for s in $$$$(cat $(B)/exports/$(1).exported); do \
	    [ -f man/man3/$$$$s.3 ] || echo $$$$s; done); \
	    if [ -n "$$$$miss" ]; then echo "lib$(1): no man page for:" $$$$miss; exit 1; fi
	@echo "lib$(1): $$$$(wc -l < $(B)/exports/$(1).exported) exported symbols, all listed, prefixed and documented"

# ---- unit tests: one Check runner per library, one Suite per test_*.c ------
$(1)_TEST_SRCS := $$(call only,$(1),$$(sort $$(wildcard test/$(1)/test_*.c)),test/$(1)/test_)
$(1)_TEST_OBJS := $$($(1)_TEST_SRCS:test/$(1)/%.c=$(B)/test/$(1)/%.o)

# regenerated every run (kept when unchanged): the set of suites follows
# BT_ONLY_<lib>, which no file date records
$(B)/test/$(1)/suites.h: FORCE
	@mkdir -p $$(@D)
	@printf '%s\n' $$(patsubst test/$(1)/test_%.c,'BT_SUITE(%)',$$($(1)_TEST_SRCS)) > $$@.tmp
	@cmp -s $$@.tmp $$@ || mv $$@.tmp $$@; rm -f $$@.tmp

$(B)/test/$(1)/%.o: test/$(1)/%.c
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) $(INC_ALL) -Ilib$(1)/src -Itest -DBT_TEST_DATA='"$$(CURDIR)/test/data"' \
	    $$($(1)_ALLCFLAGS) $$(CHECK_CFLAGS) $$(CPPFLAGS) $$(BT_CFLAGS) $$(CFLAGS) -MMD -MP -c $$< -o $$@

$(B)/test/$(1)/check_main.o: test/check_main.c $(B)/test/$(1)/suites.h
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) -I$(B)/test/$(1) -DBT_TEST_LIB='"lib$(1)"' $$(CHECK_CFLAGS) \
	    $$(BT_CFLAGS) $$(CFLAGS) -c $$< -o $$@

$(B)/test/check_$(1): $(B)/test/$(1)/check_main.o $$($(1)_TEST_OBJS) $$($(1)_A) \
    $$(foreach d,$$($(1)_DEPS),$$($$(d)_A))
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$($(1)_STATIC) $$(CHECK_LIBS)

check-unit-$(1): $(B)/test/check_$(1)
	$(B)/test/check_$(1)

# ---- shared-library test: public headers and the .so only -----------------
$(B)/test/export_$(1): test/export/$(1).c $$($(1)_SO)
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) -std=c11 $(WARN) $(foreach l,$(LIBS),-Ilib$(l)/include) $$($(1)_ALLCFLAGS) \
	    $$(CFLAGS) -o $$@ $$< -L$(B)/lib -l$(1) $$(addprefix -l,$$($(1)_DEPS)) $$($(1)_LDLIBS)

check-shared-$(1): $$(if $$(wildcard test/export/$(1).c),$(B)/test/export_$(1))
	$$(if $$(wildcard test/export/$(1).c),LD_LIBRARY_PATH=$(B)/lib $(B)/test/export_$(1))

# ---- fuzz targets: replayed over their corpus in check, run in fuzz -------
$(1)_FUZZ := $$(patsubst test/fuzz/$(1)/%.c,%,$$(call only,$(1),$$(sort $$(wildcard test/fuzz/$(1)/*.c)),test/fuzz/$(1)/))

$(B)/fuzz-replay/$(1)-%: test/fuzz/$(1)/%.c test/fuzz/replay.c $$($(1)_A) \
    $$(foreach d,$$($(1)_DEPS),$$($$(d)_A))
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) $(INC_ALL) -Ilib$(1)/src $$($(1)_ALLCFLAGS) $$(BT_CFLAGS) \
	    $$(CFLAGS) -o $$@ $$< test/fuzz/replay.c $$($(1)_STATIC)

check-fuzz-$(1): $$($(1)_FUZZ:%=$(B)/fuzz-replay/$(1)-%)
	@for t in $$($(1)_FUZZ); do \
	    $(B)/fuzz-replay/$(1)-$$$$t test/fuzz/$(1)/$$$$t.corpus || exit 1; done

$(B)/fuzz/$(1)-%: test/fuzz/$(1)/%.c $$($(1)_A) $$(foreach d,$$($(1)_DEPS),$$($$(d)_A))
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) $(INC_ALL) -Ilib$(1)/src $$($(1)_ALLCFLAGS) -std=c11 \
	    $$(CFLAGS) -fsanitize=fuzzer -o $$@ $$< $$($(1)_STATIC)

fuzz-build-$(1): $$($(1)_FUZZ:%=$(B)/fuzz/$(1)-%)

fuzz-run-$(1): fuzz-build-$(1)
	@for t in $$($(1)_FUZZ); do \
	    w=$(B)/fuzz-work/$(1)-$$$$t; rm -rf $$$$w; mkdir -p $$$$w; \
	    echo "fuzz $(1)-$$$$t: $(FUZZ_SECONDS) s"; \
	    $(B)/fuzz/$(1)-$$$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	        -print_final_stats=1 -artifact_prefix=$(B)/fuzz-work/$(1)-$$$$t- \
	        $$$$w test/fuzz/$(1)/$$$$t.corpus 2>$(B)/fuzz-work/$(1)-$$$$t.log || \
	        { tail -50 $(B)/fuzz-work/$(1)-$$$$t.log; exit 1; }; \
	    grep -E 'stat::number_of_executed_units|stat::new_units_added' $(B)/fuzz-work/$(1)-$$$$t.log; \
	done

# ---- benchmarks: bench/X/*.c, each a program printing ratio lines ----------
$(1)_BENCH := $$(patsubst bench/$(1)/%.c,%,$$(call only,$(1),$$(sort $$(wildcard bench/$(1)/*.c)),bench/$(1)/))

$(B)/bench/$(1)-%: bench/$(1)/%.c bench/bench.h $$($(1)_A) $$(foreach d,$$($(1)_DEPS),$$($$(d)_A))
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) $(INC_ALL) -Ilib$(1)/src -Ibench $$($(1)_ALLCFLAGS) \
	    $$($(1)_BENCH_CFLAGS) $$(BT_CFLAGS) -O2 -g -o $$@ $$< $$($(1)_STATIC) $$($(1)_BENCH_LIBS)

bench-$(1): $$($(1)_BENCH:%=$(B)/bench/$(1)-%)
	@for t in $$($(1)_BENCH); do $(B)/bench/$(1)-$$$$t || exit 1; done

-include $$($(1)_OBJS:.o=.d) $$($(1)_TEST_OBJS:.o=.d)
endef

# BT_ONLY_btcore="id key" limits libbtcore's sources, tests and fuzz targets
# to files whose names start with a listed word, for work on a few modules
# while others are being changed.
only = $(if $(BT_ONLY_$(1)),$(filter $(foreach m,$(BT_ONLY_$(1)),$(3)$(m)%),$(2)),$(2))

reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))

$(foreach l,$(LIBS),$(eval $(call LIB_template,$(l))))

# ---- programs: examples/ and tools/, each NAME.c linked to one library -----
# A program declares its library on a line "/* bt-link: btcore */".
define PROG_template
$(B)/bin/$(notdir $(basename $(1))): $(1) $$($(2)_A) $$(foreach d,$$($(2)_DEPS),$$($$(d)_A))
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) $(INC_ALL) $$($(2)_ALLCFLAGS) $$(BT_CFLAGS) $$(CFLAGS) \
	    -MMD -MP -MF $$@.d -o $$@ $(1) $$($(2)_STATIC)

-include $(B)/bin/$(notdir $(basename $(1))).d
endef
PROG_SRCS := $(sort $(wildcard examples/*.c tools/*.c))
prog_lib   = $(shell sed -n 's,.*bt-link: *\([a-z]*\).*,\1,p' $(1) | head -1)
$(foreach p,$(PROG_SRCS),$(eval $(call PROG_template,$(p),$(call prog_lib,$(p)))))
PROGS := $(foreach p,$(PROG_SRCS),$(B)/bin/$(notdir $(basename $(p))))

examples tools: $(PROGS)

# ---- multi-file programs: <dir>/prog.mk lists them (variables only) -------
# PROGRAMS += name ; name_SRCS := dir/a.c dir/b.c ; name_LIB := btapi ;
# name_LDLIBS := extra libraries ; name_INSTALL := 1 to install in BINDIR.
PROGRAMS :=
-include $(wildcard */prog.mk)

define MPROG_template
$(1)_OBJS := $$($(1)_SRCS:%.c=$(B)/obj/prog/%.o)

$(B)/obj/prog/%.o: %.c
	@mkdir -p $$(@D)
	$(E) '  CC   $$@'
	$(Q)$$(CC) $$(BT_CPPFLAGS) $(INC_ALL) $$(CHECK_CFLAGS) $$($$($(1)_LIB)_ALLCFLAGS) $$(BT_CFLAGS) $$(CFLAGS) \
	    -MMD -MP -c $$< -o $$@

$(B)/bin/$(1): $$($(1)_OBJS) $$($$($(1)_LIB)_A) $$(foreach d,$$($$($(1)_LIB)_DEPS),$$($$(d)_A))
	@mkdir -p $$(@D)
	$(E) '  LD   $$@'
	$(Q)$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$($$($(1)_LIB)_STATIC) $$($(1)_LDLIBS)

-include $$($(1)_OBJS:.o=.d)
endef
$(foreach p,$(PROGRAMS),$(eval $(call MPROG_template,$(p))))
PROGS += $(PROGRAMS:%=$(B)/bin/%)

programs: $(PROGRAMS:%=$(B)/bin/%)

install-programs: programs
	@for p in $(foreach p,$(PROGRAMS),$(if $($(p)_INSTALL),$(p))); do \
	    mkdir -p $(DESTDIR)$(BINDIR) && install -m 755 $(B)/bin/$$p $(DESTDIR)$(BINDIR)/ || exit 1; done

uninstall-programs:
	rm -f $(foreach p,$(PROGRAMS),$(if $($(p)_INSTALL),$(DESTDIR)$(BINDIR)/$(p)))

# rewritten only when the install paths change, so .pc files follow PREFIX
$(B)/config.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(PREFIX) $(LIBDIR) $(INCLUDEDIR)' | cmp -s - $@ || \
	    echo '$(PREFIX) $(LIBDIR) $(INCLUDEDIR)' > $@
FORCE:

# ---- man pages ---------------------------------------------------------------
MANPAGES := $(sort $(wildcard man/man[1-8]/*.[1-8]))

man-lint:
	@out=$$(for f in $(MANPAGES); do \
	    if head -1 $$f | grep -q '^\.so '; then \
	        t=man/$$(sed -n '1s/^\.so //p' $$f); [ -f "$$t" ] || echo "$$f: .so target $$t missing"; \
	    else mandoc -Tlint -W warning $$f; fi; done 2>&1); \
	    if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	    echo "man-lint: $(words $(MANPAGES)) pages clean"

install-man:
	@for f in $(MANPAGES); do \
	    d=$(DESTDIR)$(MANDIR)/$$(basename $$(dirname $$f)); mkdir -p $$d; \
	    install -m 644 $$f $$d/ || exit 1; done

uninstall-man:
	rm -f $(foreach f,$(MANPAGES),$(DESTDIR)$(MANDIR)/$(notdir $(patsubst %/,%,$(dir $(f))))/$(notdir $(f)))

# ---- aggregate targets -------------------------------------------------------
install:   $(LIBS:%=install-%) install-man install-programs
uninstall: $(LIBS:%=uninstall-%) uninstall-man uninstall-programs

check-exports: $(LIBS:%=check-exports-%)

# The README's pkg-config example, compiled against an installed copy.
check-install: $(LIBS)
	rm -rf $(B)/stage
	$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(B)/stage >/dev/null
	PKG_CONFIG_PATH=$(CURDIR)/$(B)/stage/lib/pkgconfig sh -c \
	    '$(CC) -std=c11 -Wall -Werror -o $(B)/stage/hello examples/pkgconfig/hello.c \
	     $$(pkg-config --cflags --libs libbtcore)'
	LD_LIBRARY_PATH=$(B)/stage/lib $(B)/stage/hello | grep -q '^btcore '
	$(MAKE) --no-print-directory uninstall PREFIX=$(CURDIR)/$(B)/stage >/dev/null
	@left=$$(find $(B)/stage -type f ! -name hello); \
	    if [ -n "$$left" ]; then echo "uninstall left: $$left"; exit 1; fi
	@echo "check-install: installed, linked with pkg-config, ran, uninstalled cleanly"

check-unit:   $(LIBS:%=check-unit-%)
check-shared: $(LIBS:%=check-shared-%)
check-fuzz:   $(LIBS:%=check-fuzz-%)

check-all: all check-unit check-shared check-fuzz check-exports check-install
	@if [ -x test/integration/run ]; then test/integration/run $(B); fi

check: deps
	@$(MAKE) --no-print-directory check-all

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all

check-asan: deps
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(MAKE) --no-print-directory B=$(B)/asan CFLAGS="$(ASAN_FLAGS)" \
	    LDFLAGS="-fsanitize=address,undefined" check-unit check-fuzz

fuzz: deps
	$(MAKE) --no-print-directory B=$(B)/fuzzbuild CC=$(FUZZ_CC) \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	    $(LIBS:%=fuzz-run-%)

bench:
	@tools/deps.sh bench
	@$(MAKE) --no-print-directory all $(LIBS:%=bench-%)
	@bench/gateway.sh $(B)
	@bench/transfer.sh $(B)

deps:
	@tools/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@tools/run.sh $(B)

# libbtcore alone at work on a file: make demo FILE=/path/to/file
demo: deps
	@$(MAKE) --no-print-directory all
	@$(B)/bin/btcore-demo $(FILE)

clean:
	rm -rf $(B)

.PHONY: all clean install uninstall install-man uninstall-man check check-all \
	check-unit check-shared check-fuzz check-exports check-install check-asan \
	fuzz bench deps run demo man-lint examples tools programs install-programs uninstall-programs FORCE $(LIBS) \
	$(foreach t,install uninstall check-exports check-unit check-shared \
	    check-fuzz fuzz-build fuzz-run bench,$(LIBS:%=$(t)-%))
