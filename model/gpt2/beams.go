package gpt2

import (
	"fmt"

	"github.com/loupe-ml/loupe/internal/reorder"
)

// Beam search keeps several continuations of one prompt in the sequences
// of one State and, after each step, makes every sequence continue one of
// the previous step's sequences (transformers' Cache.reorder_cache). The
// methods here copy cached keys and values between sequences of the same
// State; they allocate nothing.

// CopySeq makes sequence dst a copy of sequence src: its cached keys and
// values at every layer, its length and its last logits and hidden state. dst's previous
// cache is lost. Copying a sequence to itself does nothing.
func (s *State) CopySeq(dst, src int) {
	B := s.opt.Batch
	if dst < 0 || dst >= B || src < 0 || src >= B {
		panic(fmt.Sprintf("gpt2: CopySeq(%d, %d) in a State of batch %d", dst, src, B))
	}
	if dst == src {
		return
	}
	n := s.lens[src] * s.m.Config.NEmbd
	for l := range s.m.Config.NLayer {
		kd, vd := s.cache(l, dst)
		ks, vs := s.cache(l, src)
		copy(kd[:n], ks[:n])
		copy(vd[:n], vs[:n])
	}
	s.lens[dst] = s.lens[src]
	s.hasLog[dst] = s.hasLog[src]
	if s.hasLog[src] {
		V := s.m.Config.VocabSize
		copy(s.logits[dst*V:(dst+1)*V], s.logits[src*V:(src+1)*V])
		C := s.m.Config.NEmbd
		copy(s.hidden[dst*C:(dst+1)*C], s.hidden[src*C:(src+1)*C])
	}
}

// Reorder makes sequence b a copy of what sequence from[b] holds now, for
// every b < len(from), as CopySeq would if each copy read the caches as
// they were before the call. Several sequences may take the same source;
// a sequence whose source is itself is left alone. When the sources form a
// cycle (a permutation), one cache goes through sequence spare, which must
// lie outside [0, len(from)) and whose cache is then lost; spare may be -1
// when from holds no cycle (no sequence both gives and takes). Reorder
// copies each moved sequence once (plus one copy per cycle) and allocates
// nothing for up to 64 sequences.
func (s *State) Reorder(from []int, spare int) {
	reorder.Rows("gpt2", from, spare, s.opt.Batch, s.opt.Batch, s.CopySeq)
}
