// Package torchfile reads PyTorch checkpoints written by torch.save, such as
// the pytorch_model.bin files of Hugging Face repositories, without Python
// and without running the pickle inside them.
//
// Since PyTorch 1.6, torch.save writes a zip archive (stored, not
// compressed) holding
//
//	ARCHIVE/data.pkl      a pickle of the state_dict: an OrderedDict from names
//	                      to tensors, each rebuilt by torch._utils._rebuild_tensor_v2
//	                      from (storage, storage offset, size, stride, ...)
//	ARCHIVE/data/KEY      each storage's raw little-endian bytes, 64-byte aligned
//	ARCHIVE/version       and, in newer versions, ARCHIVE/byteorder
//
// where ARCHIVE is the file's base name ("pytorch_model") or "archive". A
// storage is named in the pickle by a persistent id, ('storage',
// torch.FloatStorage, KEY, location, numel).
//
// A pickle is a program, and loading an untrusted one with Python's pickle
// can run arbitrary code. Open runs data.pkl on a small machine of its own
// that knows only the opcodes torch.save emits for a state_dict (protocols 2
// to 5: MARK, tuples, dicts, lists, ints, floats, strings, the memo,
// BINPERSID, REDUCE, BUILD) and only these globals: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
// torch.*Storage classes (Float, Half, BFloat16, Double, Long, Int, Short,
// Char, Byte, Bool). REDUCE calls a Go function chosen by name; nothing is
// imported or executed. Any other opcode or global is an error naming it
// and its offset in data.pkl. Every length, offset, size and stride is
// checked against the file before use, so a hostile file gives an error
// (matching ErrFormat) rather than a panic. Memory stays bounded: data.pkl
// may hold at most MaxPickleSize bytes and create at most 4 million values,
// and a tensor never needs more memory than the file holds. Compressed
// records are refused rather than inflated. The legacy
// format of PyTorch before 1.6 (a bare pickle stream) is recognised and
// refused with ErrLegacy.
//
// Open maps the file into memory (copy-on-write) like safetensors.Open.
// Float32 returns a contiguous F32 tensor in place, with no copy; tensors
// that share a storage (tied weights) share memory. F16 and BF16 tensors
// are converted exactly, and a non-contiguous view (a transpose saved as
// such) is gathered into a new row-major slice. Zip CRCs are not checked.
//
//	f, err := torchfile.Open("pytorch_model.bin")
//	if err != nil { ... }
//	defer f.Close()
//	for _, name := range f.Names() {
//		info, _ := f.Info(name)
//		fmt.Println(name, info.DType, info.Shape)
//	}
//	wte, err := f.Float32("wte.weight")
//
// A *File is safe for concurrent use by multiple goroutines until Close.
package torchfile
