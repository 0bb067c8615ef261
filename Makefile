# torchless — build, test and demo. `make help` lists the targets.
CC      ?= cc
PY      ?= .venv/bin/python
BUILD   ?= build
# OPT: optimization/debug flags; SAN: sanitizer flags (set by test-asan). Both are
# added to the fixed flags below, so overriding them never drops include paths.
OPT     ?= -O3 -g
SAN     ?=
# -Wno-psabi: kernels pass GCC vector types only between always-inlined helpers.
override CFLAGS += $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-psabi -fPIC -fopenmp -Iinclude -Isrc
# OpenBLAS built on OpenMP, so BLAS and our kernels share one thread pool (the pthread
# build's threads and OpenMP's spin against each other on few cores).
BLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS  := $(SAN) -lcjson -lutf8proc -lpcre2-8 -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -lm -lpthread -fopenmp

LIB_SRC  := $(shell find src -name '*.c' -not -path 'src/cli/*' -not -path 'src/server/*' | sort)
# the program: the CLI and the HTTP server (src/server is not part of libtorchless)
CLI_SRC  := $(sort $(wildcard src/cli/*.c) $(wildcard src/server/*.c))
TEST_SRC := $(sort $(wildcard tests/c/test_*.c))
HDRS     := $(shell find include src -name '*.h')

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

.PHONY: all lib cli tests setup demo test test-c test-asan test-tsan test-isa test-py clean help
all: lib cli tests

help:
	@echo "make demo       install deps, build, embed a few sentences with all-MiniLM-L6-v2"
	@echo "make test       install deps, build, run C tests (plain + ASan/UBSan) and pytest parity suite"
	@echo "make            build libtorchless.so, libtorchless.a, the torchless CLI and C tests"
	@echo "make test-c     run the C unit tests only;  make test-asan: same under ASan+UBSan"
	@echo "make test-tsan  run forwards on 4 contexts from 4 threads under ThreadSanitizer"
	@echo "make test-isa   run kernel + BERT parity tests on the generic and AVX2 code paths"
	@echo "make test-py    run the pytest suite only (needs make setup)"

lib: $(BUILD)/libtorchless.so $(BUILD)/libtorchless.a
cli: $(BUILD)/torchless
tests: $(TESTS) $(BUILD)/tests/example_embed

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ISA_FLAGS) -c $< -o $@

# The vector-ISA variants of src/kernels/vec_body.h (chosen at run time, src/kernels/vec.c).
$(BUILD)/src/kernels/isa/avx2.o: ISA_FLAGS := -march=haswell
$(BUILD)/src/kernels/isa/avx512.o: ISA_FLAGS := -march=skylake-avx512 -mprefer-vector-width=512

$(BUILD)/libtorchless.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtorchless.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/torchless: $(CLI_OBJ) $(BUILD)/libtorchless.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libtorchless.a $(LDLIBS) -lmicrohttpd

$(BUILD)/tests/%: tests/c/%.c tests/c/tl_test.h $(BUILD)/libtorchless.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/c $< -o $@ $(BUILD)/libtorchless.a $(LDLIBS)

# docs/c-api.md's example, built exactly as a user would (public header only).
$(BUILD)/tests/example_embed: docs/examples/embed.c $(BUILD)/libtorchless.a
	@mkdir -p $(dir $@)
	$(CC) $(OPT) $(SAN) -std=c11 -Wall -Wextra -Iinclude $< -o $@ $(BUILD)/libtorchless.a $(LDLIBS)

setup:
	bash scripts/setup.sh

test-c: $(TESTS)
	bash tests/c/run.sh $(BUILD)

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	        SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" tests
	ASAN_OPTIONS=detect_leaks=1 bash tests/c/run.sh build-asan

# Forwards on several contexts of one model at once, under ThreadSanitizer. One thread per
# context: libgomp is not instrumented, so TSan cannot see its team's synchronization.
test-tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=thread" \
	        build-tsan/tests/test_contexts build-tsan/tests/test_engine
	TL_TEST_CTX_THREADS=1 TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/c/tsan.supp" \
	        build-tsan/tests/test_contexts
	TL_TEST_CTX_THREADS=1 TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/c/tsan.supp" \
	        build-tsan/tests/test_engine

# The kernel tests and the BERT parity tests on each vector-ISA path below the machine's
# best, forced at run time with TORCHLESS_ISA (src/kernels/vec.h); the best path is what
# every other test runs.
ISA_PATHS ?= generic avx2
test-isa: tests
	@for isa in $(ISA_PATHS); do \
	    echo "== TORCHLESS_ISA=$$isa"; \
	    TORCHLESS_ISA=$$isa $(BUILD)/tests/test_kernels || exit 1; \
	    TORCHLESS_ISA=$$isa $(PY) -m pytest -q tests/python/test_bert_parity.py || exit 1; \
	done

test-py: all
	$(PY) -m pytest -q tests/python

demo: setup all
	bash scripts/demo.sh

test: setup all
	$(MAKE) test-c
	$(MAKE) test-asan
	$(MAKE) test-tsan
	$(MAKE) test-isa
	$(MAKE) test-py

clean:
	rm -rf build build-asan build-tsan
