// See include/sam_kernels.h. The arithmetic is that of SAMTensor/FastMath.swift (Cephes expf, A&S 7.1.26 erf).
#include "sam_kernels.h"
#include <string.h>
#include <stdint.h>

#pragma clang fp contract(off)

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));

#define SPLAT(c) ((v16){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})
#define ISPLAT(c) ((i16){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})

// Helpers are macros (GNU statement expressions), not functions: a function taking a 16-float vector by value would
// have a different ABI in each clone, which clang refuses even when it is always inlined.
#define LOAD(p) ({ v16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE(p, v) do { v16 s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)
#define SELECT(mask, a, b) ({ i16 m_ = (mask); v16 a_ = (a), b_ = (b); i16 ai_, bi_; \
    memcpy(&ai_, &a_, sizeof ai_); memcpy(&bi_, &b_, sizeof bi_); i16 r_ = (m_ & ai_) | (~m_ & bi_); \
    v16 o_; memcpy(&o_, &r_, sizeof o_); o_; })
/// a < b ? b : a (a NaN stays NaN), as FastMath's maximum8; VMIN: b < a ? b : a
#define VMAX(a, b) ({ v16 x_ = (a), y_ = (b); SELECT(x_ < y_, y_, x_); })
#define VMIN(a, b) ({ v16 x_ = (a), y_ = (b); SELECT(y_ < x_, y_, x_); })

#define VFMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#define VEXP(vin) ({ \
    v16 x0_ = VMIN(VMAX((vin), SPLAT(-87.33654f)), SPLAT(88.72283f)); \
    const v16 magic_ = SPLAT(12582912.0f); \
    v16 t_ = VFMA(x0_, SPLAT(1.44269504088896341f), magic_); \
    v16 fx_ = t_ - magic_; \
    v16 x_ = VFMA(fx_, SPLAT(-0.693359375f), x0_); \
    x_ = VFMA(fx_, SPLAT(2.12194440e-4f), x_); \
    v16 z_ = x_ * x_; \
    v16 y_ = SPLAT(1.9875691500e-4f); \
    y_ = VFMA(y_, x_, SPLAT(1.3981999507e-3f)); \
    y_ = VFMA(y_, x_, SPLAT(8.3334519073e-3f)); \
    y_ = VFMA(y_, x_, SPLAT(4.1665795894e-2f)); \
    y_ = VFMA(y_, x_, SPLAT(1.6666665459e-1f)); \
    y_ = VFMA(y_, x_, SPLAT(5.0000001201e-1f)); \
    y_ = VFMA(y_, z_, x_ + SPLAT(1.0f)); \
    i16 n_; memcpy(&n_, &t_, sizeof n_); \
    n_ = n_ - ISPLAT(0x4B400000); \
    i16 e_ = (n_ + ISPLAT(127)) << 23; \
    v16 p_; memcpy(&p_, &e_, sizeof p_); \
    y_ * p_; })

/// One lane of vexp (the same operations), for row tails.
static inline __attribute__((always_inline)) float sexp(float v) {
    float x0 = v < -87.33654f ? -87.33654f : v;
    x0 = 88.72283f < x0 ? 88.72283f : x0;
    const float magic = 12582912.0f;
    float t = __builtin_fmaf(x0, 1.44269504088896341f, magic);
    float fx = t - magic;
    float x = __builtin_fmaf(fx, -0.693359375f, x0);
    x = __builtin_fmaf(fx, 2.12194440e-4f, x);
    float z = x * x;
    float y = 1.9875691500e-4f;
    y = __builtin_fmaf(y, x, 1.3981999507e-3f);
    y = __builtin_fmaf(y, x, 8.3334519073e-3f);
    y = __builtin_fmaf(y, x, 4.1665795894e-2f);
    y = __builtin_fmaf(y, x, 1.6666665459e-1f);
    y = __builtin_fmaf(y, x, 5.0000001201e-1f);
    y = __builtin_fmaf(y, z, x + 1.0f);
    int32_t n; memcpy(&n, &t, sizeof n);
    n = n - 0x4B400000;
    int32_t e = (int32_t)((uint32_t)(n + 127) << 23);
    float pow2; memcpy(&pow2, &e, sizeof pow2);
    return y * pow2;
}

