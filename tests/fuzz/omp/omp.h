/* omp.h for the fuzz build (Makefile: fuzz): the OpenMP calls the sources make, declared as
 * libgomp defines them. The fuzz build compiles without -fopenmp (clang's OpenMP runtime is
 * not installed), so every parallel region runs on one thread; libgomp still answers. */
#ifndef TL_FUZZ_OMP_H
#define TL_FUZZ_OMP_H
typedef enum omp_proc_bind_t { omp_proc_bind_false = 0, omp_proc_bind_true = 1 } omp_proc_bind_t;
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_in_parallel(void);
void omp_set_num_threads(int n);
omp_proc_bind_t omp_get_proc_bind(void);
#endif
