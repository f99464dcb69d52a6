package retrieval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/textfiles"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/tokenizer"
)

// DefaultBatchChunks is the number of chunks Build embeds and indexes at a
// time (between two checks of its context and two progress reports).
const DefaultBatchChunks = 512

// ErrStoreExists: Build was asked to write where something already is.
var ErrStoreExists = errors.New("already exists")

// BuildOptions control Build. LM and EmbedModel are required.
type BuildOptions struct {
	// ChunkTokens is the chunk size N in LM tokens (0: DefaultChunkTokens,
	// RETRO's 64). Each chunk is stored with up to as many tokens of
	// continuation.
	ChunkTokens int
	// LM is the language model whose tokenizer cuts the chunks (a hub id
	// or a directory; loupe's default is defaults.GPT2).
	LM string
	// Tokenizer, if set, is LM's tokenizer, already loaded.
	Tokenizer *tokenizer.BPE
	// EmbedModel embeds the chunks: any model package embed loads
	// (loupe's default is defaults.Embed).
	EmbedModel string
	// Embed are the embedding model's options (batch size, precision).
	Embed embed.Options
	// Index are the index's options; the zero value means
	// index.DefaultOptions() (HNSW, cosine).
	Index index.Options
	// Hub resolves hub ids; nil means hub.NewClient().
	Hub *hub.Client
	// Overwrite lets Build replace a store (or anything) at the
	// destination; otherwise that is ErrStoreExists.
	Overwrite bool
	// BatchChunks is the number of chunks embedded at a time (0:
	// DefaultBatchChunks).
	BatchChunks int
	// Progress, if set, is called after each batch with the corpus bytes
	// chunked and embedded so far and their total.
	Progress func(done, total int64)
}

// BuildResult says what Build made.
type BuildResult struct {
	Manifest
	Seconds      float64 // the whole build
	EmbedSeconds float64 // in embedding
	IndexSeconds float64 // in inserting into the index
}

// corpusFile is one file to chunk.
type corpusFile struct {
	path string
	size int64
}

// listSources expands sources (files or directories, as textfiles.List
// does) into files, each once.
func listSources(sources []string) ([]corpusFile, int64, error) {
	var files []corpusFile
	var total int64
	seen := map[string]bool{}
	for _, src := range sources {
		list, err := textfiles.List(src)
		if err != nil {
			return nil, 0, fmt.Errorf("retrieval: corpus: %w", err)
		}
		for _, p := range list {
			p = filepath.Clean(p)
			if seen[p] {
				continue
			}
			seen[p] = true
			st, err := os.Stat(p)
			if err != nil {
				return nil, 0, fmt.Errorf("retrieval: corpus: %w", err)
			}
			files = append(files, corpusFile{p, st.Size()})
			total += st.Size()
		}
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("retrieval: corpus: no files in %s", strings.Join(sources, ", "))
	}
	return files, total, nil
}

// readText reads a corpus file, which must be UTF-8 text.
func readText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("retrieval: corpus: %w", err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("retrieval: corpus: %s is not UTF-8 text", path)
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return "", fmt.Errorf("retrieval: corpus: %s holds NUL bytes: not a text file", path)
	}
	return string(b), nil
}

// chunkDocs tokenizes text and returns its chunks as documents to store,
// with source as their "source".
func chunkDocs(tok *tokenizer.BPE, text, source string, size int) ([]search.Document, int) {
	ids := tok.Encode(text)
	spans := Split(len(ids), size)
	docs := make([]search.Document, len(spans))
	for i, sp := range spans {
		m := chunkMeta{Source: source, Chunk: i, Offset: sp.Start, Tokens: sp.Len(),
			Continuation: tok.Decode(ids[sp.End:sp.ContEnd]), ContinuationTokens: sp.ContEnd - sp.End}
		docs[i] = search.Document{Text: tok.Decode(ids[sp.Start:sp.End]), Meta: m.fields()}
	}
	return docs, len(ids)
}

