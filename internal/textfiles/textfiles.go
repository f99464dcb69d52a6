// Package textfiles lists the files of a corpus given as a file or a
// directory, as the training commands (word2vec, tokenizer, GPT-2) read
// them.
package textfiles

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// List returns path itself if it is not a directory, or the regular files
// under the directory path, recursively, skipping names that start with a
// dot, sorted by path. It does not read the files.
func List(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}
