# sockit: thin wrapper over CMake. See README.md.
#   make run      build and start `sockit serve` on the embedded defaults
#   make check    unit + system tests, again under ASan/UBSan, the unit and
#                 NTP tests under TSan, then fuzzing
#   make bench    benchmarks against peers (xinetd, chronyd, ncat, ssh, ngircd, Redis)
#   make install  PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= 2
PYTHON ?= /usr/bin/python3
FUZZ_SECONDS ?= 20
GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
FUZZERS := timefmt addr banner line rfc868 ntp frame exec_client chat rmsg ini

.PHONY: all deps build run check unit system asan tsan fuzz banned bench install clean

all: build

deps:
	@scripts/deps

build:
	@test -f build/CMakeCache.txt || cmake -S . -B build $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j$(JOBS)

run: deps build
	./build/sockit serve

check: deps banned
	$(MAKE) --no-print-directory unit system B=build
	@test -f build-asan/CMakeCache.txt || CC=clang cmake -S . -B build-asan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DSK_SANITIZE=ON
	cmake --build build-asan -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(MAKE) --no-print-directory unit system B=build-asan
	$(MAKE) --no-print-directory tsan
	$(MAKE) --no-print-directory fuzz
	@echo "make check: all passed"

B ?= build
unit:
	@test "$(B)" != build || $(MAKE) --no-print-directory build
	cd $(B) && ctest --output-on-failure -j$(JOBS)

# The Debian package is built from the source, whatever B is: its test
# (test_deb.py) runs with the default build only.
system:
	SOCKIT_BIN=$(CURDIR)/$(B)/sockit SOCKIT_PACKAGE_TEST=$(if $(filter build,$(B)),1,0) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/system

# ThreadSanitizer over what runs threads: the unit tests (test_batch and
# test_log start threads) and the NTP system tests (its worker threads).
tsan:
	@test -f build-tsan/CMakeCache.txt || CC=clang cmake -S . -B build-tsan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DSK_TSAN=ON
	cmake --build build-tsan -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1 $(MAKE) --no-print-directory unit B=build-tsan
	TSAN_OPTIONS=halt_on_error=1 SOCKIT_BIN=$(CURDIR)/build-tsan/sockit \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/system/test_ntp.py

fuzz:
	@test -f build-fuzz/CMakeCache.txt || CC=clang cmake -S . -B build-fuzz $(GEN) -DSK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j$(JOBS)
	@set -e; for f in $(FUZZERS); do \
		rm -rf build-fuzz/corpus-$$f && mkdir -p build-fuzz/corpus-$$f && \
		cp tests/fuzz/corpus/$$f/* build-fuzz/corpus-$$f/ && \
		echo "fuzz_$$f: $(FUZZ_SECONDS) s" && \
		build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build-fuzz/ build-fuzz/corpus-$$f 2>build-fuzz/fuzz_$$f.log \
			|| { tail -40 build-fuzz/fuzz_$$f.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' build-fuzz/fuzz_$$f.log; \
	done

# Functions the house style bans (STYLE.md 14).
banned:
	@! grep -nE '(^|[^_a-z])(sprintf|strcpy|strcat|gets|strtok|atoi)[[:space:]]*\(' -r src tests/unit tests/fuzz \
		|| { echo "banned function used"; exit 1; }

bench: deps build
	bench/run

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan build-fuzz
