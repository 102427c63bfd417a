// Winograd's minimal filtering F(2x2, 3x3): the tile transforms that let a
// 3x3, stride-1 convolution compute each 2x2 block of outputs with 16
// multiplies per input and output channel pair instead of 36.
//
// For one 4x4 input tile d, one 3x3 filter g and the 2x2 outputs y it covers,
//   y = A^T [ (G g G^T) .* (B^T d B) ] A
// where .* multiplies elementwise. Summed over input channels, the 16
// products become 16 independent GEMMs, one per tile point xi = 4 i + j:
//   M[xi] [C_out, tiles] = U[xi] [C_out, C_in] V[xi] [C_in, tiles]
// with V = B^T d B per tile and channel, U = G g G^T per filter, and each
// tile's outputs y = A^T M A. The backward runs the same steps through the
// adjoint matrices: dM = A dy A^T, dV = dM U^T, dd = B dV B^T, dU = V^T dM.
//
// The matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016, with the signs of B^T's and A^T's last rows flipped so
// that no transform needs a negation; flipping both leaves G as it is):
//   B^T = [1  0 -1  0]   G = [1    0    0  ]   A^T = [1  1  1  0]
//         [0  1  1  0]       [1/2  1/2  1/2]         [0  1 -1  1]
//         [0 -1  1  0]       [1/2 -1/2  1/2]
//         [0 -1  0  1]       [0    0    1  ]
//
// Layout: each kernel call handles one row of tiles of one channel plane,
// and the SIMD variants put consecutive tiles in the lanes of a vector.
// Tile t of the row covers columns 2 t .. 2 t + 3 of its four input rows and
// 2 t, 2 t + 1 of its two output rows; its 16 transformed values go to
// out[xi point_ld + t], so with point_ld = C N a GEMM reads V[xi] as [C, N]
// for N tiles. autodiff/conv_winograd.cpp builds the convolution on these;
// the filter transform (once per call) is there too.
#pragma once

#include <cstdint>

namespace ember::kernels {

// V = B^T d B for `tiles` tiles: pixel (i, j) of tile t is
// in[i row_ld + 2 t + j] for i, j < 4, and V[xi] goes to
// out[xi point_ld + t]. Each row has 2 tiles + 2 readable floats.
void winograd_input_tiles(int64_t tiles, const float* in, int64_t row_ld, float* out,
                          int64_t point_ld);

// winograd_input_tiles for `channels` planes stored channels-last: pixel
// (i, j) of tile t in channel c is in[i row_ld + (2 t + j) channels + c],
// and V[xi] goes to out[xi point_ld + t channels + c]. With point_ld = N C,
// V[xi] is then [N, C], tile-major, as the GEMM of the weight gradient
// reads it without a transpose. Each row has (2 tiles + 2) channels
// readable floats.
void winograd_input_tiles_channels_last(int64_t tiles, int64_t channels, const float* in,
                                        int64_t row_ld, float* out, int64_t point_ld);

// y = A^T M A + bias, then max(y, 0) when relu is set (NaN gives 0, as in
// the relu kernel). M[xi] of tile t is m[xi point_ld + t], and output
// (i, j) of tile t goes to out[i row_ld + 2 t + j] for i < rows (1 or 2)
// and 2 t + j < width (2 tiles - 1 or 2 tiles). Returns false if any
// computed y before the bias is NaN or infinite, written or not: with rows
// = 1, M[12 .. 15] reach only the second row.
bool winograd_output_tiles(int64_t tiles, const float* m, int64_t point_ld, float bias,
                           bool relu, float* out, int64_t row_ld, int64_t rows, int64_t width);

// dM = A dy A^T, the adjoint of winograd_output_tiles without bias and relu:
// dy (i, j) of tile t is grad[i row_ld + 2 t + j] for i, j < 2, and dM[xi]
// goes to out[xi point_ld + t]. Returns false if any dM is NaN or infinite:
// the corners of dM are the dy, and a sum of two finite dy can overflow.
bool winograd_output_gradient_tiles(int64_t tiles, const float* grad, int64_t row_ld,
                                    float* out, int64_t point_ld);

// grad_in += B dV B^T, the adjoint of winograd_input_tiles: dV[xi] of tile
// t is dv[xi point_ld + t], and its 4x4 result dd is added to rows i < 4 of
// grad_in (row_ld apart, 2 tiles + 2 floats each). Neighbouring tiles
// overlap by two columns, so column 2 s + j (j < 2) receives
// dd_s[i, j] + dd_(s-1)[i, 2 + j] in one addition, a missing tile counting
// as +0.
void winograd_input_gradient_tiles(int64_t tiles, const float* dv, int64_t point_ld,
                                   float* grad_in, int64_t row_ld);

}  // namespace ember::kernels
