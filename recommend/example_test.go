package recommend_test

import (
	"context"
	"fmt"

	"github.com/loupe-ml/loupe/recommend"
)

// Learn item vectors from sessions (item2vec), then compare the embedding
// recommender with the most-popular baseline on held-out sessions.
func Example() {
	so := recommend.DefaultSynthOptions() // the last 20 % of sessions held out
	so.Items, so.Groups, so.Sessions, so.Noise = 200, 10, 3000, 0
	syn, err := recommend.Synthesize(so)
	if err != nil {
		panic(err)
	}
	cut := len(syn.Sessions) - syn.Test
	train, test := syn.Sessions[:cut], syn.Sessions[cut:]

	opt := recommend.DefaultOptions("") // 32 dimensions, whole-session context
	opt.Threads, opt.Seed = 1, 1        // deterministic
	m, st, err := recommend.TrainSessions(context.Background(), train, opt)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Items, "items from", st.Sessions, "sessions")

	res, err := m.Evaluate(test, recommend.DefaultEvalOptions())
	if err != nil {
		panic(err)
	}
	fmt.Println("beats most-popular by 3x:", res.Embedding.HitRate > 3*res.Popular.HitRate)

	po := recommend.DefaultProfileOptions()
	po.N = 5
	recs, err := m.ForUser([]string{"i3", "i13", "i23"}, po)
	if err != nil {
		panic(err)
	}
	inGroup := 0
	for _, r := range recs {
		if syn.Group[r.Word] == syn.Group["i3"] {
			inGroup++
		}
	}
	fmt.Println("recommendations from the user's group:", inGroup >= 4)
	// Output:
	// 200 items from 2400 sessions
	// beats most-popular by 3x: true
	// recommendations from the user's group: true
}
