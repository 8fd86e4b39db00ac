// Element-wise kernels of SAMTensor that need wide vectors: exp (softmax) and erf (GELU) over float32.
// Each function is compiled three times (AVX-512, AVX2, baseline x86-64 / other CPUs) and the loader picks the
// widest the CPU has (target_clones). Every version performs the same float operations in the same order on
// 16-lane vectors, and the multiply-adds of exp's range reduction and polynomial are fused in every version (one
// rounding each: an FMA instruction where the CPU has one, libm's exact fmaf otherwise), so the results are
// bit-identical whichever runs.
#ifndef SAM_KERNELS_H
#define SAM_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Exact-formula GELU in place: x · ½ · (1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7).
void sam_gelu(float *x, size_t n);

/// x[r·cols + j] = gelu(x[r·cols + j] + bias[j]) for rows × cols values: a linear layer's bias and the GELU after it
/// in one pass.
void sam_bias_gelu(float *x, size_t rows, size_t cols, const float *bias);

/// Softmax of one row in place: max, exp(x − max), sum (two sets of 16 partial sums, added, then in lane order),
/// times 1/sum.
void sam_softmax_row(float *x, size_t n);

/// `sam_softmax_row` of x / divisor (attention scores divided by √d, a division as in the reference).
void sam_softmax_row_div(float *x, size_t n, float divisor);

/// The ViT's global attention row: row[ky·w + kx] = (row[ky·w + kx] + rel_h[ky]) + rel_w[kx] (decomposed relative
/// position), then exp(x − max) in place, the steps of `sam_softmax_row` but its last pass; returns 1/sum, the factor
/// that the attention applies to its output row instead (softmax(s)·V = (exp(s − max)·V) / sum).
float sam_relpos_exp_row(float *row, size_t h, size_t w, const float *rel_h, const float *rel_w);

/// `sam_relpos_exp_row` whose exp values go to `out` as bf16 (nearest even) for the bf16 product with V, instead of
/// back to the row; returns 1/sum of the float32 values.
float sam_relpos_exp_row_bf16(float *row, size_t h, size_t w, const float *rel_h, const float *rel_w, uint16_t *out);

/// `sam_bias_gelu` written as bf16 (nearest even) to `out` instead of back to x: an MLP's hidden layer as the bf16
/// product of its second linear takes it.
void sam_bias_gelu_bf16(const float *x, size_t rows, size_t cols, const float *bias, uint16_t *out);

/// The windowed attention's scores stored keys-major, st[key·nq + query] (h·w keys, nq queries), so that the vector
/// lanes run along the queries whatever the window's width: st = (st + rel_h_t[ky·nq + q]) + rel_w_t[kx·nq + q] for
/// key (ky, kx), then exp(st − the query's max) down each column; inv[q] = 1/(the column's sum, in key order).
void sam_relpos_exp_columns(float *st, size_t h, size_t w, size_t nq, const float *rel_h_t, const float *rel_w_t,
                            float *inv);

/// x[r·stride + j] *= factors[r] for r < rows, j < cols.
void sam_scale_rows(float *x, size_t rows, size_t cols, size_t stride, const float *factors);

/// Softmax down each column of a rows×cols matrix (row stride cols) of the values divided by divisor, in place.
void sam_softmax_columns(float *x, size_t rows, size_t cols, float divisor);

/// Layer norm of one row of c values (PyTorch's biased variance): x = src (+ plus, when not NULL, stored to dst
/// first), dst = (x − mean) · 1/√(var + eps) · weight + bias; mean and variance summed in 16 partial sums, then in
/// lane order. dst may be src.
void sam_layernorm_row(const float *src, const float *plus, float *dst, size_t c, const float *weight, const float *bias,
                       float eps);

/// float32 → bfloat16, round to nearest even (NaN stays NaN): dst[r·cols + j] = bf16(src[r·ld + j]) for r < rows,
/// j < cols; a strided block in, a packed block out, as the bf16 products take their operands.
void sam_f32_to_bf16(const float *src, size_t rows, size_t cols, size_t ld, uint16_t *dst);

/// bfloat16 → float32 (exact): dst[i] = src[i] << 16.
void sam_bf16_to_f32(const uint16_t *src, size_t n, float *dst);

/// k×k max pooling with stride k (no padding, floor) of an h×w grid of tokens, token (y, x)'s c channels at
/// src + (y·w + x)·stride (stride ≥ c: c for a plain channels-last grid, 3c for the queries of a qkv tensor), output
/// rows oy0 ..< oy1 of the (h/k)×(w/k)×c result at dst. Each window's values in row-major order, a value replacing
/// the max when it is greater or NaN (PyTorch's max_pool2d, so NaN propagates).
void sam_maxpool_nhwc(const float *src, size_t h, size_t w, size_t c, size_t stride, size_t k, size_t oy0, size_t oy1,
                      float *dst);

/// Winograd F(2×2, 3×3) input transform of tile rows ty0 ..< ty0 + nty of one image (cin planes of h×w, zero padding
/// 1): tile (ty, tx)'s 4×4 patch d at rows 2·ty − 1 …, columns 2·tx − 1 … becomes Bᵀ d B, element ξ = 4i + j at
/// v[ξ·cin·t + ch·t + r·tw + tx] (tw = (w + 1) / 2 tiles per row, t = nty·tw, r = ty − ty0).
/// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
void sam_winograd_input_f23(const float *image, size_t cin, size_t h, size_t w, size_t ty0, size_t nty, float *v);

/// Winograd F(2×2, 3×3) output transform: from the 16 products' results mm[ξ·m·t + o·t + r·tw + tx] (m output
/// channels), the 2×2 outputs Aᵀ M A + bias[o] (bias may be NULL) of each tile, written to output rows 2·ty0 …
/// (clipped to h×w) of channel o at c + o·ldc + (row − 2·ty0)·w + column. Aᵀ = [1 1 1 0; 0 1 −1 −1].
void sam_winograd_output_f23(const float *mm, size_t m, size_t t, size_t ty0, size_t nty, size_t h, size_t w,
                             const float *bias, float *c, size_t ldc);

/// One plane of a depthwise convolution (k×k taps, stride s of 1 or 2, zero padding pad): dst (oh×ow) = b0, then
/// + kern[ky·k + kx] · input for ky, kx in row-major order, rows outside the plane skipped and columns outside it
/// read as zeros (the same sums as skipping them); 16 outputs per vector, stride 2 by splitting even columns.
void sam_depthwise_plane(const float *src, size_t h, size_t w, const float *kern, size_t k, size_t s, size_t pad,
                         float b0, float *dst, size_t oh, size_t ow);

/// EfficientViT's epilogue of n values in place, in the reference's order: v·scale + shift (when affine, BatchNorm's
/// eval affine), the tanh GELU (when gelu: x / (1 + e^(−2u)), u = √(2/π)(x + 0.044715x³), 0 below −10), then
/// + residual[j] (when residual is not NULL).
void sam_epilogue_row(float *p, size_t n, int affine, float scale, float shift, int gelu, const float *residual);

/// Winograd F(2×2, 3×3) weights of output channels o0 ..< o1 of a 3×3 convolution g [oc][ic][3][3]: U = G g Gᵀ per
/// (output, input) pair, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], element 4i + j at u[(4i + j)·oc·ic + o·ic + c];
/// 16 input channels per vector.
void sam_winograd_weights_f23(const float *g, size_t oc, size_t ic, size_t o0, size_t o1, float *u);

/// Which version the loader picked: 512, 256 or 128 (the vector width in bits).
int sam_kernels_width(void);
#endif
