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
