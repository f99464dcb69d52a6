package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint/torchfile"
	"github.com/loupe-ml/loupe/safetensors"
)

// The weight files a Hugging Face model directory may hold, in the order Open
// looks for them (the order transformers prefers them in).
const (
	Safetensors      = "model.safetensors"
	SafetensorsIndex = "model.safetensors.index.json"
	Torch            = "pytorch_model.bin"
	TorchIndex       = "pytorch_model.bin.index.json"
)

// Files lists the weight file names Open looks for, in order.
var Files = []string{Safetensors, SafetensorsIndex, Torch, TorchIndex}

// ErrNoWeights is wrapped (with os.ErrNotExist) when a directory holds none
// of Files.
var ErrNoWeights = errors.New("no weights file")

// ErrIndex is wrapped by every error about a malformed shard index or shards
// that disagree with it.
var ErrIndex = errors.New("invalid shard index")

// MaxIndexSize bounds an index file, in bytes. An index holds one line of
// about 60 bytes per tensor, so this allows millions of tensors.
const MaxIndexSize = 256 << 20

// Info describes one tensor.
type Info struct {
	Name  string
	DType string // "F32", "F16", "BF16", "I64", ... (safetensors names)
	Shape []int
}

// shard is one open weights file.
type shard interface {
	Names() []string
	Float32(name string) ([]float32, error)
	Bytes(name string) ([]byte, error)
	Evict() error
	Close() error
	Path() string
	info(name string) (Info, bool)
	// stored returns the tensor's bytes as they lie in the mapping, and
	// false when reading it needs a copy.
	stored(name string) ([]byte, bool)
}

type stShard struct{ *safetensors.File }

func (s stShard) info(name string) (Info, bool) {
	i, ok := s.File.Info(name)
	return Info{Name: i.Name, DType: i.DType, Shape: i.Shape}, ok
}

func (s stShard) stored(name string) ([]byte, bool) {
	b, err := s.File.Bytes(name)
	return b, err == nil
}

type torchShard struct{ *torchfile.File }

func (s torchShard) info(name string) (Info, bool) {
	i, ok := s.File.Info(name)
	return Info{Name: i.Name, DType: i.DType, Shape: i.Shape}, ok
}

func (s torchShard) stored(name string) ([]byte, bool) {
	if !s.File.Contiguous(name) {
		return nil, false
	}
	b, err := s.File.Bytes(name)
	return b, err == nil
}

// Checkpoint is an open set of weight files read as one: a single
// safetensors or torch file, or the shards an index lists. Its methods are
// safe for concurrent use until Close.
type Checkpoint struct {
	path   string // the file Open chose: the weights file or the index
	shards []shard
	where  map[string]shard
	names  []string
}

