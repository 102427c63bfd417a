// The 4x4 tile transforms of F(2x2, 3x3) (see winograd.h for the matrices),
// written once for a float or a SIMD vector T. The scalar reference kernels
// (reference.cpp) and the vector ones (vector_kernels.h) both call these, so
// every variant adds and subtracts in the same order and gives the same bits.
//
// Each 2-D transform applies its 1-D transform to the tile's columns, then
// to the rows of the result.
#pragma once

namespace ember::kernels {

// An unnamed namespace, as in pool_row.h: reference.cpp, kernels_avx2.cpp
// and kernels_avx512.cpp are built with different instruction-set flags, and
// each must keep its own copy.
namespace {

namespace winograd_tile {

// B^T d for one column d of a tile.
template <class T>
void input_1d(T d0, T d1, T d2, T d3, T& v0, T& v1, T& v2, T& v3) {
  v0 = d0 - d2;
  v1 = d1 + d2;
  v2 = d2 - d1;
  v3 = d3 - d1;
}

// A^T m for one column m.
template <class T>
void output_1d(T m0, T m1, T m2, T m3, T& y0, T& y1) {
  y0 = (m0 + m1) + m2;
  y1 = (m1 - m2) + m3;
}

// A dy, the adjoint of output_1d.
template <class T>
void output_gradient_1d(T g0, T g1, T& m0, T& m1, T& m2, T& m3) {
  m0 = g0;
  m1 = g0 + g1;
  m2 = g0 - g1;
  m3 = g1;
}

// B dv, the adjoint of input_1d.
template <class T>
void input_gradient_1d(T v0, T v1, T v2, T v3, T& d0, T& d1, T& d2, T& d3) {
  d0 = v0;
  d1 = (v1 - v2) - v3;
  d2 = (v1 - v0) + v2;
  d3 = v3;
}

// v = B^T d B.
template <class T>
void input(const T (&d)[4][4], T (&v)[4][4]) {
  T columns[4][4];
  for (int j = 0; j < 4; ++j) {
    input_1d(d[0][j], d[1][j], d[2][j], d[3][j], columns[0][j], columns[1][j], columns[2][j],
             columns[3][j]);
  }
  for (int i = 0; i < 4; ++i) {
    input_1d(columns[i][0], columns[i][1], columns[i][2], columns[i][3], v[i][0], v[i][1],
             v[i][2], v[i][3]);
  }
}

// y = A^T m A.
template <class T>
void output(const T (&m)[4][4], T (&y)[2][2]) {
  T columns[2][4];
  for (int j = 0; j < 4; ++j) {
    output_1d(m[0][j], m[1][j], m[2][j], m[3][j], columns[0][j], columns[1][j]);
  }
  for (int i = 0; i < 2; ++i) {
    output_1d(columns[i][0], columns[i][1], columns[i][2], columns[i][3], y[i][0], y[i][1]);
  }
}

// dm = A dy A^T.
template <class T>
void output_gradient(const T (&dy)[2][2], T (&dm)[4][4]) {
  T columns[4][2];
  for (int j = 0; j < 2; ++j) {
    output_gradient_1d(dy[0][j], dy[1][j], columns[0][j], columns[1][j], columns[2][j],
                       columns[3][j]);
  }
  for (int i = 0; i < 4; ++i) {
    output_gradient_1d(columns[i][0], columns[i][1], dm[i][0], dm[i][1], dm[i][2], dm[i][3]);
  }
}

// dd = B dv B^T.
template <class T>
void input_gradient(const T (&dv)[4][4], T (&dd)[4][4]) {
  T columns[4][4];
  for (int j = 0; j < 4; ++j) {
    input_gradient_1d(dv[0][j], dv[1][j], dv[2][j], dv[3][j], columns[0][j], columns[1][j],
                      columns[2][j], columns[3][j]);
  }
  for (int i = 0; i < 4; ++i) {
    input_gradient_1d(columns[i][0], columns[i][1], columns[i][2], columns[i][3], dd[i][0],
                      dd[i][1], dd[i][2], dd[i][3]);
  }
}

}  // namespace winograd_tile

}  // namespace

}  // namespace ember::kernels