#define VGELU(xv) ({ \
    v16 xin_ = (xv); \
    v16 gx_ = xin_ * SPLAT(0.70710678118654752440f); \
    i16 neg_ = gx_ < SPLAT(0.0f); \
    v16 a_ = SELECT(neg_, -gx_, gx_); \
    v16 t_ = SPLAT(1.0f) / (a_ * SPLAT(0.3275911f) + SPLAT(1.0f)); \
    v16 r_ = SPLAT(1.061405429f); \
    r_ = r_ * t_ - SPLAT(1.453152027f); \
    r_ = r_ * t_ + SPLAT(1.421413741f); \
    r_ = r_ * t_ - SPLAT(0.284496736f); \
    r_ = r_ * t_ + SPLAT(0.254829592f); \
    v16 ex_ = VEXP(-(a_ * a_)); \
    v16 y_ = SPLAT(1.0f) - r_ * t_ * ex_; \
    v16 erf_ = SELECT(neg_, SPLAT(-1.0f), SPLAT(1.0f)) * y_; \
    xin_ * SPLAT(0.5f) * (erf_ + SPLAT(1.0f)); })

static inline __attribute__((always_inline)) float sgelu(float xin) {
    float x = xin * 0.70710678118654752440f;
    int neg = x < 0.0f;
    float a = neg ? -x : x;
    float t = 1.0f / (a * 0.3275911f + 1.0f);
    float r = 1.061405429f;
    r = r * t - 1.453152027f;
    r = r * t + 1.421413741f;
    r = r * t - 0.284496736f;
    r = r * t + 0.254829592f;
    float y = 1.0f - r * t * sexp(-(a * a));
    float erf = (neg ? -1.0f : 1.0f) * y;
    return xin * 0.5f * (erf + 1.0f);
}

CLONES void sam_gelu(float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) STORE(x + i, VGELU(LOAD(x + i)));
    for (; i < n; i++) x[i] = sgelu(x[i]);
}

CLONES void sam_bias_gelu(float *x, size_t rows, size_t cols, const float *bias) {
    for (size_t r = 0; r < rows; r++) {
        float *p = x + r * cols;
        size_t j = 0;
        for (; j + 16 <= cols; j += 16) STORE(p + j, VGELU(LOAD(p + j) + LOAD(bias + j)));
        for (; j < cols; j++) p[j] = sgelu(p[j] + bias[j]);
    }
}

/// exp(x − m) in place; returns the sum (two partial sums of 16 lanes, even and odd blocks of 16, so consecutive
/// exps do not wait on one addition; then in lane order, then the tail).
static inline __attribute__((always_inline)) float exp_sum_after_max(float *x, size_t n, float m) {
    v16 mv = SPLAT(m), sv = SPLAT(0.0f), sw = SPLAT(0.0f);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        v16 e = VEXP(LOAD(x + i) - mv), f = VEXP(LOAD(x + i + 16) - mv);
        STORE(x + i, e); STORE(x + i + 16, f);
        sv += e; sw += f;
    }
    for (; i + 16 <= n; i += 16) { v16 e = VEXP(LOAD(x + i) - mv); STORE(x + i, e); sv += e; }
    sv += sw;
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += sv[l];
    for (; i < n; i++) { float e = sexp(x[i] - m); x[i] = e; s += e; }
    return s;
}

static inline __attribute__((always_inline)) void softmax_after_max(float *x, size_t n, float m) {
    float inv = 1.0f / exp_sum_after_max(x, n, m);
    v16 iv = SPLAT(inv);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) STORE(x + i, LOAD(x + i) * iv);
    for (; i < n; i++) x[i] = x[i] * inv;
}

static inline __attribute__((always_inline)) float row_max(const float *x, size_t n) {
    v16 mv = SPLAT(-__builtin_inff());
    size_t i = 0;
    for (; i + 16 <= n; i += 16) mv = VMAX(mv, LOAD(x + i));
    float m = -__builtin_inff();
    for (int l = 0; l < 16; l++) m = m < mv[l] ? mv[l] : m;
    for (; i < n; i++) m = m < x[i] ? x[i] : m;
    return m;
}

