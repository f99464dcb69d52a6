// Package safetensors reads and writes the safetensors tensor file format used
// by the Hugging Face ecosystem.
//
// A safetensors file is, in order:
//
//   - 8 bytes: N, the length of the header as a little-endian uint64;
//   - N bytes: a UTF-8 JSON object mapping each tensor name to
//     {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//     plus an optional "__metadata__" object of string values. Writers pad
//     the JSON with spaces so that the data starts 8-byte aligned;
//   - the data section: the tensors' little-endian bytes, with each tensor
//     at [begin, end) relative to the start of the section.
//
// Open maps a file into memory (read-only for the file, copy-on-write for the
// process) and validates the whole header before returning: the header length
// and its 100 MB limit, the JSON, the dtypes, that every shape times the dtype
// size equals the tensor's byte length, and that the tensors tile the data
// section exactly, with no gap and no overlap. Float32 then returns a tensor as
// float32 values: F32 data is used in place, without a copy, and F16 and BF16
// data is converted exactly.
//
//	f, err := safetensors.Open("model.safetensors")
//	if err != nil { ... }
//	defer f.Close()
//	for _, name := range f.Names() {
//		info, _ := f.Info(name)
//		fmt.Println(name, info.DType, info.Shape)
//	}
//	wte, err := f.Float32("transformer.wte.weight")
//
// WriteFile writes float32 tensors (stored as F32, F16 or BF16) atomically,
// laid out byte for byte as the reference implementation lays them out.
//
// A *File is safe for concurrent use by multiple goroutines until Close.
package safetensors
