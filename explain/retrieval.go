package explain

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// Defaults of the retrieval explanation (Request.Neighbors,
// Request.NeighborContext).
const (
	// DefaultNeighbors is how many kNN-LM neighbours are shown per token.
	DefaultNeighbors = 8
	// DefaultNeighborContext is how many datastore tokens are shown per
	// neighbour: the context ending at the neighbour's position.
	DefaultNeighborContext = 16
	// MaxNeighbors is the most neighbours shown per token.
	MaxNeighbors = 1024
	// MaxNeighborContext is the most datastore tokens shown per neighbour.
	MaxNeighborContext = 256
	// ralmTopTokens is how many passage tokens RALMToken.Top lists.
	ralmTopTokens = 5
	// knnTopPredictions is how many tokens KNNToken.KNNPredictions lists.
	knnTopPredictions = 5
)

// KNN is a kNN-LM (Khandelwal et al. 2020) as an explanation needs it:
// retrieval/knnlm's Adjuster and Datastore, joined by NewKNN, are one.
//
// Adjust is what decoding uses (generate.Options.Adjust), so the tokens
// explained are the ones loupe generate --knn gives. Step computes the same
// interpolation for one final hidden state (the ln_f output) and the
// model's logits there, leaving both slices alone, and says how: every
// retrieved neighbour with its weight in p_kNN, and log p_LM and log p_mix
// over the vocabulary. Context returns at most n datastore tokens ending
// with position pos (the context whose hidden state is the key of pos).
type KNN interface {
	Adjust(row int, hidden, logits []float32) error
	Step(hidden, logits []float32) (*KNNStep, error)
	Context(pos, n int) []int
	Settings() KNNSettings
}

// KNNStep is one kNN-LM interpolation: p_mix = λ·p_kNN + (1−λ)·p_LM.
type KNNStep struct {
	// Neighbors are the retrieved keys, in any order.
	Neighbors []Neighbor
	// LMLogprobs and MixLogprobs are log p_LM and log p_mix over the
	// vocabulary.
	LMLogprobs, MixLogprobs []float32
}

// Neighbor is one retrieved datastore key.
type Neighbor struct {
	Pos      int     // datastore position of the context's last token
	Token    int     // the token stored after it (the value)
	Distance float32 // squared L2 distance of the key to the query
	Weight   float32 // its share of p_kNN
}

// KNNSettings are a kNN-LM's interpolation settings, as the explanation
// reports them.
type KNNSettings struct {
	Datastore   string  `json:"datastore,omitempty"`
	Lambda      float64 `json:"lambda"`
	K           int     `json:"k"`
	Temperature float64 `json:"temperature"`
}

// RALM is in-context retrieval-augmented language modelling (Ram et al.
// 2023) as an explanation needs it: retrieval.RALM, through NewRALM, is
// one. Context is generate.Contexter's: the tokens the model conditions
// on for text (retrieved passages, a separator and text's tail, at most
// budget tokens, ending with text's last token). Retrieved says what the
// last Context call for row retrieved.
type RALM interface {
	Context(ctx context.Context, row int, text []int, budget int) ([]int, error)
	Retrieved(row int) RALMRetrieval
}

// RALMRetrieval is what one RALM retrieval found.
type RALMRetrieval struct {
	// Query is the text searched for (the last QueryTokens tokens of the
	// text).
	Query       string
	QueryTokens int
	// Passages are the retrieved passages, best first.
	Passages []Passage
	// PassageTokens is how many of the context's first tokens are
	// passage text, separators included (the text's tail follows).
	PassageTokens int
	// CutTokens counts the passage tokens left out to fit the budget.
	CutTokens int
}

// Passage is one retrieved passage.
type Passage struct {
	Text   string  `json:"text"`
	Source string  `json:"source,omitempty"`
	Score  float64 `json:"score"`
}

// Retrieval explains a retrieval-augmented generation: Result.Retrieval.
type Retrieval struct {
	KNN  *KNNExplanation  `json:"knn,omitempty"`
	RALM *RALMExplanation `json:"ralm,omitempty"`
}

// KNNExplanation says, for each output token, how kNN-LM's retrieved
// neighbours changed its probability.
type KNNExplanation struct {
	KNNSettings
	// ContextTokens is how many datastore tokens each neighbour's context
	// shows at most.
	ContextTokens int `json:"context_tokens"`
	// Source is where the hidden states and logits came from: "decoding"
	// (recorded while generating, exactly what the sampler saw) or
	// "forward" (one forward pass over the whole sequence, for a given
	// continuation).
	Source string `json:"source"`
	// Tokens has one entry per output token.
	Tokens []KNNToken `json:"tokens"`
}