CLONES void sam_softmax_row(float *x, size_t n) {
    softmax_after_max(x, n, row_max(x, n));
}

CLONES void sam_softmax_row_div(float *x, size_t n, float divisor) {
    v16 dv = SPLAT(divisor), mv = SPLAT(-__builtin_inff());
    size_t i = 0;
    for (; i + 16 <= n; i += 16) { v16 v = LOAD(x + i) / dv; STORE(x + i, v); mv = VMAX(mv, v); }
    float m = -__builtin_inff();
    for (int l = 0; l < 16; l++) m = m < mv[l] ? mv[l] : m;
    for (; i < n; i++) { float v = x[i] / divisor; x[i] = v; m = m < v ? v : m; }
    softmax_after_max(x, n, m);
}

/// row += rel_h[ky] then rel_w[kx]; returns the maximum.
static inline __attribute__((always_inline)) float relpos_add_max(float *row, size_t h, size_t w, const float *rel_h,
                                                                  const float *rel_w) {
    v16 mv = SPLAT(-__builtin_inff());
    float m = -__builtin_inff();
    for (size_t ky = 0; ky < h; ky++) {
        float *seg = row + ky * w;
        v16 a = SPLAT(rel_h[ky]);
        size_t kx = 0;
        for (; kx + 16 <= w; kx += 16) { v16 v = (LOAD(seg + kx) + a) + LOAD(rel_w + kx); STORE(seg + kx, v); mv = VMAX(mv, v); }
        for (; kx < w; kx++) { float v = (seg[kx] + rel_h[ky]) + rel_w[kx]; seg[kx] = v; m = m < v ? v : m; }
    }
    for (int l = 0; l < 16; l++) m = m < mv[l] ? mv[l] : m;
    return m;
}

CLONES float sam_relpos_exp_row(float *row, size_t h, size_t w, const float *rel_h, const float *rel_w) {
    float m = relpos_add_max(row, h, w, rel_h, rel_w);
    return 1.0f / exp_sum_after_max(row, h * w, m);
}

// bf16 rounding as PyTorch's c10::BFloat16 and oneDNN do it: add 0x7fff plus the kept part's lowest bit, keep the
// high half; a NaN keeps its sign and becomes the quiet NaN 0x7fc0.
static inline __attribute__((always_inline)) uint16_t bf16_round(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (f != f) ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)r;
}

// bf16 of 16 finite lanes, rounded to nearest even (the scalar bf16_round's arithmetic, without its NaN case); a
// macro, as the vector helpers above, so that no 512-bit value crosses a call.
typedef uint32_t u16v __attribute__((vector_size(64)));
typedef uint16_t h16v __attribute__((vector_size(32)));
#define USPLAT(c) ((u16v){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c})
#define BF16_ROUND_V(ev) ({ u16v u_; v16 e_ = (ev); memcpy(&u_, &e_, sizeof u_); \
    __builtin_convertvector((u_ + USPLAT(0x7fffu) + ((u_ >> 16) & USPLAT(1u))) >> 16, h16v); })

CLONES void sam_bias_gelu_bf16(const float *x, size_t rows, size_t cols, const float *bias, uint16_t *out) {
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * cols;
        uint16_t *o = out + r * cols;
        size_t j = 0;
        for (; j + 16 <= cols; j += 16) {
            h16v b = BF16_ROUND_V(VGELU(LOAD(p + j) + LOAD(bias + j)));
            memcpy(o + j, &b, sizeof b);
        }
        for (; j < cols; j++) o[j] = bf16_round(sgelu(p[j] + bias[j]));
    }
}

