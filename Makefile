# segd: the two commands a new user needs are `make run` and `make test`.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo

MAKEFLAGS += --no-print-directory

.PHONY: all deps configure build test run bench tsan clean

all: build

deps:
	@scripts/install_deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

run: configure
	@cmake --build $(BUILD) -j$(JOBS) --target segd
	@scripts/run_demo.sh $(BUILD)

# The concurrency tests under ThreadSanitizer, in a build folder of their
# own: the live database (readers, writers' queue, merges), the log's group
# commit, snapshots beside writes, and the server's counters.
TSAN_TESTS = live_concurrency_test live_database_test live_differential_test \
             durability_test wal_test api_metrics_test
tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGD_TSAN=ON >/dev/null
	@cmake --build $(BUILD)-tsan -j$(JOBS) --target $(TSAN_TESTS)
	@for t in $(TSAN_TESTS); do \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" $(BUILD)-tsan/tests/$$t || exit 1; \
	done

# The full suite on 10M profiles (SPEC §7); PROFILES=1000000 for a quick run.
PROFILES ?= 10000000
bench: configure
	@scripts/install_deps.sh bench
	@cmake --build $(BUILD) -j$(JOBS) --target segd segd_bench
	@$(BUILD)/tools/segd bench --profiles $(PROFILES)

clean:
	rm -rf $(BUILD) $(BUILD)-tsan
