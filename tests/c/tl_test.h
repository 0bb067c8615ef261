/* tl_test.h — a minimal C test harness: TL_TEST(name) functions, CHECK macros, and a
 * main() that runs the registered tests and prints "N passed, N failed". */
#ifndef TL_TEST_H
#define TL_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*tl_test_fn)(void);
static struct { const char *name; tl_test_fn fn; } tl_tests_[256];
static int tl_ntests_, tl_test_failed_now_, tl_test_checks_;

#define TL_TEST(tname)                                                      \
    static void tname(void);                                                \
    __attribute__((constructor)) static void tl_register_##tname(void) {    \
        tl_tests_[tl_ntests_].name = #tname;                                \
        tl_tests_[tl_ntests_++].fn = tname;                                 \
    }                                                                       \
    static void tname(void)

/* Records a failure (with file:line and the expression) without stopping the test. */
#define CHECK(cond)                                                                     \
    do {                                                                                \
        tl_test_checks_++;                                                              \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
            tl_test_failed_now_ = 1;                                                    \
        }                                                                               \
    } while (0)

/* Checks a status is TL_OK, printing tl_last_error() otherwise. */
#define CHECK_OK(expr)                                                                  \
    do {                                                                                \
        tl_status s_ = (expr);                                                          \
        tl_test_checks_++;                                                              \
        if (s_ != TL_OK) {                                                              \
            fprintf(stderr, "  %s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr,       \
                    tl_status_name(s_), tl_last_error());                               \
            tl_test_failed_now_ = 1;                                                    \
        }                                                                               \
    } while (0)

/* Checks |a - b| <= tol. */
#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double a_ = (a), b_ = (b);                                                      \
        tl_test_checks_++;                                                              \
        if (!(fabs(a_ - b_) <= (tol))) {                                                \
            fprintf(stderr, "  %s:%d: %s = %g, %s = %g, tol %g\n", __FILE__, __LINE__, \
                    #a, a_, #b, b_, (double)(tol));                                     \
            tl_test_failed_now_ = 1;                                                    \
        }                                                                               \
    } while (0)

/* Checks a string contains a substring. */
#define CHECK_CONTAINS(hay, needle)                                                     \
    do {                                                                                \
        const char *h_ = (hay);                                                         \
        tl_test_checks_++;                                                              \
        if (!h_ || !strstr(h_, (needle))) {                                             \
            fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, h_ ? h_ : "(null)", (needle));                            \
            tl_test_failed_now_ = 1;                                                    \
        }                                                                               \
    } while (0)

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < tl_ntests_; i++) {
        if (argc > 1 && !strstr(tl_tests_[i].name, argv[1])) continue;
        tl_test_failed_now_ = 0;
        tl_tests_[i].fn();
        if (tl_test_failed_now_) {
            failed++;
            fprintf(stderr, "FAIL %s\n", tl_tests_[i].name);
        } else {
            passed++;
        }
    }
    printf("%s: %d passed, %d failed (%d checks)\n", argv[0], passed, failed, tl_test_checks_);
    return failed ? 1 : 0;
}
#endif
