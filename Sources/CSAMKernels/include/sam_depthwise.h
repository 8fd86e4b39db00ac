// Channels-last depthwise convolution rows (SAMTensor/ConvolutionNHWC.swift's DepthwiseKernel), in C for the
// AVX-512 / AVX2 clones the Swift code cannot select per CPU.
#ifndef SAM_DEPTHWISE_H
#define SAM_DEPTHWISE_H
#include <stddef.h>

/// One output row of a depthwise k×k convolution on channels-last rows of width w and c channels:
/// out[ox·c + ch] = bias[ch] + Σ_(ky, kx) taps[(ky·kw + kx)·c + ch] · rows[ky][ix·c + ch], ix = ox·stride − padding + kx,
/// over the taps in row-major order whose input exists (rows[ky] NULL: a padding row; ix outside 0..<w: padding),
/// each product rounded, then added (no fused multiply-add), for ox in 0..<ow.
void sam_depthwise_row_nhwc(const float *const *rows, size_t w, size_t c, const float *taps, const float *bias,
                            size_t kh, size_t kw, size_t stride, size_t padding, size_t ow, float *out);

#endif
