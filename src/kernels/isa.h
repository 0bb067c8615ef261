/* isa.h — how ISA-specific kernel variants are built and chosen.
 *
 * TL_ISA_CLONES before a kernel function compiles it three times (AVX-512, AVX2+FMA,
 * baseline x86-64) and lets the loader pick the best one the CPU supports (GCC
 * target_clones, resolved once per process from CPUID). Building with -DTL_NO_CLONES
 * compiles only the variant the compiler's -march selects: `make test-isa` uses that to
 * run the kernel tests on the baseline and AVX2 paths of a machine that has AVX-512. */
#ifndef TL_KERNELS_ISA_H
#define TL_KERNELS_ISA_H

#if defined(TL_NO_CLONES) || !defined(__x86_64__)
#define TL_ISA_CLONES
#else
#define TL_ISA_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#endif

#endif
