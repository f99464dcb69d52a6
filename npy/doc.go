// Package npy reads and writes the two dense-vector file formats that vector
// search tools exchange: NumPy's .npy (format versions 1.0, 2.0 and 3.0) and
// the .fvecs layout of the TEXMEX/ANN benchmark sets.
//
// Only what an embedding or ANN workflow needs is supported: 2-D arrays in C
// (row-major) order of little-endian float32 ('<f4') or float64 ('<f8',
// converted to float32 on read). Anything else — another dtype, Fortran
// order, a 1-D or 3-D shape, a truncated file — is an error naming the file
// and what was expected.
//
//	data, rows, cols, err := npy.ReadFloat32("base.npy") // row i is data[i*cols:(i+1)*cols]
//	err = npy.WriteFloat32("out.npy", data, rows, cols)  // atomic: temp file + rename
//
// .fvecs files hold, for each vector, its dimension as a little-endian int32
// followed by that many float32 values; every vector must have the same
// dimension.
package npy
