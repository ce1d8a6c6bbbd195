# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
DATA ?= ./data
LISTEN ?= 127.0.0.1:8080
JOBS ?= $(shell nproc)
# ccache hits across checkouts (a CI clone, a worktree) need relative paths.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
export CCACHE_MAXSIZE ?= 20G

.PHONY: all deps compat-deps configure build run test test-sanitize lint bench clean

all: build

deps:
	@bash scripts/install-deps.sh

# npm packages of the vendors' real clients, for tests/compat.
compat-deps:
	@bash scripts/install-compat.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/upgate serve --listen $(LISTEN) --data $(DATA)

# A test that hangs fails after TEST_TIMEOUT seconds with its output, rather than
# holding CI until its own limit (the longest test takes ~90 s under ASan; the
# suites that need longer set their own TIMEOUT).
TEST_TIMEOUT ?= 600

test: build compat-deps
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout $(TEST_TIMEOUT) -j $(JOBS)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (g++ 12 handles the coroutine code; any report fails the run).
ASAN_DIR ?= build-asan
# -O0 and line tables only: src/http/server.cc with both sanitizers took 462 s of
# CPU at -O1 -g1 and 192 s at -O0 -g1; reports still name file and line.
ASAN_OPT ?= -O0 -g1 -DNDEBUG
# Not the integration suites' PostgreSQL + S3 variants (label pg_variants, about 2 min
# at -j2 in `make test`): the same server code as their SQLite runs, and CI time
# (docs/quality.md). The PostgreSQL store's own tests and the outage test do run.
# Nor the three-process scale-out test (label scale_out): the same code again.
# The suites that only drive the server binary (tests/integration, tests/cli) are
# $(BUILD_DIR)'s binaries, run against the ASan upgate (UP_TEST_BIN_DIR in
# tests/CMakeLists.txt): their own code under ASan added CPU time, not coverage.
test-sanitize: build compat-deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUP_SANITIZE=ON \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$(ASAN_OPT)" "-DUP_TEST_BIN_DIR=$(abspath $(BUILD_DIR))"
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure --timeout $(TEST_TIMEOUT) -j $(JOBS) -LE 'pg_variants|scale_out'

# libFuzzer targets (clang, own build dir build-fuzz), each run FUZZ_SECONDS from
# a scratch copy of its seed corpus; any crash fails. See docs/fuzzing.md.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

# clang-format-14 and clang-tidy-14 over the sources (.clang-format, .clang-tidy);
# any finding fails. Units clean in an earlier run with the same inputs are
# skipped (LINT_NO_CACHE=1 runs them all). See docs/quality.md.
lint: configure
	JOBS=$(JOBS) bash scripts/lint.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