CLONES float sam_relpos_exp_row_bf16(float *row, size_t h, size_t w, const float *rel_h, const float *rel_w,
                                     uint16_t *out) {
    const size_t n = h * w;
    float m = relpos_add_max(row, h, w, rel_h, rel_w);
    v16 mv = SPLAT(m), sv = SPLAT(0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 e = VEXP(LOAD(row + i) - mv);
        h16v b = BF16_ROUND_V(e);
        memcpy(out + i, &b, sizeof b);
        sv += e;
    }
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += sv[l];
    for (; i < n; i++) { float e = sexp(row[i] - m); out[i] = bf16_round(e); s += e; }
    return 1.0f / s;
}

CLONES void sam_relpos_exp_columns(float *st, size_t h, size_t w, size_t nq, const float *rel_h_t, const float *rel_w_t,
                                   float *inv) {
    const size_t nk = h * w;
    size_t j = 0;
    for (; j + 16 <= nq; j += 16) {
        v16 m = SPLAT(-__builtin_inff());
        for (size_t ky = 0; ky < h; ky++) {
            v16 a = LOAD(rel_h_t + ky * nq + j);
            for (size_t kx = 0; kx < w; kx++) {
                float *p = st + (ky * w + kx) * nq + j;
                v16 v = (LOAD(p) + a) + LOAD(rel_w_t + kx * nq + j);
                STORE(p, v);
                m = VMAX(m, v);
            }
        }
        v16 s = SPLAT(0.0f);
        for (size_t r = 0; r < nk; r++) { v16 e = VEXP(LOAD(st + r * nq + j) - m); STORE(st + r * nq + j, e); s += e; }
        STORE(inv + j, SPLAT(1.0f) / s);
    }
    for (; j < nq; j++) {
        float m = -__builtin_inff();
        for (size_t ky = 0; ky < h; ky++) {
            for (size_t kx = 0; kx < w; kx++) {
                float *p = st + (ky * w + kx) * nq + j;
                float v = (*p + rel_h_t[ky * nq + j]) + rel_w_t[kx * nq + j];
                *p = v;
                m = m < v ? v : m;
            }
        }
        float s = 0.0f;
        for (size_t r = 0; r < nk; r++) { float e = sexp(st[r * nq + j] - m); st[r * nq + j] = e; s += e; }
        inv[j] = 1.0f / s;
    }
}

CLONES void sam_scale_rows(float *x, size_t rows, size_t cols, size_t stride, const float *factors) {
    for (size_t r = 0; r < rows; r++) {
        float *p = x + r * stride;
        v16 f = SPLAT(factors[r]);
        size_t j = 0;
        for (; j + 16 <= cols; j += 16) STORE(p + j, LOAD(p + j) * f);
        for (; j < cols; j++) p[j] = p[j] * factors[r];
    }
}

CLONES void sam_softmax_columns(float *x, size_t rows, size_t cols, float divisor) {
    v16 dv = SPLAT(divisor);
    size_t j = 0;
    for (; j + 16 <= cols; j += 16) {
        v16 m = SPLAT(-__builtin_inff());
        for (size_t r = 0; r < rows; r++) { v16 v = LOAD(x + r * cols + j) / dv; STORE(x + r * cols + j, v); m = VMAX(m, v); }
        v16 s = SPLAT(0.0f);
        for (size_t r = 0; r < rows; r++) { v16 e = VEXP(LOAD(x + r * cols + j) - m); STORE(x + r * cols + j, e); s += e; }
        v16 inv = SPLAT(1.0f) / s;
        for (size_t r = 0; r < rows; r++) STORE(x + r * cols + j, LOAD(x + r * cols + j) * inv);
    }
    for (; j < cols; j++) {
        float m = -__builtin_inff();
        for (size_t r = 0; r < rows; r++) { float v = x[r * cols + j] / divisor; x[r * cols + j] = v; m = m < v ? v : m; }
        float s = 0.0f;
        for (size_t r = 0; r < rows; r++) { float e = sexp(x[r * cols + j] - m); x[r * cols + j] = e; s += e; }
        float inv = 1.0f / s;
        for (size_t r = 0; r < rows; r++) x[r * cols + j] = x[r * cols + j] * inv;
    }
}

int sam_kernels_width(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 512;
    if (__builtin_cpu_supports("avx2")) return 256;
#endif
    return 128;
}

