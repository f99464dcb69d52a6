package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/safetensors"
)

func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err := safetensors.WriteFile(path, []safetensors.Tensor{
		{Name: "wte.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "ln_f.bias", Shape: []int{3}, Data: []float32{0.1, 0.2, 0.3}, DType: "F16"},
	}, map[string]string{"format": "pt"})
	if err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		data, _ := f.Float32(name)
		fmt.Println(name, info.DType, info.Shape, data)
	}
	fmt.Println(f.Metadata())
	_, err = f.Float32("lm_head.weight")
	fmt.Println(err != nil)
	// Output:
	// ln_f.bias F16 [3] [0.099975586 0.19995117 0.30004883]
	// wte.weight F32 [2 3] [1 2 3 4 5 6]
	// map[format:pt]
	// true
}
