package index_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/loupe-ml/loupe/index"
)

func Example() {
	opts := index.DefaultOptions() // HNSW, M 16, ef_construction 200
	opts.Dim, opts.Metric = 2, index.L2
	x, err := index.New(opts)
	if err != nil {
		panic(err)
	}
	err = x.Add(index.Batch{
		Vectors: []float32{0, 0, 1, 0, 0, 1, 5, 5},
		IDs:     []uint64{10, 11, 12, 13},
		Meta: []json.RawMessage{
			json.RawMessage(`{"text":"origin"}`), json.RawMessage(`{"text":"east"}`),
			json.RawMessage(`{"text":"north"}`), json.RawMessage(`{"text":"far"}`),
		},
	})
	if err != nil {
		panic(err)
	}
	res, _ := x.Search([]float32{0.9, 0.1}, 2, nil)
	for _, r := range res {
		fmt.Printf("%d %s %.2f\n", r.ID, x.Text(r.ID), r.Distance)
	}
	x.Delete(11)
	res, _ = x.Search([]float32{0.9, 0.1}, 1, nil)
	fmt.Println("after delete:", res[0].ID)

	dir, _ := os.MkdirTemp("", "idx")
	defer os.RemoveAll(dir)
	x.Save(dir)
	y, _ := index.Open(dir)
	defer y.Close()
	res, _ = y.Search([]float32{4, 4}, 1, nil)
	fmt.Println("opened:", y.Len(), res[0].ID)
	// Output:
	// 11 east 0.02
	// 10 origin 0.82
	// after delete: 10
	// opened: 3 13
}