CLONES void sam_layernorm_row(const float *src, const float *plus, float *dst, size_t c, const float *weight,
                              const float *bias, float eps) {
    size_t j = 0;
    if (plus) {
        for (; j + 16 <= c; j += 16) STORE(dst + j, LOAD(src + j) + LOAD(plus + j));
        for (; j < c; j++) dst[j] = src[j] + plus[j];
        src = dst;
    }
    v16 acc = SPLAT(0.0f);
    for (j = 0; j + 16 <= c; j += 16) acc += LOAD(src + j);
    float mean = 0.0f;
    for (int l = 0; l < 16; l++) mean += acc[l];
    for (; j < c; j++) mean += src[j];
    mean /= (float)c;
    v16 mv = SPLAT(mean), vacc = SPLAT(0.0f);
    for (j = 0; j + 16 <= c; j += 16) { v16 d = LOAD(src + j) - mv; vacc += d * d; }
    float var = 0.0f;
    for (int l = 0; l < 16; l++) var += vacc[l];
    for (; j < c; j++) { float d = src[j] - mean; var += d * d; }
    var /= (float)c;
    float inv = 1.0f / __builtin_sqrtf(var + eps);
    v16 iv = SPLAT(inv);
    for (j = 0; j + 16 <= c; j += 16) STORE(dst + j, (LOAD(src + j) - mv) * iv * LOAD(weight + j) + LOAD(bias + j));
    for (; j < c; j++) dst[j] = (src[j] - mean) * inv * weight[j] + bias[j];
}

CLONES void sam_f32_to_bf16(const float *src, size_t rows, size_t cols, size_t ld, uint16_t *dst) {
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        uint16_t *d = dst + r * cols;
        for (size_t j = 0; j < cols; j++) d[j] = bf16_round(s[j]);
    }
}

CLONES void sam_bf16_to_f32(const uint16_t *src, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        __builtin_memcpy(dst + i, &u, 4);
    }
}

CLONES void sam_maxpool_nhwc(const float *src, size_t h, size_t w, size_t c, size_t stride, size_t k, size_t oy0,
                             size_t oy1, float *dst) {
    size_t ow = w / k;
    for (size_t oy = oy0; oy < oy1; oy++) {
        for (size_t ox = 0; ox < ow; ox++) {
            float *d = dst + (oy * ow + ox) * c;
            const float *s0 = src + ((oy * k) * w + ox * k) * stride;
            size_t j = 0;
            for (; j + 16 <= c; j += 16) {
                v16 m = LOAD(s0 + j);
                for (size_t dy = 0; dy < k; dy++)
                    for (size_t dx = 0; dx < k; dx++) {
                        if (dy == 0 && dx == 0) continue;
                        v16 v = LOAD(src + ((oy * k + dy) * w + ox * k + dx) * stride + j);
                        m = SELECT((v > m) | (v != v), v, m);
                    }
                STORE(d + j, m);
            }
            for (; j < c; j++) {
                float m = s0[j];
                for (size_t dy = 0; dy < k; dy++)
                    for (size_t dx = 0; dx < k; dx++) {
                        if (dy == 0 && dx == 0) continue;
                        float v = src[((oy * k + dy) * w + ox * k + dx) * stride + j];
                        if (v > m || v != v) m = v;
                    }
                d[j] = m;
            }
        }
    }
}

// Winograd F(2×2, 3×3): the transforms of SAMTensor/EfficientViTOps.swift's winogradBand, 16 tiles per vector.
// Each value is computed by the same operations in the same order as the scalar definition (contraction is off), so
// the results are bit-identical to it; the tiles' even and odd columns are split with shuffles.

#define EVENS(lo, hi) __builtin_shufflevector((lo), (hi), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define ODDS(lo, hi) __builtin_shufflevector((lo), (hi), 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)

