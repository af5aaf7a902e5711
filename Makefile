# natlab: one plain Makefile (see shared STYLE: wireguard-tools' is the model).
#
#   make            build the programs that exist into bin/
#   make check      build and run every test; non-zero exit on any failure
#   make SAN=1 check   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       run each libFuzzer harness for FUZZ_SECONDS (default 60)
#   make lint       clang-format --dry-run and cppcheck
#   make install    PREFIX=/usr/local, DESTDIR: programs, man pages, systemd units
#   make bench      natreflector against a bare responder, coturn and stund, and natprobe
#                   against coturn's and Debian's clients (root); writes results/bench*.txt
#   make deps       install missing Debian packages (idempotent; NODEPS=1 skips it)
#   WERROR=1        turn warnings into errors (CI sets it);  V=1  show full commands

CC      ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60

WARNINGS := -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wold-style-definition -Wwrite-strings -Wcast-qual \
            -Wpointer-arith -Wundef -Wvla -Wimplicit-fallthrough
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_DEFAULT_SOURCE $(WARNINGS) -MMD -MP -Ilib -Itestbeds -I.
# What libnatlab.a needs, after it on every link line (lib/stats.c: libm).
LDLIBS  := -lnettle -ldeflate -lm

ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif

ifeq ($(SAN),1)
VARIANT := san
CFLAGS  += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
BINDIR  := build/san/bin
else
VARIANT := release
CFLAGS  += -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDFLAGS += -Wl,-z,relro,-z,now
BINDIR  := bin
endif

BUILD := build/$(VARIANT)

ifneq ($(V),1)
Q := @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

# The shared library: codec, address helpers, timers. Everything links it.
LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libnatlab.a

# natemu's translation core: pure, linked by natemu and by the tests.
NATEMU_SRC := testbeds/natemu/nat.c testbeds/natemu/packet.c testbeds/natemu/impair.c
NATEMU_LIB := $(BUILD)/libnatemu.a

# natreflector's request handler: pure, linked by the tests (and natreflector).
REFL_SRC := reflector/handler.c reflector/natlabtest.c reflector/capture.c reflector/limiter.c \
            reflector/rendezvous.c
REFL_LIB := $(BUILD)/libreflector.a

# natprobe's engine and tests: pure, linked by natprobe and by the unit tests.
PROBE_SRC := probe/engine.c probe/decide.c probe/synask.c probe/result.c probe/consistency.c probe/punch.c probe/punchtcp.c probe/predict.c probe/predictpm.c probe/hops.c probe/depth.c probe/keepalive.c probe/order.c probe/portmap.c probe/guess.c probe/trials.c probe/tests.c $(wildcard probe/t_*.c)
PROBE_LIB := $(BUILD)/libprobe.a

# natreport's reading, judging, counting and writing: pure of the command
# line, linked by natreport and by the unit tests.
REPORT_SRC := analysis/records.c analysis/verdicts.c analysis/compliance.c analysis/survey.c \
              analysis/report.c analysis/diff.c analysis/plots.c analysis/traversal.c \
              analysis/clickhouse.c
