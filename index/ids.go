package index

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/npy"
)

// ParseIDList reads an id list as loupe's --ids and --allow flags take it:
// comma separated unsigned integers ("3,17,42"), "@FILE" for a file with
// one id per line (see ReadIDs), or, for compatibility, the bare name of
// such a file.
func ParseIDList(spec string) ([]uint64, error) {
	spec = strings.TrimSpace(spec)
	if name, ok := strings.CutPrefix(spec, "@"); ok {
		return ReadIDsFile(name)
	}
	var ids []uint64
	for _, p := range strings.Split(spec, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		id, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			if st, serr := os.Stat(spec); !strings.Contains(spec, ",") && serr == nil && st.Mode().IsRegular() {
				return ReadIDsFile(spec)
			}
			return nil, fmt.Errorf("index: id %q is not an unsigned integer (give ids as 3,17,42 or @FILE with one per line)", p)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ParseIDLists concatenates the ids of several id lists (ParseIDList).
func ParseIDLists(specs []string) ([]uint64, error) {
	var ids []uint64
	for _, s := range specs {
		more, err := ParseIDList(s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, more...)
	}
	return ids, nil
}

// ReadIDs reads unsigned integer ids, one per line (surrounding spaces and
// blank lines skipped); name names the input in errors.
func ReadIDs(r io.Reader, name string) ([]uint64, error) {
	var ids []uint64
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("index: %s: line %d: id %q is not an unsigned integer", name, line, s)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("index: %s: %w", name, err)
	}
	return ids, nil
}

// ReadIDsFile is ReadIDs of the file at path.
func ReadIDsFile(path string) ([]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	return ReadIDs(f, path)
}

// ReadMetadata reads one JSON object per line, a blank line standing for
// no metadata (a nil entry), as Batch.Meta holds them; name names the
// input in errors.
func ReadMetadata(r io.Reader, name string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := []byte(strings.TrimSpace(sc.Text()))
		if len(b) == 0 {
			out = append(out, nil)
			continue
		}
		if b[0] != '{' || !json.Valid(b) {
			return nil, fmt.Errorf("index: %s: line %d: not a JSON object", name, line)
		}
		out = append(out, json.RawMessage(b))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("index: %s: %w", name, err)
	}
	return out, nil
}

// BatchFiles names the files of a batch, as loupe index build and add
// take them.
type BatchFiles struct {
	// Vectors is a 2-D float32/float64 .npy or an .fvecs file (required).
	Vectors string
	// IDs are id lists (ParseIDList) giving one id per vector, in order,
	// none twice; none means the default ids.
	IDs []string
	// Metadata is a JSON lines file (ReadMetadata) with one line per
	// vector; "" means none.
	Metadata string
}

// Read reads the batch (with Dim set).
func (f BatchFiles) Read() (Batch, error) {
	var b Batch
	data, rows, cols, err := npy.Read(f.Vectors)
	if err != nil {
		return b, fmt.Errorf("index: %w", err)
	}
	if rows == 0 {
		return b, fmt.Errorf("index: %s: no vectors", f.Vectors)
	}
	b.Vectors, b.Dim = data, cols
	if len(f.IDs) > 0 {
		list := strings.Join(f.IDs, " ")
		if b.IDs, err = ParseIDLists(f.IDs); err != nil {
			return b, err
		}
		if len(b.IDs) != rows {
			return b, fmt.Errorf("index: ids %s give %d ids but %s has %d vectors", list, len(b.IDs), f.Vectors, rows)
		}
		seen := make(map[uint64]int, len(b.IDs))
		for i, id := range b.IDs {
			if j, ok := seen[id]; ok {
				return b, fmt.Errorf("index: ids %s gives id %d twice (ids %d and %d, counting from 1)", list, id, j+1, i+1)
			}
			seen[id] = i
		}
	}
	if f.Metadata != "" {
		mf, err := os.Open(f.Metadata)
		if err != nil {
			return b, fmt.Errorf("index: %w", err)
		}
		defer mf.Close()
		if b.Meta, err = ReadMetadata(mf, f.Metadata); err != nil {
			return b, err
		}
		if len(b.Meta) != rows {
			return b, fmt.Errorf("index: %s has %d lines but %s has %d vectors", f.Metadata, len(b.Meta), f.Vectors, rows)
		}
	}
	return b, nil
}

// ReadQueries reads the query vectors of a .npy or .fvecs file for an
// index of dimension dim (an error wrapping ErrDim names both dimensions).
func ReadQueries(path string, dim int) (qs []float32, n int, err error) {
	qs, n, d, err := npy.Read(path)
	if err != nil {
		return nil, 0, fmt.Errorf("index: %w", err)
	}
	if d != dim {
		return nil, 0, fmt.Errorf("index: %s holds %d-dimensional queries but the index is %d-dimensional: %w", path, d, dim, ErrDim)
	}
	return qs, n, nil
}

// ExistsError reports ids being added that are already in the index (not
// deleted). errors.Is(err, ErrExists) holds.
type ExistsError struct {
	IDs    []uint64 // the first few
	N      int      // how many in all
	NextID uint64   // the id an add without ids would start at
}

// ErrExists: an id being added is already in the index.
var ErrExists = errors.New("already in the index")

func (e *ExistsError) Error() string {
	s := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		s[i] = strconv.FormatUint(id, 10)
	}
	more := ""
	if e.N > len(e.IDs) {
		more = fmt.Sprintf(" and %d more", e.N-len(e.IDs))
	}
	return fmt.Sprintf("index: ids already in the index: %s%s", strings.Join(s, ", "), more)
}

func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// CheckNew counts the ids that x already holds (deleted ones aside) and,
// unless replace is set, returns an *ExistsError if there are any.
func (x *Index) CheckNew(ids []uint64, replace bool) (int, error) {
	e := &ExistsError{NextID: x.NextID()}
	for _, id := range ids {
		if x.Has(id) {
			e.N++
			if len(e.IDs) < 5 {
				e.IDs = append(e.IDs, id)
			}
		}
	}
	if e.N > 0 && !replace {
		return 0, e
	}
	return e.N, nil
}