CLONES void sam_winograd_input_f23(const float *image, size_t cin, size_t h, size_t w, size_t ty0, size_t nty, float *v) {
    const size_t tw = (w + 1) / 2, t = nty * tw, xs = cin * t;
    // a padded row holds x = −1 … 2·tw (index x + 1), zeros outside the image, and slack for the last vector loads
    const size_t len = 2 * tw + 2 + 32;
    float rows[4][len], comb[4][len];
    for (size_t ch = 0; ch < cin; ch++) {
        const float *plane = image + ch * h * w;
        for (size_t r = 0; r < nty; r++) {
            const long y0 = 2 * (long)(ty0 + r) - 1;
            for (int i = 0; i < 4; i++) {
                const long y = y0 + i;
                memset(rows[i], 0, len * sizeof(float));
                if (y >= 0 && y < (long)h) memcpy(rows[i] + 1, plane + (size_t)y * w, w * sizeof(float));
            }
            // along y: d0 − d2, d1 + d2, d2 − d1, d1 − d3
            for (size_t k = 0; k < len; k++) {
                comb[0][k] = rows[0][k] - rows[2][k];
                comb[1][k] = rows[1][k] + rows[2][k];
                comb[2][k] = rows[2][k] - rows[1][k];
                comb[3][k] = rows[1][k] - rows[3][k];
            }
            // along x, tile tx reading q_k = comb[2·tx + k]: q0 − q2, q1 + q2, q2 − q1, q1 − q3
            for (int i = 0; i < 4; i++) {
                const float *q = comb[i];
                float *d0 = v + (4 * i) * xs + ch * t + r * tw, *d1 = d0 + xs, *d2 = d1 + xs, *d3 = d2 + xs;
                size_t tx = 0;
                for (; tx + 16 <= tw; tx += 16) {
                    const float *b = q + 2 * tx;
                    v16 lo = LOAD(b), hi = LOAD(b + 16), lo2 = LOAD(b + 2), hi2 = LOAD(b + 18);
                    v16 q0 = EVENS(lo, hi), q1 = ODDS(lo, hi), q2 = EVENS(lo2, hi2), q3 = ODDS(lo2, hi2);
                    STORE(d0 + tx, q0 - q2);
                    STORE(d1 + tx, q1 + q2);
                    STORE(d2 + tx, q2 - q1);
                    STORE(d3 + tx, q1 - q3);
                }
                for (; tx < tw; tx++) {
                    const float *b = q + 2 * tx;
                    d0[tx] = b[0] - b[2];
                    d1[tx] = b[1] + b[2];
                    d2[tx] = b[2] - b[1];
                    d3[tx] = b[1] - b[3];
                }
            }
        }
    }
}

