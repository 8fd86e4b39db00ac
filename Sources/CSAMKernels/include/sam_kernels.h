// Element-wise kernels of SAMTensor that need wide vectors: exp (softmax) and erf (GELU) over float32.
// Each function is compiled three times (AVX-512, AVX2, baseline x86-64 / other CPUs) and the loader picks the
// widest the CPU has (target_clones). Every version performs the same float operations in the same order on
// 16-lane vectors, with no fused multiply-add, so the results are bit-identical whichever runs.
#ifndef SAM_KERNELS_H
#define SAM_KERNELS_H
#include <stddef.h>

/// Exact-formula GELU in place: x · ½ · (1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7).
void sam_gelu(float *x, size_t n);

/// Softmax of one row in place: max, exp(x − max), sum (16 partial sums, then in lane order), times 1/sum.
void sam_softmax_row(float *x, size_t n);

/// `sam_softmax_row` of x / divisor (attention scores divided by √d, a division as in the reference).
void sam_softmax_row_div(float *x, size_t n, float divisor);

/// The ViT's global attention row: row[ky·w + kx] = (row[ky·w + kx] + rel_h[ky]) + rel_w[kx] (decomposed relative
/// position), then `sam_softmax_row` of the h·w values.
void sam_relpos_softmax_row(float *row, size_t h, size_t w, const float *rel_h, const float *rel_w);

/// Softmax down each column of a rows×cols matrix (row stride cols) of the values divided by divisor, in place.
void sam_softmax_columns(float *x, size_t rows, size_t cols, float divisor);

/// Layer norm of one row of c values (PyTorch's biased variance): x = src (+ plus, when not NULL, stored to dst
/// first), dst = (x − mean) · 1/√(var + eps) · weight + bias; mean and variance summed in 16 partial sums, then in
/// lane order. dst may be src.
void sam_layernorm_row(const float *src, const float *plus, float *dst, size_t c, const float *weight, const float *bias,
                       float eps);

/// Which version the loader picked: 512, 256 or 128 (the vector width in bits).
int sam_kernels_width(void);
#endif
