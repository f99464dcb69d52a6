package retrieval

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/loupe-ml/loupe/tokenizer"
)

// Fingerprint identifies a tokenizer by what it does rather than by its
// files (tokenizer.json and vocab.json + merges.txt of the same tokenizer
// get the same fingerprint): "sha256:" and the hex SHA-256 of its Go
// type, its vocabulary strings in id order, and the ids each vocabulary
// entry's text encodes to, which depend on the merges (BPE) or on the
// greedy longest match (WordPiece). Two tokenizers with the same
// fingerprint cut every text the same way, except in cases that no
// vocabulary entry's text exercises.
func Fingerprint(tok tokenizer.Tokenizer) string {
	h := sha256.New()
	fmt.Fprintf(h, "%T\n", tok)
	n := tok.VocabSize()
	writeInt(h, n)
	for id := 0; id < n; id++ {
		s := tok.Token(id)
		writeInt(h, len(s))
		h.Write([]byte(s))
	}
	for id := 0; id < n; id++ {
		ids := tok.EncodeText(tok.TokenText(id), tokenizer.EncodeOptions{}).IDs
		writeInt(h, len(ids))
		for _, x := range ids {
			writeInt(h, x)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func writeInt(h hash.Hash, v int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	h.Write(b[:])
}

// shortFingerprint is the start of a fingerprint, for messages.
func shortFingerprint(fp string) string {
	const n = len("sha256:") + 12
	if len(fp) > n {
		return fp[:n]
	}
	return fp
}
