package search_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
)

func Example() {
	ctx := context.Background()
	// A tiny sentence-transformers model shipped for tests; a hub id such as
	// "sentence-transformers/all-MiniLM-L6-v2" works the same way.
	model := filepath.Join("..", "embed", "testdata", "st")
	opts := search.Options{Model: model, Index: index.DefaultOptions()}
	opts.Index.Kind = index.Flat // exact search
	s, err := search.New(ctx, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	docs := []search.Document{
		{Text: "the cat sat on the mat", Meta: map[string]any{"lang": "en"}},
		{Text: "run a bert model fast on a cpu", Meta: map[string]any{"lang": "en"}},
		{Text: "le chat est sur le tapis", Meta: map[string]any{"lang": "fr"}},
		{Text: "hello world", ID: "greeting", Meta: map[string]any{"lang": "en"}},
	}
	res, err := s.Add(ctx, docs, search.AddOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("added", res.Added, "documents with ids", res.IDs)

	hits, err := s.Search(ctx, "run a bert model fast on a cpu", search.SearchOptions{K: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range hits {
		fmt.Printf("%d. id %d score %.2f %q\n", h.Rank, h.ID, h.Score, h.Text)
	}

	// Only French documents: the condition is compiled once per search.
	opt := search.DefaultSearchOptions()
	opt.Filter = []search.Condition{{Key: "lang", Value: "fr"}}
	hits, err = s.Search(ctx, "a cat", opt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("lang=fr: %d hit, id %d %q\n", len(hits), hits[0].ID, hits[0].Text)
	// Output:
	// added 4 documents with ids [0 1 2 3]
	// 1. id 1 score 1.00 "run a bert model fast on a cpu"
	// 2. id 0 score 0.90 "the cat sat on the mat"
	// lang=fr: 1 hit, id 2 "le chat est sur le tapis"
}