CLONES void sam_winograd_output_f23(const float *mm, size_t m, size_t t, size_t ty0, size_t nty, size_t h, size_t w,
                                    const float *bias, float *c, size_t ldc) {
    const size_t tw = (w + 1) / 2, xs = m * t, y0 = 2 * ty0;
    for (size_t o = 0; o < m; o++) {
        const float b0 = bias ? bias[o] : 0.0f;
        const v16 bv = SPLAT(b0);
        float *dst = c + o * ldc;
        for (size_t r = 0; r < nty; r++) {
            const size_t oy = 2 * (ty0 + r);
            const int second = oy + 1 < h;
            float *line0 = dst + (oy - y0) * w, *line1 = line0 + w;
            const float *src = mm + o * t + r * tw;
            size_t tx = 0;
            // whole blocks of 16 tiles with both columns inside the image
            for (; tx + 16 <= tw && 2 * tx + 31 < w; tx += 16) {
                const float *s = src + tx;
                v16 m0 = LOAD(s), m1 = LOAD(s + xs), m2 = LOAD(s + 2 * xs), m3 = LOAD(s + 3 * xs);
                v16 m4 = LOAD(s + 4 * xs), m5 = LOAD(s + 5 * xs), m6 = LOAD(s + 6 * xs), m7 = LOAD(s + 7 * xs);
                v16 m8 = LOAD(s + 8 * xs), m9 = LOAD(s + 9 * xs), m10 = LOAD(s + 10 * xs), m11 = LOAD(s + 11 * xs);
                // s0 = row0 + row1 + row2, s1 = row1 − row2 − row3 (rows of the 4×4 M, element j of each)
                v16 s00 = (m0 + m4) + m8, s01 = (m1 + m5) + m9, s02 = (m2 + m6) + m10, s03 = (m3 + m7) + m11;
                v16 y00 = ((s00 + s01) + s02) + bv, y01 = ((s01 - s02) - s03) + bv;
                v16 a = __builtin_shufflevector(y00, y01, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
                v16 bb = __builtin_shufflevector(y00, y01, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
                STORE(line0 + 2 * tx, a);
                STORE(line0 + 2 * tx + 16, bb);
                if (second) {
                    v16 m12 = LOAD(s + 12 * xs), m13 = LOAD(s + 13 * xs), m14 = LOAD(s + 14 * xs), m15 = LOAD(s + 15 * xs);
                    v16 s10 = (m4 - m8) - m12, s11 = (m5 - m9) - m13, s12 = (m6 - m10) - m14, s13 = (m7 - m11) - m15;
                    v16 y10 = ((s10 + s11) + s12) + bv, y11 = ((s11 - s12) - s13) + bv;
                    v16 e = __builtin_shufflevector(y10, y11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
                    v16 f = __builtin_shufflevector(y10, y11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
                    STORE(line1 + 2 * tx, e);
                    STORE(line1 + 2 * tx + 16, f);
                }
            }
            for (; tx < tw; tx++) {
                const float *s = src + tx;
                float mv[16];
                for (int k = 0; k < 16; k++) mv[k] = s[k * xs];
                float s0[4], s1[4];
                for (int j = 0; j < 4; j++) {
                    s0[j] = (mv[j] + mv[4 + j]) + mv[8 + j];
                    s1[j] = (mv[4 + j] - mv[8 + j]) - mv[12 + j];
                }
                const int two = 2 * tx + 1 < w;
                line0[2 * tx] = ((s0[0] + s0[1]) + s0[2]) + b0;
                if (two) line0[2 * tx + 1] = ((s0[1] - s0[2]) - s0[3]) + b0;
                if (second) {
                    line1[2 * tx] = ((s1[0] + s1[1]) + s1[2]) + b0;
                    if (two) line1[2 * tx + 1] = ((s1[1] - s1[2]) - s1[3]) + b0;
                }
            }
        }
    }
}

CLONES void sam_depthwise_plane(const float *src, size_t h, size_t w, const float *kern, size_t k, size_t s, size_t pad,
                                float b0, float *dst, size_t oh, size_t ow) {
    // a padded input row: column x at index x + pad, zeros outside the plane, slack for the last vector loads
    const size_t len = s * ow + k + 32;
    float row[len];
    memset(row, 0, len * sizeof(float));
    const v16 bv = SPLAT(b0);
    for (size_t oy = 0; oy < oh; oy++) {
        float *line = dst + oy * ow;
        size_t ox = 0;
        for (; ox + 16 <= ow; ox += 16) STORE(line + ox, bv);
        for (; ox < ow; ox++) line[ox] = b0;
        for (size_t ky = 0; ky < k; ky++) {
            const long iy = (long)(oy * s + ky) - (long)pad;
            if (iy < 0 || iy >= (long)h) continue;
            const size_t copy = w < len - pad ? w : len - pad;
            memcpy(row + pad, src + (size_t)iy * w, copy * sizeof(float));
            for (size_t kx = 0; kx < k; kx++) {
                const float wv = kern[ky * k + kx];
                const v16 wvv = SPLAT(wv);
                // output ox reads row[s·ox + kx]; columns outside the plane are zeros there (x + 0 is x)
                size_t o = 0;
                if (s == 1) {
                    for (; o + 16 <= ow; o += 16) STORE(line + o, LOAD(line + o) + wvv * LOAD(row + o + kx));
                } else {
                    for (; o + 16 <= ow; o += 16) {
                        const float *b = row + 2 * o + kx;
                        v16 lo = LOAD(b), hi = LOAD(b + 16);
                        STORE(line + o, LOAD(line + o) + wvv * EVENS(lo, hi));
                    }
                }
                for (; o < ow; o++) line[o] += wv * row[s * o + kx];
            }
        }
    }
}

// EfficientViT's per-channel epilogue: BatchNorm's affine, the tanh GELU (nn.GELU(approximate="tanh")) and a residual
// in one pass. GELU as x / (1 + e^(−2u)), u = √(2/π)(x + 0.044715x³) (tanh's identity, without its cancellation near
// −1), 0 below −10 (x clamped there first so that no huge quotient or subnormal comes out), NaN kept.
#define GELU_TANH_BETA 0.7978845608028654f
#define GELU_TANH_KAPPA 0.044715f
#define VGELU_TANH(xv) ({ \
    v16 xg_ = (xv); \
    i16 small_ = xg_ < SPLAT(-10.0f); \
    v16 xc_ = SELECT(small_, SPLAT(-10.0f), xg_); \
    v16 m2u_ = SPLAT(-2.0f * GELU_TANH_BETA) * (xc_ + SPLAT(GELU_TANH_KAPPA) * xc_ * xc_ * xc_); \
    v16 q_ = xc_ / (SPLAT(1.0f) + VEXP(m2u_)); \
    SELECT(small_, SPLAT(0.0f), q_); })

static inline __attribute__((always_inline)) float sgelu_tanh(float x) {
    if (x < -10.0f) return 0.0f;
    float m2u = (-2.0f * GELU_TANH_BETA) * (x + GELU_TANH_KAPPA * x * x * x);
    return x / (1.0f + sexp(m2u));
}

CLONES void sam_epilogue_row(float *p, size_t n, int affine, float scale, float shift, int gelu, const float *residual) {
    const v16 sc = SPLAT(scale), sh = SPLAT(shift);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        v16 v = LOAD(p + j);
        if (affine) v = v * sc + sh;
        if (gelu) v = VGELU_TANH(v);
        if (residual) v = v + LOAD(residual + j);
        STORE(p + j, v);
    }
    for (; j < n; j++) {
        float v = p[j];
        if (affine) v = v * scale + shift;
        if (gelu) v = sgelu_tanh(v);
        if (residual) v = v + residual[j];
        p[j] = v;
    }
}

CLONES void sam_winograd_weights_f23(const float *g, size_t oc, size_t ic, size_t o0, size_t o1, float *u) {
    const size_t plane = oc * ic;
    float taps[9][16];
    for (size_t o = o0; o < o1; o++) {
        for (size_t c0 = 0; c0 < ic; c0 += 16) {
            const size_t nc = ic - c0 < 16 ? ic - c0 : 16;
            // the 9 taps of 16 input channels, tap-major (zeros past the last channel)
            memset(taps, 0, sizeof taps);
            const float *src = g + (o * ic + c0) * 9;
            for (size_t c = 0; c < nc; c++)
                for (int k = 0; k < 9; k++) taps[k][c] = src[c * 9 + k];
            v16 t[9];
            for (int k = 0; k < 9; k++) t[k] = LOAD(taps[k]);
            const v16 half = SPLAT(0.5f);
            // rows of G g: g's row 0, ½(row 0 + row 1 + row 2), ½(row 0 − row 1 + row 2), row 2
            v16 r[4][3];
            for (int j = 0; j < 3; j++) {
                r[0][j] = t[j];
                r[1][j] = half * ((t[j] + t[3 + j]) + t[6 + j]);
                r[2][j] = half * ((t[j] - t[3 + j]) + t[6 + j]);
                r[3][j] = t[6 + j];
            }
            // row i of (G g) Gᵀ: [a, ½(a + b + c), ½(a − b + c), c]
            for (int i = 0; i < 4; i++) {
                const v16 a = r[i][0], b = r[i][1], c = r[i][2];
                v16 e[4] = {a, half * ((a + b) + c), half * ((a - b) + c), c};
                for (int j = 0; j < 4; j++) {
                    float *dst = u + (size_t)(4 * i + j) * plane + o * ic + c0;
                    if (nc == 16) { STORE(dst, e[j]); }
                    else { float tmp[16]; STORE(tmp, e[j]); memcpy(dst, tmp, nc * sizeof(float)); }
                }
            }
        }
    }
}
