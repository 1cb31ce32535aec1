# Makefile - build, run and test the messenger (GNU make).
#
#   make            build/bin/{auth,chats,messages,files,wsd,mailer,msgrctl} and build/lib/libmsgr.a
#   make asan       the same with AddressSanitizer and UBSan, into build-asan/
#   make unit       tests/unit/test_*.c against the sanitizer build
#   make fuzz       tests/fuzz/fuzz_*.c with libFuzzer (FUZZ_SECONDS each)
#   make run        the whole stack in the foreground (PORT=8080 VAR=./var)
#   make start|stop the stack in the background
#   make admin      USERNAME=name: makes name an administrator of the local stack (VAR=)
#   make backup     a consistent backup of VAR (BACKUP_DIR, default VAR/backups/<time>)
#   make restore    FROM=<backup dir or .tar> into VAR (FORCE=1 over an existing one)
#   make test       everything a change must pass (what .ci/run calls)
#   make bench      the benchmarks on a private stack; writes docs/BENCHMARKS.md
#   make install    binaries, www, schema, systemd units into PREFIX (DESTDIR=)
#
# Sources are found by wildcard: a new shared/*.c, fcgi/NAME/*.c or wsd/*.c
# is built without touching this file, and a new directory fcgi/NAME becomes
# the program build/bin/NAME.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PORT ?= 8080
VAR ?= $(CURDIR)/var
PYTHON ?= /usr/bin/python3
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
NPROC := $(shell nproc 2>/dev/null || echo 2)

# pkg-config and pg_config run once and only when a compile needs them:
# `make deps` may be what installs them.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags json-c libwebsockets 2>/dev/null))$(PKG_CFLAGS)
PG_INCDIR = $(eval PG_INCDIR := $$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql))$(PG_INCDIR)

WARN := -Wall -Wextra -Werror
BASE_CFLAGS = -std=gnu11 $(WARN) -g -MMD -MP -I shared -I$(PG_INCDIR) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LIBS := -lfcgi -lpq -ljson-c -ljwt -lscrypt -lmagic -lcrypto -lcurl -lz
WSD_LIBS := -lwebsockets
MAILER_LIBS :=

# The three build trees and how each compiles and links.
build_CC = $(CC)
build_CFLAGS = $(BASE_CFLAGS) -O2
build_LDFLAGS =
build-asan_CC = $(CC)
build-asan_CFLAGS = $(BASE_CFLAGS) -O1 $(SAN)
build-asan_LDFLAGS = $(SAN)
build-fuzz_CC = $(FUZZ_CC)
build-fuzz_CFLAGS = $(BASE_CFLAGS) -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined -DMSGR_FUZZING
build-fuzz_LDFLAGS = -fsanitize=fuzzer,address,undefined

# Tests may #include the .c under test to reach its static functions (wsd's
# too: they link with libwebsockets).
TEST_CFLAGS := -Wno-unused-function -I tests/unit