// Open opens the weights of the model directory dir: the first of
// model.safetensors, model.safetensors.index.json, pytorch_model.bin and
// pytorch_model.bin.index.json that exists. If none does, the error lists
// them and matches ErrNoWeights and os.ErrNotExist.
func Open(dir string) (*Checkpoint, error) {
	for _, name := range Files {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return OpenFile(p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil, fmt.Errorf("checkpoint: %s: no %s, %s, %s or %s: %w: %w", dir, Safetensors, SafetensorsIndex, Torch, TorchIndex, ErrNoWeights, os.ErrNotExist)
}

// OpenFile opens one weights file: an index if the name ends in
// ".index.json" (its shards are safetensors files if the index's name starts
// with "model.safetensors" or ends in ".safetensors.index.json", torch files
// otherwise), a torch.save file if it ends in ".bin" or ".pt", and a
// safetensors file otherwise.
func OpenFile(path string) (*Checkpoint, error) {
	base := filepath.Base(path)
	if strings.HasSuffix(base, ".index.json") {
		return openIndex(path, strings.HasSuffix(base, ".safetensors.index.json"))
	}
	s, err := openShard(path, !strings.HasSuffix(base, ".bin") && !strings.HasSuffix(base, ".pt") && !strings.HasSuffix(base, ".pth"))
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{path: path, shards: []shard{s}, where: map[string]shard{}}
	c.names = s.Names()
	for _, n := range c.names {
		c.where[n] = s
	}
	return c, nil
}

func openShard(path string, isSafetensors bool) (shard, error) {
	if isSafetensors {
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		return stShard{f}, nil
	}
	f, err := torchfile.Open(path)
	if err != nil {
		return nil, err
	}
	return torchShard{f}, nil
}

func indexErr(path, format string, args ...any) error {
	return fmt.Errorf("checkpoint: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrIndex)
}

// Index is a shard index: model.safetensors.index.json or
// pytorch_model.bin.index.json.
type Index struct {
	Metadata  map[string]any    // "metadata", e.g. {"total_size": 6474690560}
	WeightMap map[string]string // tensor name -> shard file name
}

// Shards returns the distinct shard file names of the index, sorted.
func (x *Index) Shards() []string {
	var out []string
	for _, f := range x.WeightMap {
		out = append(out, f)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ReadIndex reads and checks a shard index: a JSON object whose
// "weight_map" maps each tensor name, once, to a shard file name in the same
// directory (no path separators).
func ReadIndex(path string) (*Index, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, MaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	if len(b) > MaxIndexSize {
		return nil, indexErr(path, "more than %d bytes", MaxIndexSize)
	}
	return ParseIndex(path, b)
}

// ParseIndex is ReadIndex of the bytes b; name is used in errors.
func ParseIndex(name string, b []byte) (*Index, error) {
	var raw struct {
		Metadata  map[string]any  `json:"metadata"`
		WeightMap json.RawMessage `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, indexErr(name, "not a JSON object with a weight_map: %v", err)
	}
	if len(raw.WeightMap) == 0 || string(raw.WeightMap) == "null" {
		return nil, indexErr(name, "no weight_map")
	}
	// Decode weight_map token by token: encoding/json would keep the last
	// of two equal keys silently.
	d := json.NewDecoder(bytes.NewReader(raw.WeightMap))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, indexErr(name, "weight_map is not an object")
	}
	x := &Index{Metadata: raw.Metadata, WeightMap: map[string]string{}}
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return nil, indexErr(name, "weight_map: %v", err)
		}
		k := kt.(string) // object keys are strings
		vt, err := d.Token()
		v, ok := vt.(string)
		if err != nil || !ok {
			return nil, indexErr(name, "weight_map[%q] is not a file name", k)
		}
		if prev, dup := x.WeightMap[k]; dup {
			return nil, indexErr(name, "tensor %q appears twice in weight_map (%s and %s)", k, prev, v)
		}
		if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\\x00") {
			return nil, indexErr(name, "weight_map[%q] = %q is not a file name in the index's directory", k, v)
		}
		x.WeightMap[k] = v
	}
	if len(x.WeightMap) == 0 {
		return nil, indexErr(name, "weight_map is empty")
	}
	return x, nil
}

// openIndex opens every shard of an index and checks that each tensor is
// stored in exactly the shard the weight_map names.
func openIndex(path string, isSafetensors bool) (c *Checkpoint, err error) {
	x, err := ReadIndex(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	c = &Checkpoint{path: path, where: map[string]shard{}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	byFile := map[string]shard{}
	for _, file := range x.Shards() {
		p := filepath.Join(dir, file)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("checkpoint: %s lists shard %s, which is missing: %w", path, file, err)
		}
		s, err := openShard(p, isSafetensors)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: shard of %s: %w", path, err)
		}
		c.shards = append(c.shards, s)
		byFile[file] = s
		for _, n := range s.Names() {
			want, listed := x.WeightMap[n]
			switch {
			case !listed:
				return nil, indexErr(path, "shard %s holds tensor %q, which weight_map does not list", file, n)
			case want != file:
				return nil, indexErr(path, "tensor %q is in shard %s but weight_map maps it to %s", n, file, want)
			}
			if prev, dup := c.where[n]; dup {
				return nil, indexErr(path, "tensor %q is in both %s and %s", n, filepath.Base(prev.Path()), file)
			}
			c.where[n] = s
		}
	}
	listed := make([]string, 0, len(x.WeightMap))
	for n := range x.WeightMap {
		listed = append(listed, n)
	}
	sort.Strings(listed)
	for _, n := range listed {
		if _, ok := c.where[n]; !ok {
			return nil, indexErr(path, "weight_map maps tensor %q to %s, which has no such tensor", n, x.WeightMap[n])
		}
	}
	for n := range c.where {
		c.names = append(c.names, n)
	}
	sort.Strings(c.names)
	return c, nil
}

// Evict gives the pages of every mapped file back to the operating
// system: they leave the process's resident memory and are read again
// (from the page cache, or the disk) when next used. Slices obtained from
// the checkpoint stay valid; what was written into them is lost. A
// pipeline calls it on a model it has finished with for now, such as a
// UNet before the VAE decodes.
func (c *Checkpoint) Evict() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, s := range c.shards {
		if err := s.Evict(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every file. Slices obtained from the checkpoint become
// invalid.
func (c *Checkpoint) Close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, s := range c.shards {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.shards = nil
	c.where = nil
	return errors.Join(errs...)
}

// Path returns the file Open chose: the weights file, or the index of a
// sharded checkpoint.
func (c *Checkpoint) Path() string { return c.path }

// Paths returns the paths of the weights files (the shards, for an index).
func (c *Checkpoint) Paths() []string {
	out := make([]string, len(c.shards))
	for i, s := range c.shards {
		out[i] = s.Path()
	}
	return out
}

// Names returns every tensor name, sorted.
func (c *Checkpoint) Names() []string { return slices.Clone(c.names) }

// Info returns the description of the named tensor, and false if there is
// no such tensor.
func (c *Checkpoint) Info(name string) (Info, bool) {
	s, ok := c.where[name]
	if !ok {
		return Info{}, false
	}
	return s.info(name)
}

func (c *Checkpoint) lookup(name string) (shard, error) {
	if c.where == nil {
		return nil, fmt.Errorf("checkpoint: %s: closed", c.path)
	}
	s, ok := c.where[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint: %s: no tensor %q", c.path, name)
	}
	return s, nil
}

// Float32 returns the named tensor as float32 values, row-major: F32 data in
// place where the file allows it (see safetensors.File.Float32 and
// torchfile.File.Float32), F16 and BF16 converted into a new slice.
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	s, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return s.Float32(name)
}

// Bytes returns the named tensor's raw little-endian bytes, row-major.
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	s, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	return s.Bytes(name)
}

// Stored returns the named tensor's bytes where they lie in the file's
// memory mapping, and false if the tensor is unknown or its bytes are not a
// single run of the file (a strided torch view). Callers may use it to tell
// the kernel which pages they no longer need.
func (c *Checkpoint) Stored(name string) ([]byte, bool) {
	s, ok := c.where[name]
	if !ok {
		return nil, false
	}
	return s.stored(name)
}

// Metadata returns the __metadata__ map of a checkpoint that is one
// safetensors file, and an empty map for a torch file or an index of
// shards (whose files may each have their own).
func (c *Checkpoint) Metadata() map[string]string {
	if len(c.shards) == 1 {
		if s, ok := c.shards[0].(stShard); ok {
			return s.File.Metadata()
		}
	}
	return map[string]string{}
}
