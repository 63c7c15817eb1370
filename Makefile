# Context Broker build.  GNU make.  `make` builds the library, every responder,
# the worker, the tools and the tests.  SAN=1 builds the same tree with
# AddressSanitizer and UndefinedBehaviorSanitizer into build-san/.
#
#   make            build everything (build/)
#   make SAN=1      sanitizer build (build-san/)
#   make run        install what is missing, build, bring up the whole stack
#   make stop       stop exactly what `make run` started
#   make test       install, build (sanitizers on), run every test on a private stack
#   make install    the runtime tree under $(DESTDIR)$(PREFIX) and the units
#                   under $(DESTDIR)$(UNITDIR) (PREFIX=/opt/context-broker,
#                   UNITDIR=/etc/systemd/system; SAN=1 installs build-san/)

SAN ?= 0
NPROC := $(shell nproc 2>/dev/null || echo 2)
# When this make began: the suite's last lines say how long installing and
# building took before the first suite.
MAKE_T0 := $(shell date +%s)
ifeq ($(SAN),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FORTIFY  :=
else
B        := build
SANFLAGS :=
FORTIFY  := -D_FORTIFY_SOURCE=2
endif

CC      ?= cc
PKGS    := libpq hiredis libcjson libsodium libcurl
WSPKGS  := libwebsockets libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi -lm
WS_CFLAGS  := $(shell pkg-config --cflags $(WSPKGS) 2>/dev/null)
WS_LIBS    := $(shell pkg-config --libs $(WSPKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
# The fakes' HTTP server (tests/fakes/common/fakehttpd.c): GNU libmicrohttpd.
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wformat=2 -Wformat-security -Wshadow \
        -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition \
        -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wundef \
        -Wimplicit-fallthrough -Wno-missing-field-initializers
HARDEN := $(FORTIFY) -fstack-protector-strong -fstack-clash-protection \
          -fcf-protection -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(SANFLAGS) $(CFLAGS) \
              -Ilib -Itests/support $(PKG_CFLAGS) -MMD -MP
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(SANFLAGS) $(LDFLAGS)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
LIBA     := $(B)/lib/libcb.a

CGI_SRC  := $(wildcard cgi/*.c)
CGI_BIN  := $(CGI_SRC:cgi/%.c=$(B)/bin/%)

TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(B)/bin/%)
# cb-admin's commands that live in their own files (tools/admin/*.c),
# linked into cb-admin only.
ADMIN_SRC := $(wildcard tools/admin/*.c)
ADMIN_OBJ := $(ADMIN_SRC:%.c=$(B)/obj/%.o)

WORKER_SRC := $(wildcard worker/*.c)
WORKER_OBJ := $(WORKER_SRC:%.c=$(B)/obj/%.o)
WORKER_BIN := $(B)/bin/cb-worker

SUP_SRC  := $(wildcard tests/support/*.c)
SUP_OBJ  := $(SUP_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
INTEG_SRC := $(wildcard tests/integration/*.c)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(B)/tests/integration/%)
FAKE_SRC := $(wildcard tests/fakes/*.c)
FAKE_BIN := $(FAKE_SRC:tests/fakes/%.c=$(B)/bin/%)
# The fakes' shared server core: linked into every fake, never a binary.
FAKE_COMMON_SRC := $(wildcard tests/fakes/common/*.c)
FAKE_COMMON_OBJ := $(FAKE_COMMON_SRC:%.c=$(B)/obj/%.o)
# A fake's own parts: tests/fakes/<name>/*.c, linked into cb-fake-<name> only.
FAKE_PARTS = $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/fakes/$(1)/*.c))
# The benchmark's own programs (scripts/bench.sh): the bare FastCGI
# reference and the agent-to-tab load tool, which reuses the tests'
# WebSocket client.
BENCH_SRC := $(wildcard tools/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tools/bench/%.c=$(B)/bin/%)
BENCH_SUP_OBJ := $(B)/obj/tests/support/ws.o $(B)/obj/tests/support/http.o \
                 $(B)/obj/tests/support/slackclick.o
# cb-bench-tabs' parts (tools/bench/tabs/*.c), linked into it only.
TABS_SRC := $(wildcard tools/bench/tabs/*.c)
TABS_OBJ := $(TABS_SRC:%.c=$(B)/obj/%.o)

# The API description served at /api/openapi.json: docs/openapi.yaml made
# JSON by Debian's python3 with python3-yaml (scripts/openapi-json.py).
OPENAPI_JSON := $(B)/share/openapi.json
PYTHON3 ?= /usr/bin/python3

.PHONY: all lib cgi tools worker tests unit valgrind fakes bench-tools run stop test test-plain clean deps bench install fuzz fuzz-build openapi
all: lib cgi tools worker tests bench-tools openapi $(FAKE_BIN)
openapi: $(OPENAPI_JSON)
lib: $(LIBA)
cgi: $(CGI_BIN)
tools: $(TOOL_BIN)
worker: $(WORKER_BIN)
tests: $(UNIT_BIN) $(INTEG_BIN)
unit: $(UNIT_BIN)
bench-tools: $(BENCH_BIN)
fakes: $(FAKE_BIN)

$(OPENAPI_JSON): docs/openapi.yaml scripts/openapi-json.py
	@mkdir -p $(@D)
	@echo "  JSON $@"; $(PYTHON3) scripts/openapi-json.py docs/openapi.yaml $@

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(ALL_CFLAGS) $(WS_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(B)/bin/%: $(B)/obj/cgi/%.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBA) $(PKG_LIBS) $(WS_LIBS)

$(B)/bin/cb-bench-tabs: $(B)/obj/tools/bench/cb-bench-tabs.o $(TABS_OBJ) $(BENCH_SUP_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(TABS_OBJ) $(BENCH_SUP_OBJ) $(LIBA) $(CHECK_LIBS) $(PKG_LIBS) $(WS_LIBS)

$(B)/bin/cb-bench-%: $(B)/obj/tools/bench/cb-bench-%.o $(BENCH_SUP_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(BENCH_SUP_OBJ) $(LIBA) $(CHECK_LIBS) $(PKG_LIBS) $(WS_LIBS)

$(B)/bin/cb-admin: $(B)/obj/tools/cb-admin.o $(ADMIN_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(ADMIN_OBJ) $(LIBA) $(PKG_LIBS) $(WS_LIBS)

$(B)/bin/%: $(B)/obj/tools/%.o $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBA) $(PKG_LIBS) $(WS_LIBS)

$(B)/bin/cb-fake-sf: $(call FAKE_PARTS,sf)
$(B)/bin/cb-fake-hooks: $(call FAKE_PARTS,hooks)
$(FAKE_COMMON_OBJ): ALL_CFLAGS += $(MHD_CFLAGS)
$(B)/bin/%: $(B)/obj/tests/fakes/%.o $(FAKE_COMMON_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o,$^) $(LIBA) $(MHD_LIBS) $(PKG_LIBS) $(WS_LIBS)

$(WORKER_BIN): $(WORKER_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $(WORKER_OBJ) $(LIBA) $(PKG_LIBS) $(WS_LIBS)

$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(SUP_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(SUP_OBJ) $(LIBA) $(CHECK_LIBS) $(PKG_LIBS) $(WS_LIBS)

$(B)/tests/integration/%: $(B)/obj/tests/integration/%.o $(SUP_OBJ) $(LIBA)
	@mkdir -p $(@D)
	@echo "  CC $@"; $(CC) $(LDFLAGS_ALL) -o $@ $< $(SUP_OBJ) $(LIBA) $(CHECK_LIBS) $(PKG_LIBS) $(WS_LIBS)

# The commit the build came from, in cb_build_info (lib/metrics.c): the file
# changes (and metrics.o is rebuilt) only when the commit does.
CB_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(shell mkdir -p $(B)/gen && { [ "$$(cat $(B)/gen/commit 2>/dev/null)" = "$(CB_COMMIT)" ] || \
    echo "$(CB_COMMIT)" > $(B)/gen/commit; })
$(B)/obj/lib/metrics.o: $(B)/gen/commit
$(B)/obj/lib/metrics.o: ALL_CFLAGS += -DCB_COMMIT='"$(CB_COMMIT)"'

# Fuzz targets: tests/fuzz/<name>.c is one libFuzzer target (it defines
# LLVMFuzzerTestOneInput), built by this one pattern rule with clang,
# libFuzzer, ASan and UBSan against the library built the same way in
# build-fuzz/, its seed corpus in tests/fuzz/corpus/<name>/.  `make fuzz`
# runs each for FUZZ_SECONDS, keeping what it finds in build-fuzz/corpus/
# (a crash's input in build-fuzz/crashes/<name>/);
# `make test` replays every corpus and runs each target briefly
# (tests/scripts/fuzz.sh).  A new target is one file (and its seeds).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FZ           := build-fuzz
FUZZ_SRC     := $(wildcard tests/fuzz/*.c)
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FZ)/bin/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FZ)/obj/%.o)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -g -O1 $(FUZZ_SAN) -Ilib $(PKG_CFLAGS) $(WS_CFLAGS) -MMD -MP

$(FZ)/obj/%.o: %.c
	@mkdir -p $(@D)
	@echo "  FUZZ-CC $@"; $(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FZ)/libcb.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FZ)/bin/%: $(FZ)/obj/tests/fuzz/%.o $(FZ)/libcb.a
	@mkdir -p $(@D)
	@echo "  FUZZ-LD $@"; $(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FZ)/libcb.a $(PKG_LIBS) $(WS_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@for t in $(FUZZ_BIN); do n=$${t##*/}; mkdir -p $(FZ)/corpus/$$n $(FZ)/crashes/$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FZ)/crashes/$$n/ $(FZ)/corpus/$$n \
	        tests/fuzz/corpus/$$n || exit 1; done

# The README's route example, cut out of README.md and compiled into
# tests/unit/test_readme, which runs it through the real pipeline.
$(B)/gen/readme_route.c: README.md
	@mkdir -p $(@D)
	@awk '/^## Adding a route/ { s = 1 } s && /^ *```c$$/ { c = 1; next } \
	    c && /^ *```$$/ { exit } c { sub(/^   /, ""); print }' $< > $@
	@test -s $@ || { echo "README.md: no C example under 'Adding a route'"; rm -f $@; exit 1; }
$(B)/obj/tests/unit/test_readme.o: $(B)/gen/readme_route.c
$(B)/obj/tests/unit/test_readme.o: ALL_CFLAGS += -I$(B)/gen

# The two README commands and their companions.
deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	@CB_BUILD=$(CURDIR)/$(B) scripts/stack.sh start
	@scripts/demo.sh

stop:
	@scripts/stack.sh stop

# The unit suites are built without sanitizers too: tests/scripts/valgrind.sh
# runs them under valgrind.
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=1 all fuzz-build
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=0 unit
	@CB_MAKE_T0=$(MAKE_T0) CB_BUILD=$(CURDIR)/build-san scripts/test.sh

test-plain: deps
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=0 all fuzz-build
	@CB_MAKE_T0=$(MAKE_T0) CB_BUILD=$(CURDIR)/build scripts/test.sh

# Every unit suite under valgrind, the slow ones too, on a private stack
# for those that need Postgres or Redis (tests/scripts/valgrind.sh).
valgrind: deps
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=1 all
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=0 unit
	@CB_VALGRIND_ALL=1 CB_SCRIPT_TIMEOUT=3600 CB_TEST_LANES=1 CB_BUILD=$(CURDIR)/build-san scripts/test.sh valgrind.sh

# The bench needs the stack and its own tools, not the test suites.
bench: deps
	@$(MAKE) --no-print-directory -j$(NPROC) SAN=0 lib cgi tools worker fakes bench-tools openapi
	@scripts/bench.sh

# The runtime tree, laid out as the repository is so that the same
# scripts run from either (scripts/stack.sh finds bin/ beside them):
#   bin/       every responder, cb-worker, cb-admin, cb-migrate
#   share/     openapi.json (docs/openapi.yaml as JSON, served at /api/openapi.json)
#   sql/       the migrations            web/     the demo page
#   nginx/     the template and its includes, and routes.conf and
#              ops-routes.conf: the locations generated from routes.tab for $(RUNDIR)
#   ops/       the Prometheus rules and their promtool tests
#   scripts/   stack.sh, gen-nginx-routes.sh, cb; routes.tab, README.md, docs/
# and the systemd units, their /opt/context-broker paths made $(PREFIX).
# RUNDIR is the units' RuntimeDirectory, where the responders' sockets are.
PREFIX  ?= /opt/context-broker
UNITDIR ?= /etc/systemd/system
RUNDIR  := /run/context-broker
DESTDIR ?=
I := $(DESTDIR)$(PREFIX)
install: $(CGI_BIN) $(WORKER_BIN) $(TOOL_BIN) $(OPENAPI_JSON)
	@case "$(PREFIX)" in /*) ;; *) echo "PREFIX must be an absolute path"; exit 1 ;; esac
	@case "$(PREFIX)$(UNITDIR)$(RUNDIR)" in *[!A-Za-z0-9._/+-]*) \
	    echo "PREFIX, UNITDIR and RUNDIR: use [A-Za-z0-9._/+-]"; exit 1 ;; esac
	install -d -m 0755 $(I)/bin $(I)/sql $(I)/nginx $(I)/scripts $(I)/docs $(DESTDIR)$(UNITDIR)
	install -m 0755 $(CGI_BIN) $(WORKER_BIN) $(TOOL_BIN) $(I)/bin/
	install -d -m 0755 $(I)/share
	install -m 0644 $(OPENAPI_JSON) $(I)/share/
	install -m 0644 sql/*.sql $(I)/sql/
	rm -rf $(I)/web && cp -R web $(I)/web && chmod -R u=rwX,go=rX $(I)/web
	install -m 0644 nginx/nginx.conf.in nginx/fastcgi.conf nginx/problem-pages.conf \
	    nginx/security-headers.conf nginx/trace.conf nginx/trace-off.conf $(I)/nginx/
	scripts/gen-nginx-routes.sh routes.tab $(RUNDIR) > $(I)/nginx/routes.conf
	scripts/gen-nginx-routes.sh --operator routes.tab $(RUNDIR) > $(I)/nginx/ops-routes.conf
	install -d -m 0755 $(I)/ops/prometheus/tests
	install -m 0644 ops/prometheus/*.yml $(I)/ops/prometheus/
	install -m 0644 ops/prometheus/tests/*.yml $(I)/ops/prometheus/tests/
	install -m 0755 scripts/stack.sh scripts/gen-nginx-routes.sh scripts/cb scripts/call-event.sh \
		scripts/backup.sh scripts/restore.sh $(I)/scripts/
	install -d -m 0755 $(I)/scripts/stack
	install -m 0644 scripts/stack/*.sh $(I)/scripts/stack/
	install -m 0644 scripts/db-roles.sql $(I)/scripts/
	install -m 0644 routes.tab README.md $(I)/
	rm -rf $(I)/docs && cp -R docs $(I)/docs && chmod -R u=rwX,go=rX $(I)/docs
	for u in systemd/*; do \
	    sed 's|/opt/context-broker|$(PREFIX)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	@echo "installed in $(I); units in $(DESTDIR)$(UNITDIR)"

clean:
	rm -rf build build-san $(FZ)

.SECONDARY:
-include $(shell find $(B)/obj $(FZ)/obj -name '*.d' 2>/dev/null)