SHARED_SRC := $(sort $(wildcard shared/*.c))
FCGI_PROGS := $(sort $(foreach d,$(wildcard fcgi/*/),$(if $(wildcard $(d)*.c),$(notdir $(patsubst %/,%,$(d))))))
WSD_SRC := $(sort $(wildcard wsd/*.c))
MAILER_SRC := $(sort $(wildcard mailer/*.c))
MSGRCTL_SRC := $(sort $(wildcard msgrctl/*.c))
PROGS := $(FCGI_PROGS) $(if $(WSD_SRC),wsd) $(if $(MAILER_SRC),mailer) $(if $(MSGRCTL_SRC),msgrctl)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_NAMES := $(patsubst tests/unit/%.c,%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))

prog_src = $(if $(filter wsd,$(1)),$(WSD_SRC),$(if $(filter mailer,$(1)),$(MAILER_SRC),$(if $(filter msgrctl,$(1)),$(MSGRCTL_SRC),$(sort $(wildcard fcgi/$(1)/*.c)))))
prog_libs = $(LIBS)$(if $(filter wsd,$(1)), $(WSD_LIBS))$(if $(filter mailer,$(1)), $(MAILER_LIBS))
objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

# A file holding the list of a link's inputs, rewritten only when the list
# changes, so that removing a source file relinks what contained it.
# $(call list_stamp,STAMP,WORDS)
define list_stamp
$(1): FORCE
	@mkdir -p $$(@D); l='$(2)'; [ -f $$@ ] && [ "$$$$(cat $$@)" = "$$$$l" ] || printf '%s\n' "$$$$l" > $$@
endef

# $(call tree,DIR): compile rules, the library and the programs of one tree.
define tree
$(1)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_CFLAGS) $$(if $$(filter tests/%,$$<),$$(TEST_CFLAGS)) -c $$< -o $$@

$(eval $(call list_stamp,$(1)/lib/libmsgr.list,$(SHARED_SRC)))
$(1)/lib/libmsgr.a: $(call objs,$(1),$(SHARED_SRC)) $(1)/lib/libmsgr.list
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$(filter %.o,$$^)

$(foreach p,$(PROGS),$(eval $(call prog,$(1),$(p))))

-include $(patsubst %.o,%.d,$(call objs,$(1),$(SHARED_SRC) $(foreach p,$(PROGS),$(call prog_src,$(p))) $(UNIT_SRC) $(FUZZ_SRC)))
endef

# $(call prog,DIR,NAME)
define prog
$(eval $(call list_stamp,$(1)/obj/$(2).list,$(call prog_src,$(2))))
$(1)/bin/$(2): $(call objs,$(1),$(call prog_src,$(2))) $(1)/lib/libmsgr.a $(1)/obj/$(2).list
	@mkdir -p $$(@D)
	$$($(1)_CC) $$($(1)_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(1)/lib/libmsgr.a $(call prog_libs,$(2))
endef

$(foreach t,build build-asan build-fuzz,$(eval $(call tree,$(t))))

.PHONY: all asan unit unit-build fuzz fuzz-build fuzz-smoke deps run start stop status admin \
	test bench clean nginx-snippets backup restore FORCE
FORCE:

all: build/lib/libmsgr.a $(addprefix build/bin/,$(PROGS))

asan: build-asan/lib/libmsgr.a $(addprefix build-asan/bin/,$(PROGS))

# ---- unit tests -------------------------------------------------------------

UNIT_BINS := $(addprefix build-asan/tests/,$(UNIT_NAMES))
$(UNIT_BINS): build-asan/tests/%: build-asan/obj/tests/unit/%.o build-asan/lib/libmsgr.a
	@mkdir -p $(@D)
	$(CC) $(build-asan_LDFLAGS) -o $@ $< build-asan/lib/libmsgr.a $(LIBS) $(WSD_LIBS)

unit-build: $(UNIT_BINS)

unit: unit-build
	@fail=0; for t in $(UNIT_BINS); do \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
			$$t || { echo "unit $${t##*/}: FAILED (exit $$?)"; fail=1; }; \
	done; exit $$fail

# ---- fuzzing ----------------------------------------------------------------
# Each tests/fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput. Its seed corpus
# is tests/fuzz/corpus/fuzz_NAME/ (or corpus/NAME/); new inputs go to
# build-fuzz/corpus/, crashes to tests/fuzz/crash-*.

FUZZ_BINS := $(addprefix build-fuzz/,$(FUZZ_NAMES))
$(FUZZ_BINS): build-fuzz/%: build-fuzz/obj/tests/fuzz/%.o build-fuzz/lib/libmsgr.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(build-fuzz_LDFLAGS) -o $@ $< build-fuzz/lib/libmsgr.a $(LIBS) $(WSD_LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@fail=0; for f in $(FUZZ_BINS); do \
		n=$${f##*/}; seeds=tests/fuzz/corpus/$$n; \
		[ -d $$seeds ] || seeds=tests/fuzz/corpus/$${n#fuzz_}; \
		[ -d $$seeds ] || seeds=; \
		dict=tests/fuzz/$$n.dict; [ -f $$dict ] && dict=-dict=$$dict || dict=; \
		mkdir -p build-fuzz/corpus/$$n; \
		echo "fuzz $$n: $(FUZZ_SECONDS) s (log build-fuzz/$$n.log)"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/ $$dict build-fuzz/corpus/$$n $$seeds \
			> build-fuzz/$$n.log 2>&1; then \
			tail -n 60 build-fuzz/$$n.log; echo "fuzz $$n: FAILED"; fail=1; \
		else awk -v n=$$n '/^stat::number_of_executed_units/ {r=$$2} /^stat::new_units_added/ {u=$$2} \
			END {printf "fuzz %s: %s runs, %s new inputs, no crash\n", n, r, u}' build-fuzz/$$n.log; fi; \
	done; exit $$fail

fuzz-smoke:
	@$(MAKE) fuzz FUZZ_SECONDS=5

# ---- dependencies, the local stack ------------------------------------------

deps:
	@scripts/deps.sh

STACK = VAR='$(VAR)' PORT='$(PORT)' scripts/stack.sh

run: deps
	@$(MAKE) -j$(NPROC) all
	@$(STACK) run

start:
	@$(STACK) start

stop:
	@$(STACK) stop

status:
	@$(STACK) status

# The first administrator of the local stack (API.md "Administration"):
# msgrctl as the stack's programs run, against its database (README
# "Administration").
admin:
	@$(if $(USERNAME),,echo 'make admin USERNAME=<name> [VAR=...]' >&2; exit 2;) \
		$(STACK) msgrctl admin grant "$$USERNAME"

# Backups (scripts/backup.sh, scripts/restore.sh; README "Backups").
backup:
	@VAR='$(VAR)' $(if $(BACKUP_DIR),BACKUP_DIR='$(BACKUP_DIR)') scripts/backup.sh

restore:
	@$(if $(FROM),,echo 'make restore FROM=<backup directory or .tar> [VAR=...] [FORCE=1]' >&2; exit 2;) \
		VAR='$(VAR)' FORCE='$(FORCE)' scripts/restore.sh '$(FROM)'

# The nginx snippets for an existing nginx: include messenger-upstreams.conf
# in http{} and messenger-locations.conf in server{} (README "Behind your
# own nginx"). URL_PREFIX=/chat mounts the app at /chat/ (not PREFIX: that
# is where `make install` puts things); DEST/messenger-server-headers.conf,
# created once, takes the server's add_header lines.
RUN_DIR ?= $(VAR)/run
WWW_DIR ?= $(CURDIR)/www
STORAGE_DIR ?= $(VAR)/files
DEST ?= $(CURDIR)/build/nginx
URL_PREFIX ?=
nginx-snippets:
	@RUN_DIR='$(RUN_DIR)' WWW_DIR='$(WWW_DIR)' STORAGE_DIR='$(STORAGE_DIR)' \
		URL_PREFIX='$(URL_PREFIX)' scripts/render-nginx.sh --snippets '$(DEST)'

# ---- installing as a service ------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc] [NGINX_GROUP=www-data]
# lays out (README "Installing as a service"):
#   LIBEXECDIR   the programs (build/bin: the plain -O2 build)
#   BINDIR       msgrctl, a link to LIBEXECDIR's, for the sysadmin's PATH
#   DATADIR      www/, schema/, scripts/migrate.sh and render-nginx.sh, the
#                nginx templates (nginx/), README.md
#   UNITDIR      the systemd units of deploy/systemd, their paths written in
#   SYSCONFDIR/messenger/messenger.env.example
# DESTDIR only prefixes where files are written (packaging, tests): the
# units name the paths without it. www/ and schema/ are replaced whole, so
# a file removed from the source does not linger.
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
LIBEXECDIR ?= $(PREFIX)/lib/messenger
DATADIR ?= $(PREFIX)/share/messenger
UNITDIR ?= $(PREFIX)/lib/systemd/system
BINDIR ?= $(PREFIX)/bin
NGINX_GROUP ?= www-data

.PHONY: install
install: all
	@set -euo pipefail; \
	for v in 'PREFIX=$(PREFIX)' 'SYSCONFDIR=$(SYSCONFDIR)' 'LIBEXECDIR=$(LIBEXECDIR)' \
		'DATADIR=$(DATADIR)' 'UNITDIR=$(UNITDIR)' 'BINDIR=$(BINDIR)'; do \
		[[ $${v#*=} =~ ^/[A-Za-z0-9/._+-]*[A-Za-z0-9._+-]$$ ]] || \
			{ echo "install: $${v%%=*} '$${v#*=}' must be an absolute path of plain characters" >&2; exit 2; }; \
	done; \
	[[ '$(NGINX_GROUP)' =~ ^[a-z_][a-z0-9_-]*$$ ]] || \
		{ echo "install: NGINX_GROUP '$(NGINX_GROUP)' is not a group name" >&2; exit 2; }; \
	d='$(DESTDIR)'; d=$${d%/}; \
	install -d -m 0755 "$$d$(LIBEXECDIR)" "$$d$(DATADIR)/scripts" "$$d$(DATADIR)/nginx" \
		"$$d$(UNITDIR)" "$$d$(SYSCONFDIR)/messenger" "$$d$(BINDIR)"; \
	install -m 0755 $(addprefix build/bin/,$(PROGS)) "$$d$(LIBEXECDIR)/"; \
	ln -sfn '$(LIBEXECDIR)/msgrctl' "$$d$(BINDIR)/msgrctl"; \
	install -m 0755 scripts/migrate.sh scripts/render-nginx.sh "$$d$(DATADIR)/scripts/"; \
	install -m 0644 nginx/*.conf "$$d$(DATADIR)/nginx/"; \
	install -m 0644 README.md "$$d$(DATADIR)/"; \
	for t in www schema; do \
		rm -rf "$$d$(DATADIR)/$$t.new"; \
		cp -R "$$t" "$$d$(DATADIR)/$$t.new"; \
		chmod -R u=rwX,go=rX "$$d$(DATADIR)/$$t.new"; \
		rm -rf "$$d$(DATADIR)/$$t"; \
		mv "$$d$(DATADIR)/$$t.new" "$$d$(DATADIR)/$$t"; \
	done; \
	for u in deploy/systemd/*; do \
		sed -e 's|@BIN@|$(LIBEXECDIR)|g' -e 's|@SHARE@|$(DATADIR)|g' \
			-e 's|@SYSCONF@|$(SYSCONFDIR)|g' -e 's|@GROUP@|$(NGINX_GROUP)|g' "$$u" \
			> "$$d$(UNITDIR)/$${u##*/}.tmp"; \
		if grep -n '@[A-Z]*@' "$$d$(UNITDIR)/$${u##*/}.tmp" >&2; then \
			rm -f "$$d$(UNITDIR)/$${u##*/}.tmp"; \
			echo "install: $$u has a placeholder this target does not know" >&2; exit 2; \
		fi; \
		chmod 0644 "$$d$(UNITDIR)/$${u##*/}.tmp"; \
		mv -f "$$d$(UNITDIR)/$${u##*/}.tmp" "$$d$(UNITDIR)/$${u##*/}"; \
	done; \
	install -m 0644 deploy/messenger.env.example "$$d$(SYSCONFDIR)/messenger/messenger.env.example"; \
	echo "install: the programs in $$d$(LIBEXECDIR), the rest in $$d$(DATADIR)," \
		"the units in $$d$(UNITDIR); next: README \"Installing as a service\"" >&2

# ---- everything -------------------------------------------------------------
# The integration tests start their own stack (tests/conftest.py) from
# build-asan/bin on a free port and a temporary state directory.

test: deps
	@$(MAKE) -j$(NPROC) all asan unit-build $(if $(FUZZ_SRC),fuzz-build)
	@$(MAKE) unit
	@$(if $(FUZZ_SRC),$(MAKE) fuzz-smoke,true)
	@# A directory of its own: pytest prunes the older pytest-of-USER/pytest-N
	@# directories, those of a run still going beside this one included.
	@# Then the files suites (uploads, downloads, avatars, quota, deletes, two
	@# hosts on one store) once more with the files in an object store
	@# (S3_SUITES, tests/helpers.py S3Server).
	@d=$$(mktemp -d "$${TMPDIR:-/tmp}/msgr-test.XXXXXX"); \
	echo "$(PYTHON) -m pytest -q --basetemp=$$d tests/"; \
	$(PYTHON) -m pytest -q --basetemp="$$d" tests/; rc=$$?; \
	if [ $$rc -eq 0 ]; then \
		echo "MSGR_TEST_STORAGE=s3 $(PYTHON) -m pytest -q --basetemp=$$d/s3 $(S3_SUITES)"; \
		MSGR_TEST_STORAGE=s3 $(PYTHON) -m pytest -q --basetemp="$$d/s3" $(S3_SUITES); rc=$$?; \
	fi; \
	if [ $$rc -eq 0 ]; then rm -rf "$$d"; else echo "test files kept in $$d"; fi; exit $$rc

# Every suite that stores, serves or removes files (tests/helpers.py
# Stack.stored_keys/stored_bytes/is_stored ask the directory or the store).
S3_SUITES := $(addprefix tests/integration/test_,$(addsuffix .py,files quota upload_crash \
	two_hosts conversations admin account_delete chat_lifecycle nginx_prefix dump_restore backup export))

# ---- benchmarks (not tests: nothing here is asserted) -----------------------
# bench/run.py starts its own stack from build/bin with durability on, runs
# every scenario for a bounded time, stops everything and rewrites the
# figures in docs/BENCHMARKS.md (settings: BENCH_* in bench/run.py).

build/bench/wsload: bench/wsload.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -O2 -g -o $@ $< -lcrypto -lm

bench: deps
	@$(MAKE) -j$(NPROC) all build/bench/wsload
	$(PYTHON) bench/run.py

clean:
	rm -rf build build-asan build-fuzz
