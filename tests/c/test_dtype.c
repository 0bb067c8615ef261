/* test_dtype.c — dtype names and sizes, and the fp32 <-> f16 / bf16 conversions against
 * exhaustive round trips and the compiler's own _Float16 conversion. */
#include "core/dtype.h"
#include "tl_test.h"

#include <stdint.h>

static uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

TL_TEST(dtype_names_sizes_and_parse_round_trip) {
    for (int d = 0; d < TL_DTYPE_COUNT; d++) {
        tl_dtype got = TL_DTYPE_BOOL;
        CHECK(tl_dtype_size((tl_dtype)d) > 0);
        CHECK(tl_dtype_parse(tl_dtype_name((tl_dtype)d), &got) && got == (tl_dtype)d);
    }
    tl_dtype keep = TL_DTYPE_I8;
    CHECK(!tl_dtype_parse("F8", &keep) && keep == TL_DTYPE_I8);
    CHECK(!tl_dtype_parse(NULL, &keep));
    CHECK(strcmp(tl_dtype_name((tl_dtype)99), "?") == 0 && tl_dtype_size((tl_dtype)99) == 0);
}

TL_TEST(f16_every_value_round_trips_and_matches_float16) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tl_f16_to_f32((uint16_t)h);
        _Float16 ref;
        uint16_t rb = (uint16_t)h;
        memcpy(&ref, &rb, 2);
        if (f != f) { /* nan: stays nan */
            bad += !((float)ref != (float)ref) || (tl_f32_to_f16(f) & 0x7c00u) != 0x7c00u ||
                   !(tl_f32_to_f16(f) & 0x3ffu);
            continue;
        }
        bad += bits_of(f) != bits_of((float)ref) || tl_f32_to_f16(f) != h;
    }
    CHECK(bad == 0);
}

TL_TEST(f32_to_f16_rounds_like_the_compiler_on_random_and_edge_values) {
    uint32_t seed = 7;
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        seed = seed * 1664525u + 1013904223u;
        /* exponents around the half range (subnormals, overflow) and every mantissa */
        uint32_t u = (seed & 0x807fffffu) | ((100u + (seed >> 9) % 60u) << 23);
        if (i % 4 == 0) u = seed; /* anything, nan and inf included */
        float f = float_of(u);
        if (f != f) continue;
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        bad += tl_f32_to_f16(f) != rb;
    }
    CHECK(bad == 0);
    CHECK(tl_f32_to_f16(65504.0f) == 0x7bff && tl_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(tl_f32_to_f16(-0.0f) == 0x8000 && tl_f32_to_f16(0x1p-25f) == 0 && tl_f32_to_f16(0x1.000002p-25f) == 1);
}

TL_TEST(bf16_round_trips_and_rounds_to_nearest_even) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tl_bf16_to_f32((uint16_t)h);
        if (f != f) { bad += tl_f32_to_bf16(f) != (h | 0x40u); continue; }
        bad += bits_of(f) != h << 16 || tl_f32_to_bf16(f) != h;
    }
    CHECK(bad == 0);
    CHECK(tl_f32_to_bf16(float_of(0x3f808000u)) == 0x3f80); /* tie, even below */
    CHECK(tl_f32_to_bf16(float_of(0x3f818000u)) == 0x3f82); /* tie, even above */
    CHECK(tl_f32_to_bf16(float_of(0x3f808001u)) == 0x3f81);
    CHECK(tl_f32_to_bf16(float_of(0x7f7fffffu)) == 0x7f80); /* FLT_MAX rounds to inf */
}

TL_TEST(convert_to_f32_reads_unaligned_float_dtypes_only) {
    unsigned char buf[1 + 8 * 3];
    const double d[3] = {1.5, -2.25, 1e-3};
    memcpy(buf + 1, d, sizeof d);
    float out[3];
    CHECK(tl_convert_to_f32(TL_DTYPE_F64, buf + 1, out, 3));
    CHECK(out[0] == 1.5f && out[1] == -2.25f && out[2] == (float)1e-3);
    uint16_t h[2] = {0x3c00, 0xc000}; /* 1, -2 */
    memcpy(buf + 1, h, 4);
    CHECK(tl_convert_to_f32(TL_DTYPE_F16, buf + 1, out, 2) && out[0] == 1.0f && out[1] == -2.0f);
    uint16_t b[2] = {0x3f80, 0x4040}; /* 1, 3 */
    memcpy(buf + 1, b, 4);
    CHECK(tl_convert_to_f32(TL_DTYPE_BF16, buf + 1, out, 2) && out[0] == 1.0f && out[1] == 3.0f);
    out[0] = 42.0f;
    CHECK(!tl_convert_to_f32(TL_DTYPE_I32, buf, out, 1) && out[0] == 42.0f);
}