REPORT_LIB := $(BUILD)/libreport.a
# The gnuplot scripts of analysis/plots/, built into natreport as strings.
PLOT_SCRIPTS := $(sort $(wildcard analysis/plots/*.gp))
PLOT_GEN   := $(BUILD)/gen/plotscripts.c

# One entry per program that works; each is built from its folder's sources.
PROGRAMS := natreflector natprobe natreport stundecode labecho natemu stunload bareresponder \
            refltest rdvabuse natcollect
natreflector_SRC := reflector/natreflector.c reflector/server.c reflector/probes.c
natreflector_LIBS := $(BUILD)/libreflector.a -lpcap -lnet
natprobe_SRC := probe/natprobe.c probe/report.c probe/portmaptcp.c probe/spool.c probe/upload.c probe/peerlink.c probe/peeragent.c probe/punchcmd.c \
                probe/punchtcpcmd.c probe/hopsweep.c probe/punchpm.c probe/portmapcmd.c probe/pmclient.c probe/reportdepth.c
natprobe_LIBS := $(BUILD)/libprobe.a -ljansson -lm -lminiupnpc -lnatpmp -luuid -lcurl -pthread
natcollect_SRC := collector/natcollect.c collector/store.c collector/auth.c collector/forward.c
natcollect_LIBS := $(BUILD)/libreport.a $(BUILD)/libreflector.a -ljansson -lmicrohttpd -lcurl -lm -pthread
natreport_SRC := analysis/natreport.c analysis/chexport.c
natreport_LIBS := $(BUILD)/libreport.a -ljansson -lcurl -lm -pthread
stundecode_SRC := tools/stundecode.c
labecho_SRC := testbeds/labecho.c
natemu_SRC := testbeds/natemu/natemu.c
natemu_LIBS := $(BUILD)/libnatemu.a -lpcap
stunload_SRC := bench/stunload.c
refltest_SRC := tools/refltest.c
refltest_LIBS := $(BUILD)/libreflector.a
rdvabuse_SRC := tools/rdvabuse.c
bareresponder_SRC := bench/bareresponder.c

TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/tests/run_tests

FUZZERS  := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))

.PHONY: all check deps fuzz lint clean format bench install

# make install [PREFIX=/usr/local] [DESTDIR=]: scripts/install has the layout.
PREFIX  ?= /usr/local
install: all
	$(Q)scripts/install $(BINDIR) "$(DESTDIR)" $(PREFIX)
.DEFAULT_GOAL := all

all: deps $(PROGRAMS:%=$(BINDIR)/%)

deps:
ifneq ($(NODEPS),1)
	$(Q)scripts/deps
endif

$(BUILD)/%.o: %.c
	$(call quiet,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

define program_rule
$(BINDIR)/$(1): $$($(1)_SRC:%.c=$(BUILD)/%.o) $$(filter %.a,$$($(1)_LIBS)) $(LIB)
	$$(call quiet,LD,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_SRC:%.c=$(BUILD)/%.o) $$($(1)_LIBS) $(LIB) $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program_rule,$(p))))

$(NATEMU_LIB): $(NATEMU_SRC:%.c=$(BUILD)/%.o)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(REFL_LIB): $(REFL_SRC:%.c=$(BUILD)/%.o)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(PROBE_LIB): $(PROBE_SRC:%.c=$(BUILD)/%.o)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(PLOT_GEN): $(PLOT_SCRIPTS) scripts/embed-plots
	$(call quiet,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed-plots $(PLOT_SCRIPTS) >$@.tmp && mv $@.tmp $@

$(PLOT_GEN:%.c=%.o): $(PLOT_GEN)
	$(call quiet,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(REPORT_LIB): $(REPORT_SRC:%.c=$(BUILD)/%.o) $(PLOT_GEN:%.c=%.o)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJ) $(BUILD)/collector/store.o $(PROBE_LIB) $(REPORT_LIB) $(REFL_LIB) $(NATEMU_LIB) $(LIB)
	$(call quiet,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit -ljansson -lm -pthread

check: all $(TEST_BIN)
	$(Q)$(TEST_BIN)
	$(Q)tests/cli.sh $(BINDIR)
	$(Q)tests/golden.sh $(BINDIR)
	$(Q)tests/install.sh $(BINDIR)
	$(Q)tests/service.sh $(BINDIR)
	$(Q)tests/figures.sh $(BINDIR)
	$(Q)tests/testbeds.sh $(BINDIR)
	$(Q)tests/reflector.sh $(BINDIR)
	$(Q)tests/probe.sh $(BINDIR)
	$(Q)tests/punch.sh $(BINDIR)
	$(Q)tests/hops.sh $(BINDIR)
	$(Q)tests/portmap.sh $(BINDIR)
	$(Q)tests/collect.sh $(BINDIR)
	$(Q)tests/clickhouse.sh $(BINDIR)
	$(Q)tests/regression.sh $(BINDIR)

bench: all
	$(Q)bench/run $(BINDIR)
	$(Q)bench/probes $(BINDIR)
	$(Q)bench/gateway $(BINDIR)
	$(Q)bench/report $(BINDIR)
	$(Q)bench/clickhouse $(BINDIR)
	$(Q)bench/collect $(BINDIR)
	$(Q)bench/punch $(BINDIR)
	$(Q)bench/punch-tcp $(BINDIR)

# libFuzzer needs clang; these objects are separate from the normal build.
FUZZ_BUILD  := build/fuzz
FUZZ_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -g -O1 -Ilib -I. \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(FUZZ_BUILD)/%: fuzz/%.c $(LIB_SRC) $(REFL_SRC) $(wildcard lib/*.h reflector/*.h)
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(REFL_SRC) $(LDLIBS)

# One side of a traversal trial: the probe's punch logic.
$(FUZZ_BUILD)/fuzz_punch: fuzz/fuzz_punch.c probe/punch.c $(LIB_SRC) $(wildcard lib/*.h probe/*.h)
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< probe/punch.c $(LIB_SRC) $(LDLIBS)

# natreport's reader: its own sources (with the built-in plot scripts, and the
# one shared helper they call, lib/stats.c) and jansson.
$(FUZZ_BUILD)/fuzz_records: fuzz/fuzz_records.c $(REPORT_SRC) $(PLOT_GEN) lib/stats.c $(wildcard analysis/*.h)
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(REPORT_SRC) $(PLOT_GEN) lib/stats.c -ljansson -lm -pthread

# One run per harness, so that make -j runs several at once (CI: -j2).
FUZZ_RUNS := $(FUZZERS:%=fuzz-run-%)
fuzz: $(FUZZ_RUNS)
.PRECIOUS: $(FUZZERS:%=$(FUZZ_BUILD)/%) # built through a pattern, kept for the next run

fuzz-run-%: deps $(FUZZ_BUILD)/%
	$(Q)f=$*; name=$${f#fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus-$$name; \
	seeds=fuzz/corpus/$$name; [ -d $$seeds ] || seeds=fuzz/corpus/stun; \
	dict=fuzz/$$name.dict; [ -f $$dict ] || dict=fuzz/stun.dict; \
	echo "  FUZZ    $$f for $(FUZZ_SECONDS)s"; \
	$(FUZZ_BUILD)/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -dict=$$dict -artifact_prefix=$(FUZZ_BUILD)/crash-$$name- \
	    $(FUZZ_BUILD)/corpus-$$name $$seeds 2>$(FUZZ_BUILD)/$$f.log \
	  || { tail -n 40 $(FUZZ_BUILD)/$$f.log; exit 1; }; \
	grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' $(FUZZ_BUILD)/$$f.log | \
	    sed "s/^/  $$f: /"

C_FILES = $(wildcard lib/*.[ch] tools/*.[ch] bench/*.[ch] tests/*.[ch] fuzz/*.c probe/*.[ch] reflector/*.[ch] analysis/*.[ch] testbeds/*.[ch] testbeds/natemu/*.[ch] collector/*.[ch])

SHELL_FILES = scripts/deps scripts/install .ci/run bench/run bench/probes bench/gateway bench/report bench/clickhouse bench/collect bench/punch bench/punch-tcp tests/golden/update testbeds/natlab testbeds/lib/*.sh testbeds/profiles/*.sh tests/*.sh

lint: deps
	$(Q)clang-format --dry-run --Werror $(C_FILES)
	$(Q)shellcheck -x -e SC1090,SC1091 $(SHELL_FILES)
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Ilib $(C_FILES)

format:
	$(Q)clang-format -i $(C_FILES)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