// KNNToken is kNN-LM's effect on one output token.
type KNNToken struct {
	Position int     `json:"position"` // the token's index in Result.IDs
	ID       int     `json:"id"`
	Token    string  `json:"token"`
	PLM      float64 `json:"p_lm"`  // the model's probability of the token
	PKNN     float64 `json:"p_knn"` // the neighbours' weight on it
	PMix     float64 `json:"p_mix"` // λ·p_kNN + (1−λ)·p_LM
	Change   float64 `json:"change"`
	RankLM   int     `json:"rank_lm"`  // its rank under p_LM (1 = top)
	RankMix  int     `json:"rank_mix"` // its rank under p_mix
	// Retrieved counts the neighbours found (k, or the datastore's size),
	// Agreeing those whose stored token is this token.
	Retrieved int `json:"retrieved"`
	Agreeing  int `json:"agreeing"`
	// KNNPredictions are the tokens p_kNN favours most.
	KNNPredictions []Prediction `json:"knn_predictions"`
	// Neighbors are the neighbours with the largest weight, largest first.
	Neighbors []KNNNeighbor `json:"neighbors"`
}

// KNNNeighbor is one retrieved datastore context.
type KNNNeighbor struct {
	Pos int `json:"pos"` // datastore position of the context's last token
	// Context is the datastore's tokens ending at Pos, for display, and
	// ContextText their text.
	Context     []string `json:"context"`
	ContextText string   `json:"context_text,omitempty"`
	NextID      int      `json:"next_id"` // the token stored after Pos
	Next        string   `json:"next"`
	NextText    string   `json:"next_text,omitempty"`
	Distance    float64  `json:"distance"`
	Weight      float64  `json:"weight"` // share of p_kNN
	Match       bool     `json:"match"`  // the stored token is the output token
}

// RALMExplanation says what in-context RALM put before the prompt and how
// much each output token's attribution falls on it. The retrieval is done
// once, for the prompt, before the first token (the retrieval stride is the
// whole generation): ids[:PassageTokens] are the retrieved passages'
// tokens with their separators (PassageText is their text: what the model
// read, which is less than the passages' own text when CutTokens were cut
// to fit), anything in ids[PassageTokens:PromptStart] more separator, and
// ids[PromptStart:Result.PromptLength] the prompt (its tail, when the
// passages and the output would not fit with all of it).
// Result.PromptLength counts all of them: every token the model was given
// before the output, so attributions, rankings and the other views cover
// the passages as they cover the prompt.
type RALMExplanation struct {
	Query         string    `json:"query,omitempty"`
	QueryTokens   int       `json:"query_tokens,omitempty"`
	PassageTokens int       `json:"passage_tokens"`
	PassageText   string    `json:"passage_text,omitempty"`
	CutTokens     int       `json:"cut_tokens,omitempty"`
	PromptStart   int       `json:"prompt_start"`
	Passages      []Passage `json:"passages"`
	// Method is the attribution method Top ranks by.
	Method string `json:"method"`
	// Tokens has one entry per output token.
	Tokens []RALMToken `json:"tokens"`
}

// RALMToken is how much one output token's attribution falls on the
// retrieved passages.
type RALMToken struct {
	// Share is, per attribution method, the sum of the token's
	// attribution over the passages' tokens (attributions sum to 1).
	Share map[string]float64 `json:"share"`
	// Top are the passage tokens with the largest attribution (Method).
	Top []TokenScore `json:"top"`
}

// TokenScore is a token of the sequence with a score.
type TokenScore struct {
	Position int     `json:"position"`
	Token    string  `json:"token"`
	Score    float64 `json:"score"`
}

// checkRetrieval validates the retrieval settings of a request.
func (r *Request) checkRetrieval() error {
	if r.Neighbors < 0 || r.Neighbors > MaxNeighbors {
		return optionError("neighbors", fmt.Sprint(r.Neighbors), fmt.Sprintf("0 (the default, %d) up to %d", DefaultNeighbors, MaxNeighbors))
	}
	if r.NeighborContext < 0 || r.NeighborContext > MaxNeighborContext {
		return optionError("neighbor_context", fmt.Sprint(r.NeighborContext), fmt.Sprintf("0 (the default, %d) up to %d", DefaultNeighborContext, MaxNeighborContext))
	}
	return nil
}

// recorder is a generate.Adjuster that keeps a copy of every hidden state
// and logits row it is given before passing them on.
type recorder struct {
	knn            KNN
	hidden, logits [][]float32
}

func (r *recorder) Adjust(row int, hidden, logits []float32) error {
	r.hidden = append(r.hidden, slices.Clone(hidden))
	r.logits = append(r.logits, slices.Clone(logits))
	return r.knn.Adjust(row, hidden, logits)
}

// finalStates returns the ln_f output and the logits at positions
// from..len(ids)-2 of one forward pass over ids: what predicted each of
// ids[from+1:].
func finalStates(m *gpt2.Model, ids []int, from int) (hs, ls [][]float32, err error) {
	C, V := m.Config.NEmbd, m.Config.VocabSize
	h := make([]float32, len(ids)*C)
	logits, err := m.Forward(ids, func(a *gpt2.Activation) {
		if a.Name == "ln_f" && a.Seq == 0 {
			copy(h[a.Pos*C:], a.Data[:a.Shape[0]*C])
		}
	})
	if err != nil {
		return nil, nil, err
	}
	for p := from; p < len(ids)-1; p++ {
		hs = append(hs, h[p*C:(p+1)*C])
		ls = append(ls, logits[p*V:(p+1)*V])
	}
	return hs, ls, nil
}

