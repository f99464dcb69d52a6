package bpetrain

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// Files are the files Save writes.
var Files = []string{"vocab.json", "merges.txt", "tokenizer.json"}

// Save writes the vocabulary to dir (created if needed) in the formats of
// Hugging Face tokenizers: vocab.json (token → id, in id order),
// merges.txt ("#version: 0.2", then one "left right" pair per line) and a
// tokenizer.json of a byte-level BPE like GPT-2's (ByteLevel pre-tokenizer
// without prefix space, ByteLevel decoder, the special tokens as special
// added tokens). Each file is replaced atomically. tokenizer.Load reads
// the directory; it reads tokenizer.json, and vocab.json + merges.txt
// encode alike (they mark only "<|endoftext|>" as special).
func (r *Result) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bpetrain: %w", err)
	}
	writers := []func(io.Writer) error{r.writeVocab, r.writeMerges, r.writeTokenizerJSON}
	for i, name := range Files {
		if err := atomicfile.Write(filepath.Join(dir, name), func(w io.Writer) error {
			bw := bufio.NewWriter(w)
			if err := writers[i](bw); err != nil {
				return err
			}
			return bw.Flush()
		}); err != nil {
			return fmt.Errorf("bpetrain: %w", err)
		}
	}
	return nil
}

// jsonString returns s as a JSON string, non-ASCII and <, >, & unescaped
// as HF writes them.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// writeVocabObject writes {"token": id, …} in id order.
func (r *Result) writeVocabObject(w io.Writer) error {
	io.WriteString(w, "{")
	for id, tok := range r.Vocab {
		if id > 0 {
			io.WriteString(w, ",")
		}
		w.Write(jsonString(tok))
		fmt.Fprintf(w, ":%d", id)
	}
	_, err := io.WriteString(w, "}")
	return err
}

func (r *Result) writeVocab(w io.Writer) error {
	if err := r.writeVocabObject(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func (r *Result) writeMerges(w io.Writer) error {
	io.WriteString(w, "#version: 0.2\n")
	for _, m := range r.Merges {
		if _, err := fmt.Fprintf(w, "%s %s\n", m[0], m[1]); err != nil {
			return err
		}
	}
	return nil
}

func (r *Result) writeTokenizerJSON(w io.Writer) error {
	type addedToken struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	added := []addedToken{}
	for id, s := range r.SpecialTokens {
		added = append(added, addedToken{ID: id, Content: s, Special: true})
	}
	// Stages as ByteLevelBPETokenizer sets them (add_prefix_space false,
	// trim_offsets false), keys in HF's order.
	type byteLevelStage struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		TrimOffsets    bool   `json:"trim_offsets"`
		UseRegex       bool   `json:"use_regex"`
	}
	byteLevel := func(prefix, trim bool) byteLevelStage {
		return byteLevelStage{"ByteLevel", prefix, trim, true}
	}
	head := []struct {
		key string
		val any
	}{
		{"version", "1.0"},
		{"truncation", nil},
		{"padding", nil},
		{"added_tokens", added},
		{"normalizer", nil},
		{"pre_tokenizer", byteLevel(false, true)},
		{"post_processor", byteLevel(true, false)},
		{"decoder", byteLevel(true, true)},
	}
	io.WriteString(w, "{")
	var v bytes.Buffer
	enc := json.NewEncoder(&v)
	enc.SetEscapeHTML(false)
	for _, kv := range head {
		v.Reset()
		if err := enc.Encode(kv.val); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s:%s,", jsonString(kv.key), bytes.TrimSuffix(v.Bytes(), []byte("\n")))
	}
	io.WriteString(w, `"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":`)
	r.writeVocabObject(w)
	io.WriteString(w, `,"merges":[`)
	for i, m := range r.Merges {
		if i > 0 {
			io.WriteString(w, ",")
		}
		fmt.Fprintf(w, "[%s,%s]", jsonString(m[0]), jsonString(m[1]))
	}
	_, err := io.WriteString(w, "]}}\n")
	return err
}
