package recommend_test

import (
	"context"
	"fmt"

	"github.com/loupe-ml/loupe/recommend"
)

// Learn item vectors from sessions (item2vec), then compare the embedding
// recommender with the most-popular baseline on held-out sessions.
func Example() {
	syn, err := recommend.Synthesize(recommend.SynthOptions{Items: 200, Groups: 10, Sessions: 3000, Seed: 1})
	if err != nil {
		panic(err)
	}
	train, test := syn.Sessions[:2400], syn.Sessions[2400:]

	opt := recommend.DefaultOptions("") // 32 dimensions, whole-session context
	opt.Threads, opt.Seed = 1, 1        // deterministic
	m, st, err := recommend.TrainSessions(context.Background(), train, opt)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Items, "items from", st.Sessions, "sessions")

	res, err := m.Evaluate(test, recommend.EvalOptions{K: 10})
	if err != nil {
		panic(err)
	}
	fmt.Println("beats most-popular by 3x:", res.Embedding.HitRate > 3*res.Popular.HitRate)

	recs, err := m.ForUser([]string{"i3", "i13", "i23"}, recommend.ProfileOptions{N: 5})
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
