// See include/sam_depthwise.h.
#include "sam_depthwise.h"
#include <string.h>

#pragma clang fp contract(off)

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

typedef float v16 __attribute__((vector_size(64)));
#define LOAD(p) ({ v16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE(p, v) do { v16 s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)

CLONES void sam_depthwise_row_nhwc(const float *const *rows, size_t w, size_t c, const float *taps, const float *bias,
                                   size_t kh, size_t kw, size_t stride, size_t padding, size_t ow, float *out) {
    for (size_t ox = 0; ox < ow; ox++) {
        float *o = out + ox * c;
        // the taps of this pixel that fall inside the row: kx in [lo, hi)
        long x0 = (long)(ox * stride) - (long)padding;
        size_t lo = x0 < 0 ? (size_t)(-x0) : 0;
        size_t hi = (long)w - x0 < (long)kw ? (size_t)((long)w - x0) : kw;
        size_t ch = 0;
        for (; ch + 64 <= c; ch += 64) {
            v16 a0 = LOAD(bias + ch), a1 = LOAD(bias + ch + 16), a2 = LOAD(bias + ch + 32), a3 = LOAD(bias + ch + 48);
            for (size_t ky = 0; ky < kh; ky++) {
                if (!rows[ky]) continue;
                for (size_t kx = lo; kx < hi; kx++) {
                    const float *s = rows[ky] + (size_t)(x0 + (long)kx) * c + ch, *t = taps + (ky * kw + kx) * c + ch;
                    a0 += LOAD(t) * LOAD(s);
                    a1 += LOAD(t + 16) * LOAD(s + 16);
                    a2 += LOAD(t + 32) * LOAD(s + 32);
                    a3 += LOAD(t + 48) * LOAD(s + 48);
                }
            }
            STORE(o + ch, a0); STORE(o + ch + 16, a1); STORE(o + ch + 32, a2); STORE(o + ch + 48, a3);
        }
        for (; ch + 16 <= c; ch += 16) {
            v16 a = LOAD(bias + ch);
            for (size_t ky = 0; ky < kh; ky++) {
                if (!rows[ky]) continue;
                for (size_t kx = lo; kx < hi; kx++) {
                    a += LOAD(taps + (ky * kw + kx) * c + ch) * LOAD(rows[ky] + (size_t)(x0 + (long)kx) * c + ch);
                }
            }
            STORE(o + ch, a);
        }
        for (; ch < c; ch++) {
            float a = bias[ch];
            for (size_t ky = 0; ky < kh; ky++) {
                if (!rows[ky]) continue;
                for (size_t kx = lo; kx < hi; kx++) a += taps[(ky * kw + kx) * c + ch] * rows[ky][(size_t)(x0 + (long)kx) * c + ch];
            }
            o[ch] = a;
        }
    }
}