// Build makes a chunk store in directory dir from the text files of
// sources (files, or directories whose files are read recursively in name
// order, hidden ones left out): each file is tokenized with the LM's
// tokenizer and split into chunks (Split), and the chunks are embedded and
// indexed a batch at a time with their metadata (see Chunk) and the
// manifest ManifestFile.
//
// The store is built in a hidden directory beside dir and renamed to dir
// when complete, so a build that fails, is cancelled (ctx) or is killed
// never leaves a half-written store at dir; a cancelled or failed build
// removes its directory, and the next Build removes what a killed one
// left.
func Build(ctx context.Context, dir string, sources []string, opts BuildOptions) (*BuildResult, error) {
	start := time.Now()
	if opts.ChunkTokens == 0 {
		opts.ChunkTokens = DefaultChunkTokens
	}
	switch {
	case opts.ChunkTokens < 0:
		return nil, &search.OptionError{Field: "ChunkTokens", Value: opts.ChunkTokens, Allowed: "a positive number (0: 64)"}
	case opts.BatchChunks < 0:
		return nil, &search.OptionError{Field: "BatchChunks", Value: opts.BatchChunks, Allowed: "a positive number (0: 512)"}
	case opts.EmbedModel == "":
		return nil, &search.OptionError{Field: "EmbedModel", Value: `""`, Allowed: "a hub id or a model directory"}
	case opts.LM == "":
		return nil, &search.OptionError{Field: "LM", Value: `""`, Allowed: "the language model whose tokenizer cuts the chunks"}
	case dir == "":
		return nil, errors.New("retrieval: no store directory given")
	}
	if opts.BatchChunks == 0 {
		opts.BatchChunks = DefaultBatchChunks
	}
	dir = filepath.Clean(dir)
	if err := checkDest(dir, opts.Overwrite); err != nil {
		return nil, err
	}
	files, total, err := listSources(sources)
	if err != nil {
		return nil, err
	}
	tok := opts.Tokenizer
	if tok == nil {
		if tok, err = LoadTokenizer(ctx, opts.LM, opts.Hub); err != nil {
			return nil, err
		}
	}
	eo := opts.Embed
	if eo.Client == nil {
		eo.Client = opts.Hub
	}
	ss, err := search.New(ctx, search.Options{Model: opts.EmbedModel, Index: opts.Index, Embed: eo})
	if err != nil {
		return nil, err
	}
	defer ss.Close()

	tmp, err := makeTemp(dir)
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()

	res := &BuildResult{Manifest: Manifest{Format: manifestFormat, Version: manifestVersion, ChunkTokens: opts.ChunkTokens,
		LM:         TokenizerID{Model: recordedLM(opts.LM), Fingerprint: Fingerprint(tok), VocabSize: tok.VocabSize()},
		EmbedModel: embed.RecordedModel(opts.EmbedModel), Sources: []SourceInfo{}}}
	if err := addFiles(ctx, ss, tok, files, total, opts.ChunkTokens, opts.BatchChunks, opts.Progress, res); err != nil {
		return nil, err
	}
	if res.Chunks == 0 {
		return nil, fmt.Errorf("retrieval: corpus: no text in %d file(s)", len(files))
	}
	if err := ss.Save(tmp); err != nil {
		return nil, err
	}
	res.NextID = ss.Index().NextID()
	if err := res.Manifest.write(tmp); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := install(tmp, dir, opts.Overwrite); err != nil {
		return nil, err
	}
	done = true
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// addFiles chunks files (of total bytes) with tok into chunks of size
// tokens and adds them to ss batch chunks at a time, recording each file
// in res.Sources and the counts and times in res.
func addFiles(ctx context.Context, ss *search.Store, tok *tokenizer.BPE, files []corpusFile, total int64, size, batch int,
	progress func(done, total int64), res *BuildResult) error {
	var doneBytes int64
	var pending []search.Document
	flush := func(fileDone int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(pending) > 0 {
			r, err := ss.Add(ctx, pending, search.AddOptions{})
			if err != nil {
				return err
			}
			res.EmbedSeconds += r.EmbedSeconds
			res.IndexSeconds += r.IndexSeconds
			pending = pending[:0]
		}
		if progress != nil {
			progress(doneBytes+fileDone, total)
		}
		return nil
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		text, err := readText(f.path)
		if err != nil {
			return err
		}
		docs, ntok := chunkDocs(tok, text, f.path, size)
		res.Sources = append(res.Sources, SourceInfo{Path: f.path, Chunks: len(docs), Tokens: ntok})
		res.Chunks += len(docs)
		res.Tokens += int64(ntok)
		for i := 0; i < len(docs); {
			n := min(batch-len(pending), len(docs)-i)
			pending = append(pending, docs[i:i+n]...)
			i += n
			if len(pending) == batch {
				if err := flush(f.size * int64(i) / int64(len(docs))); err != nil {
					return err
				}
			}
		}
		doneBytes += f.size
	}
	return flush(0)
}

// recordedLM is the LM reference to record: a directory as an absolute
// path, anything else as given.
func recordedLM(ref string) string { return embed.RecordedModel(ref) }

// checkDest returns ErrStoreExists if dir exists and is not an empty
// directory, unless overwrite is set.
func checkDest(dir string, overwrite bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("retrieval: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("retrieval: %s %w and is not a directory", dir, ErrStoreExists)
	}
	if overwrite {
		return nil
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return fmt.Errorf("retrieval: %s %w", dir, ErrStoreExists)
	}
	return nil
}

// tempPrefix is the start of the name of the hidden directories Build
// writes dir's store into and moves an old store to.
func tempPrefix(dir string) string { return "." + filepath.Base(dir) + ".rag-tmp-" }

// pidFile, in a build's temporary directory, holds the building process's
// id, so that a later Build can tell a killed build's directory (removed)
// from a running one's.
const pidFile = "build.pid"

// makeTemp creates the temporary directory to build dir's store in, after
// removing those that killed builds left.
func makeTemp(dir string) (string, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("retrieval: %w", err)
	}
	removeStale(parent, tempPrefix(dir))
	tmp, err := os.MkdirTemp(parent, tempPrefix(dir))
	if err != nil {
		return "", fmt.Errorf("retrieval: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp's 0700 is not a store's mode
		os.RemoveAll(tmp)
		return "", fmt.Errorf("retrieval: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("retrieval: %w", err)
	}
	return tmp, nil
}

// removeStale removes the directories named prefix… in parent whose
// build.pid names a process that is no longer running.
func removeStale(parent, prefix string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(parent, e.Name())
		b, err := os.ReadFile(filepath.Join(p, pidFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !processAlive(pid) {
			os.RemoveAll(p)
		}
	}
}

// install moves the finished store tmp to dir: a rename, after moving an
// existing dir aside when overwrite is set (removed once tmp is in place).
func install(tmp, dir string, overwrite bool) error {
	os.Remove(filepath.Join(tmp, pidFile))
	var old string
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		if entries, _ := os.ReadDir(dir); len(entries) == 0 {
			os.Remove(dir)
		} else if overwrite {
			old = tmp + ".old"
			if err := os.Rename(dir, old); err != nil {
				return fmt.Errorf("retrieval: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("retrieval: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
