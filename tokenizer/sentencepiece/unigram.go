package sentencepiece

import "math"

// unkPenalty is subtracted from the lowest piece score to score an unknown
// character (kUnkPenalty in sentencepiece's unigram_model.cc).
const unkPenalty = 10.0

// span is one piece of a segmentation: normalized[begin:end] with its id.
type span struct {
	begin, end int
	id         int32
}

// unigram segments normalized text with the Viterbi algorithm over the
// lattice of vocabulary pieces, as sentencepiece's optimized encoder does:
// the best path ending at each byte position, pieces found by walking the
// piece trie, one <unk> of score min-10 for a character that no one-character
// piece covers, and user-defined pieces scored length*max-0.1 so that they
// always win. The arithmetic follows the C++ types (float32 path scores,
// float64 candidate sums) so that ties break the same way.
type unigram struct {
	trie     *trie     // NORMAL, USER_DEFINED and UNUSED pieces
	scores   []float64 // by id: the score as the lattice uses it (NaN for UNUSED)
	user     []bool    // by id: USER_DEFINED
	unkID    int32
	minScore float32 // over NORMAL pieces
	maxScore float32 // over NORMAL pieces, starting at FLT_MIN as the C++ does
}

func newUnigram(pieces []Piece, t *trie, unkID int32) *unigram {
	u := &unigram{trie: t, unkID: unkID, minScore: math.MaxFloat32, maxScore: fltMin}
	u.scores = make([]float64, len(pieces))
	u.user = make([]bool, len(pieces))
	for i, p := range pieces {
		u.scores[i] = float64(p.Score)
		if p.Type == Unused {
			u.scores[i] = math.NaN()
		}
		u.user[i] = p.Type == UserDefined
		if p.Type == Normal {
			u.minScore = min(u.minScore, p.Score)
			u.maxScore = max(u.maxScore, p.Score)
		}
	}
	return u
}

// oneCharLen is sentencepiece's OneCharLen: the UTF-8 sequence length that
// a leading byte announces (1 for a stray continuation byte).
func oneCharLen(b byte) int {
	return int("\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x02\x02\x03\x04"[b>>4])
}

// fltMin is C's FLT_MIN, the smallest normal float32.
const fltMin = 1.17549435e-38

type bestNode struct {
	score    float32
	startsAt int32
	id       int32
}

// encode appends the segmentation of s to out.
func (u *unigram) encode(s string, out []span, best []bestNode) ([]span, []bestNode) {
	if s == "" {
		return out, best
	}
	size := len(s)
	if cap(best) < size+1 {
		best = make([]bestNode, size+1)
	}
	best = best[:size+1]
	for i := range best {
		best[i] = bestNode{startsAt: -1}
	}
	best[0].startsAt = 0 // unused; the score of the empty path is 0
	unkScore := u.minScore - unkPenalty
	base, check, value := u.trie.base, u.trie.check, u.trie.value
	for start := 0; start < size; {
		till := best[start].score
		mblen := min(oneCharLen(s[start]), size-start)
		single := false
		node := int32(0)
		for pos := start; pos < size; {
			// The trie's child, inlined.
			next := base[node] + int32(s[pos])
			pos++
			if next <= 0 || int(next) >= len(check) || check[next] != node {
				break
			}
			node = next
			id := value[node]
			if id < 0 {
				continue
			}
			score := u.scores[id]
			if score != score { // NaN: UNUSED
				continue
			}
			length := pos - start
			if u.user[id] {
				score = float64(float32(length)*u.maxScore) - 0.1
			}
			cand := score + float64(till)
			tn := &best[pos]
			if tn.startsAt == -1 || cand > float64(tn.score) {
				tn.score = float32(cand)
				tn.startsAt = int32(start)
				tn.id = id
			}
			if length == mblen {
				single = true
			}
		}
		if !single {
			tn := &best[start+mblen]
			cand := unkScore + till
			if tn.startsAt == -1 || cand > tn.score {
				tn.score = cand
				tn.startsAt = int32(start)
				tn.id = u.unkID
			}
		}
		start += mblen
	}
	// Backtrack, then reverse the new spans in place.
	n0 := len(out)
	for end := size; end > 0; {
		b := best[end]
		out = append(out, span{begin: int(b.startsAt), end: end, id: b.id})
		end = int(b.startsAt)
	}
	for i, j := n0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, best
}