// knnExplanation explains the output tokens ids[promptLen:] from the hidden
// states and logits that predicted them.
func knnExplanation(knn KNN, ids []int, promptLen int, hidden, logits [][]float32, shown, ctxTokens int, text func(int) string, decode func([]int) string) (*KNNExplanation, error) {
	x := &KNNExplanation{KNNSettings: knn.Settings(), ContextTokens: ctxTokens, Tokens: []KNNToken{}}
	for i := range hidden {
		pos := promptLen + i
		id := ids[pos]
		st, err := knn.Step(hidden[i], logits[i])
		if err != nil {
			return nil, err
		}
		V := len(logits[i])
		if len(st.LMLogprobs) != V || len(st.MixLogprobs) != V {
			return nil, fmt.Errorf("explain: kNN-LM step for output token %d gave %d and %d log-probabilities for a vocabulary of %d", i, len(st.LMLogprobs), len(st.MixLogprobs), V)
		}
		t := KNNToken{Position: pos, ID: id, Token: text(id), Retrieved: len(st.Neighbors), Neighbors: []KNNNeighbor{}}
		t.PLM = math.Exp(float64(st.LMLogprobs[id]))
		t.PMix = math.Exp(float64(st.MixLogprobs[id]))
		t.Change = t.PMix - t.PLM
		t.RankLM, t.RankMix = rankOf(st.LMLogprobs, id), rankOf(st.MixLogprobs, id)
		byTok := map[int]float64{}
		for _, n := range st.Neighbors {
			byTok[n.Token] += float64(n.Weight)
			if n.Token == id {
				t.Agreeing++
			}
		}
		t.PKNN = byTok[id]
		t.KNNPredictions = knnPredictions(byTok, knnTopPredictions, text)
		ns := slices.Clone(st.Neighbors)
		sort.SliceStable(ns, func(a, b int) bool {
			if ns[a].Weight != ns[b].Weight {
				return ns[a].Weight > ns[b].Weight
			}
			return ns[a].Distance < ns[b].Distance
		})
		for _, n := range ns[:min(shown, len(ns))] {
			c := knn.Context(n.Pos, ctxTokens)
			kn := KNNNeighbor{Pos: n.Pos, NextID: n.Token, Next: text(n.Token), Distance: float64(n.Distance), Weight: float64(n.Weight), Match: n.Token == id, Context: []string{}}
			for _, cid := range c {
				kn.Context = append(kn.Context, text(cid))
			}
			if decode != nil {
				kn.ContextText, kn.NextText = decode(c), decode([]int{n.Token})
			}
			t.Neighbors = append(t.Neighbors, kn)
		}
		x.Tokens = append(x.Tokens, t)
	}
	return x, nil
}

// knnPredictions returns the k tokens with the largest p_kNN, largest first
// (smaller id first on ties).
func knnPredictions(p map[int]float64, k int, text func(int) string) []Prediction {
	out := make([]Prediction, 0, len(p))
	for id, v := range p {
		out = append(out, Prediction{ID: id, Token: text(id), Prob: v})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Prob != out[b].Prob {
			return out[a].Prob > out[b].Prob
		}
		return out[a].ID < out[b].ID
	})
	return out[:min(k, len(out))]
}

// ralmExplanation sums each output token's attributions over the passage
// tokens of res.
func ralmExplanation(res *Result, got RALMRetrieval, promptStart int) *RALMExplanation {
	n := got.PassageTokens
	x := &RALMExplanation{Query: got.Query, QueryTokens: got.QueryTokens, PassageTokens: n, CutTokens: got.CutTokens,
		PromptStart: promptStart, Passages: got.Passages, Tokens: []RALMToken{}}
	if x.Passages == nil {
		x.Passages = []Passage{}
	}
	methods := sortedMethods(res.Attributions)
	if len(methods) == 0 {
		return x
	}
	x.Method = methods[0]
	if slices.Contains(methods, MethodGradXInput) {
		x.Method = MethodGradXInput
	}
	G := len(res.IDs) - res.PromptLength
	for i := 0; i < G; i++ {
		t := RALMToken{Share: map[string]float64{}, Top: []TokenScore{}}
		for _, m := range methods {
			var s float64
			for _, v := range res.Attributions[m][i][:n] {
				s += v
			}
			t.Share[m] = s
		}
		scores := res.Attributions[x.Method][i][:n]
		idx := make([]int, n)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
		for _, j := range idx[:min(ralmTopTokens, n)] {
			t.Top = append(t.Top, TokenScore{Position: j, Token: res.Tokens[j], Score: scores[j]})
		}
		x.Tokens = append(x.Tokens, t)
	}
	return x
}

// promptStartIn returns where text's tail begins in a RALM context that
// ends with it after passage tokens: the start of the longest suffix of
// context past the passage that is a suffix of text.
func promptStartIn(context, text []int, passage int) int {
	k := 0
	for k < len(context)-passage && k < len(text) && context[len(context)-1-k] == text[len(text)-1-k] {
		k++
	}
	return len(context) - k
}
