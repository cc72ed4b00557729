# rt.h - build, test, run, bench, fuzz, install.
#
#   make            check rt.h is fresh; build every example, test and bench into build/
#   make test       the whole suite (tests/run.sh): amalgamation, compile matrix,
#                   unit tests plain and with ASan+UBSan, integration tests
#   make run        build and start the main demo on http://127.0.0.1:$(PORT)
#   make bench      the benchmarks in bench/ (bench/run.sh)
#   make fuzz       every fuzz target for FUZZ_SECONDS each (clang libFuzzer)
#   make install    copy rt.h to $(PREFIX)/include
#   make amalgamate regenerate rt.h from src/ (never edit rt.h by hand)

CC ?= cc
CFLAGS ?= -O2 -g
LDLIBS ?=
PREFIX ?= /usr/local
PORT ?= 8080
FUZZ_SECONDS ?= 60
BUILD := build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Tests and examples are built with these on top of CFLAGS; the stricter
# house set (-Wconversion and friends) is applied to rt.h by the compile matrix.
WARN := -std=c99 -Wall -Wextra -Wpedantic -Werror
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/%)
UNIT_ASAN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/asan/%)
ITEST_SRC := $(wildcard tests/integration/*.c)
ITEST := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itest/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%) $(BUILD)/bench/holds-slot1
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
REPLAY := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/asan/replay/%)

# examples/NN_name.c builds build/name
EXAMPLE_SRC := $(wildcard examples/[0-9][0-9]_*.c)
example_name = $(BUILD)/$(shell echo $(basename $(notdir $(1))) | sed 's/^[0-9]*_//')
EXAMPLES := $(foreach f,$(EXAMPLE_SRC),$(call example_name,$(f)))

.PHONY: all check test run bench fuzz install clean amalgamate

all: check $(EXAMPLES) $(UNIT) $(UNIT_ASAN) $(ITEST) $(BENCH) $(BUILD)/echo-epoll $(BUILD)/asan/echo \
     $(REPLAY)

check:
	@python3 amalgamate.py --check

amalgamate:
	python3 amalgamate.py

$(BUILD)/%: tests/unit/%.c rt.h tests/rt_test.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< $(LDLIBS)

$(BUILD)/asan/%: tests/unit/%.c rt.h tests/rt_test.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(SAN) -o $@ $< $(LDLIBS)

# test_loop_epoll.c and test_server_epoll.c: the same tests on the epoll backend.
$(BUILD)/test_loop_epoll $(BUILD)/asan/test_loop_epoll: tests/unit/test_loop.c
$(BUILD)/test_server_epoll $(BUILD)/asan/test_server_epoll: tests/unit/test_server.c

$(BUILD)/itest/%: tests/integration/%.c rt.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< $(LDLIBS)

$(BUILD)/bench/%: bench/%.c rt.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O2 $(WARN) -o $@ $< $(LDLIBS) -lm

# bench/holds.c again as rt.h timed holds out before RT_HOLD_SLOT_MS: a pass
# for every millisecond with a deadline.
$(BUILD)/bench/holds-slot1: bench/holds.c rt.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O2 $(WARN) -DRT_HOLD_SLOT_MS=1 -o $@ $< $(LDLIBS)

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h rt.h
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $<

# The same targets without libFuzzer: fuzz/replay.c runs each seed in
# fuzz/corpus/ once, with ASan+UBSan, for make test.
$(BUILD)/asan/replay/%: fuzz/replay.c fuzz/%.c fuzz/fuzz.h rt.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -DFUZZ_TARGET='"$*.c"' -o $@ $<

# Web pages and scripts under examples/web/ are compiled into the examples as
# string constants: examples/web/chat.html becomes chat_html in
# build/gen/chat_html.h, so the binaries need no files (no '_' in web names).
WEB_SRC := $(wildcard examples/web/*)
WEB_GEN := $(foreach f,$(WEB_SRC),$(BUILD)/gen/$(subst .,_,$(notdir $(f))).h)
$(BUILD)/gen/%.h: examples/embed.py $(WEB_SRC)
	@mkdir -p $(@D)
	python3 examples/embed.py examples/web/$(subst _,.,$*) $* > $@

define example_rule
$(call example_name,$(1)): $(1) rt.h $(WEB_GEN)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -I$(BUILD)/gen -o $$@ $$< $(LDLIBS)
endef
$(foreach f,$(EXAMPLE_SRC),$(eval $(call example_rule,$(f))))

# The echo example on the epoll backend and with ASan+UBSan, for the integration tests.
$(BUILD)/echo-epoll: examples/01_echo.c rt.h $(WEB_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -I$(BUILD)/gen -DRT_BACKEND_EPOLL -o $@ $< $(LDLIBS)

$(BUILD)/asan/echo: examples/01_echo.c rt.h $(WEB_GEN)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(SAN) -I$(BUILD)/gen -o $@ $< $(LDLIBS)

test: check
	@$(MAKE) -j$(JOBS) --no-print-directory all
	@BUILD=$(BUILD) bash tests/run.sh

# The main demo: the chat server once it exists, the echo server before that.
DEMO := $(if $(wildcard examples/*_chat.c),chat,echo)
run: check $(BUILD)/$(DEMO)
	$(BUILD)/$(DEMO) --port $(PORT)

bench: check $(BENCH) $(EXAMPLES) $(BUILD)/echo-epoll
	@BUILD=$(BUILD) bash bench/run.sh

fuzz: $(FUZZ)
	@for f in $(FUZZ); do \
	    name=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$name; \
	    echo "=== $$name for $(FUZZ_SECONDS)s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $(BUILD)/corpus/$$name fuzz/corpus/$$name || exit 1; \
	done

install: check
	install -d $(DESTDIR)$(PREFIX)/include
	install -m 644 rt.h $(DESTDIR)$(PREFIX)/include/rt.h

clean:
	rm -rf $(BUILD)
