# torchless — build, test and demo. `make help` lists the targets.
CC      ?= cc
PY      ?= .venv/bin/python
BUILD   ?= build
# OPT: optimization/debug flags; SAN: sanitizer flags (set by test-asan). Both are
# added to the fixed flags below, so overriding them never drops include paths.
OPT     ?= -O3 -g
SAN     ?=
# -Wno-psabi: kernels pass GCC vector types only between always-inlined helpers.
# -fvisibility=hidden: libtorchless.so exports only what include/torchless.h marks TL_API.
# -MMD -MP: each object depends on the headers it includes (BUILD/**/*.d).
override CFLAGS += $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-psabi -fPIC -fopenmp \
                   -fvisibility=hidden -MMD -MP -Iinclude -Isrc
# OpenBLAS built on OpenMP, so BLAS and our kernels share one thread pool (the pthread
# build's threads and OpenMP's spin against each other on few cores).
BLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS  := $(SAN) -lcjson -lutf8proc -lpcre2-8 -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -lm -lpthread -fopenmp

# Sources per target, from explicit directories: the library is these layers only, so a
# program's sources (src/cli, later src/server) never fall into it.
LIB_DIRS := core io tokenizer kernels kernels/isa runtime model tasks engine
LIB_SRC  := $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c src/server/*.c))
TEST_SRC := $(sort $(wildcard tests/c/test_*.c))

# make install: DESTDIR is prepended to every path (staged installs, packaging).
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR     ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
VERSION  := $(shell sed -n 's/^\#define TL_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' include/torchless.h | paste -sd.)

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS    := $(TEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

.PHONY: all lib cli tests setup demo test test-c test-asan test-tsan test-isa test-py test-layers test-fuzz fuzz install clean help
all: lib cli tests

help:
	@echo "make demo       install deps, build, embed a few sentences with all-MiniLM-L6-v2"
	@echo "make test       install deps, build, run C tests (plain + ASan/UBSan) and pytest parity suite"
	@echo "make            build libtorchless.so, libtorchless.a, the torchless CLI and C tests"
	@echo "make test-c     run the C unit tests only;  make test-asan: same under ASan+UBSan"
	@echo "make test-tsan  run forwards on 4 contexts from 4 threads under ThreadSanitizer"
	@echo "make test-isa   run kernel + BERT parity tests on the generic and AVX2 code paths"
	@echo "make test-py    run the pytest suite only (needs make setup)"
	@echo "make test-layers check include direction and call loops (scripts/check_layers.py)"
	@echo "make test-fuzz  run every libFuzzer target (tests/fuzz) for FUZZ_SECONDS (60) each, two at a time"
	@echo "make install    install lib, header, CLI and torchless.pc under DESTDIR/PREFIX (/usr/local)"

lib: $(BUILD)/libtorchless.so $(BUILD)/libtorchless.a
cli: $(BUILD)/torchless
tests: $(TESTS) $(BUILD)/tests/example_embed

$(BUILD)/%.o: %.c
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
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libtorchless.a $(LDLIBS) -lmicrohttpd -lz

$(BUILD)/tests/%: tests/c/%.c $(BUILD)/libtorchless.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MT $@ -MF $@.d -Itests/c $< -o $@ $(BUILD)/libtorchless.a $(LDLIBS)

# docs/c-api.md's example, built exactly as a user would (public header only).
$(BUILD)/tests/example_embed: docs/examples/embed.c include/torchless.h $(BUILD)/libtorchless.a
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
	        build-tsan/tests/test_contexts build-tsan/tests/test_engine build-tsan/tests/test_engine_gen
	TL_TEST_CTX_THREADS=1 TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/c/tsan.supp" \
	        build-tsan/tests/test_contexts
	TL_TEST_CTX_THREADS=1 TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/c/tsan.supp" \
	        build-tsan/tests/test_engine
	TL_TEST_CTX_THREADS=1 TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/c/tsan.supp" \
	        build-tsan/tests/test_engine_gen

# The kernel tests and the BERT parity tests on each vector-ISA path below the machine's
# best, forced at run time with TORCHLESS_ISA (src/kernels/vec.h); the best path is what
# every other test runs.
# The reduced-precision classes (avx2-vnni ... amx) also run test_quant; a class this CPU
# lacks is skipped. tests/python/test_precision_isa.py forces every class for bf16 / int8.
ISA_PATHS ?= generic avx2
LOWP_PATHS ?= avx2-vnni avx512-vnni avx512-bf16 amx
test-isa: tests
	@for isa in $(ISA_PATHS); do \
	    echo "== TORCHLESS_ISA=$$isa"; \
	    TORCHLESS_ISA=$$isa $(BUILD)/tests/test_kernels || exit 1; \
	    TORCHLESS_ISA=$$isa $(PY) -m pytest -q tests/python/test_bert_parity.py || exit 1; \
	done
	@for isa in $(LOWP_PATHS); do \
	    if TORCHLESS_ISA=$$isa TL_TEST_ISA_PROBE=1 $(BUILD)/tests/test_kernels >/dev/null 2>&1; then \
	        echo "== TORCHLESS_ISA=$$isa"; \
	        TORCHLESS_ISA=$$isa $(BUILD)/tests/test_quant || exit 1; \
	    else echo "== TORCHLESS_ISA=$$isa: not on this CPU, skipped"; fi; \
	done
	$(PY) -m pytest -q tests/python/test_precision_isa.py

test-py: all
	$(PY) -m pytest -q tests/python

# Includes flow one way between the layers; no two source files call each other in a loop.
test-layers: lib
	python3 scripts/check_layers.py --build $(BUILD)

# libFuzzer targets (tests/fuzz/fuzz_*.c, docs/ROBUSTNESS.md): the library and the server
# rebuilt with clang, coverage instrumentation and ASan+UBSan into FUZZ_BUILD. Without
# -fopenmp (clang's libomp is not installed): parallel regions run on one thread;
# tests/fuzz/omp/omp.h declares the omp_* calls, libgomp defines them.
FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-psabi \
                -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                -Iinclude -Isrc -Itests/fuzz/omp
FUZZ_SRC     := $(LIB_SRC) $(sort $(wildcard src/server/*.c))
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,$(FUZZ_BUILD)/fuzz_%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

fuzz: $(FUZZ_TARGETS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(ISA_FLAGS) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/obj/src/kernels/isa/avx2.o: ISA_FLAGS := -march=haswell
$(FUZZ_BUILD)/obj/src/kernels/isa/avx512.o: ISA_FLAGS := -march=skylake-avx512 -mprefer-vector-width=512

$(FUZZ_BUILD)/libfuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_BUILD)/libfuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< -o $@ $(FUZZ_BUILD)/libfuzz.a \
	    $(filter-out -fopenmp,$(LDLIBS)) -lmicrohttpd -lgomp

# Every fuzz target for FUZZ_SECONDS, two at a time; fails on any crash, leak or timeout.
test-fuzz:
	PY="$(PY)" bash tests/fuzz/run_all.sh $(FUZZ_SECONDS)

demo: setup all
	bash scripts/demo.sh

test: setup all
	$(MAKE) test-c
	$(MAKE) test-asan
	$(MAKE) test-tsan
	$(MAKE) test-isa
	$(MAKE) test-py
	$(MAKE) test-layers
	$(MAKE) test-fuzz

# pkg-config file: Libs for the shared library, Libs.private the static one's dependencies.
$(BUILD)/torchless.pc: Makefile include/torchless.h
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	    'Name: torchless' 'Description: Hugging Face Transformers encoders from C, no PyTorch' \
	    'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -ltorchless' \
	    'Libs.private: $(filter-out $(SAN),$(LDLIBS))' > $@

install: lib cli $(BUILD)/torchless.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(BUILD)/libtorchless.a $(DESTDIR)$(LIBDIR)/libtorchless.a
	install -m 755 $(BUILD)/libtorchless.so $(DESTDIR)$(LIBDIR)/libtorchless.so
	install -m 644 include/torchless.h $(DESTDIR)$(INCLUDEDIR)/torchless.h
	install -m 755 $(BUILD)/torchless $(DESTDIR)$(BINDIR)/torchless
	install -m 644 $(BUILD)/torchless.pc $(DESTDIR)$(PKGCONFIGDIR)/torchless.pc

clean:
	rm -rf build build-asan build-tsan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(FUZZ_OBJ:.o=.d)
