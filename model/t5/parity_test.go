package t5

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// The golden values come from testdata/reference.py (PyTorch, written as
// transformers' modeling_t5.py computes), regenerated with
//
//	/usr/bin/python3 model/t5/testdata/reference.py golden

const tol = 1e-4

// The shared helpers of the parity tests.
var (
	openGolden = goldentest.Open
	maxAbsDiff = goldentest.MaxAbsDiff
)

// randomModel rebuilds golden model name with Random from the config and
// seed the reference stored in the file's metadata.
func randomModel(t testing.TB, g goldentest.File, name string) *Model {
	t.Helper()
	return goldentest.RandomModel(t, g, name, ParseConfig, Random)
}

// underTest is m for goldentest's encoder-decoder checks.
func underTest(m *Model) goldentest.EncDec[*Encoded] {
	c := m.Config
	return goldentest.EncDec[*Encoded]{
		Forward: m.Forward,
		Encode:  m.Encode,
		EncodeCapturing: func(src [][]int) (*Encoded, error) {
			return m.EncodeWith(src, EncodeOptions{CaptureAttention: true})
		},
		NewDecoderFor: func(enc *Encoded, o goldentest.DecoderOptions) (goldentest.Decoder, error) {
			return goldentest.AsDecoder(m.NewDecoderFor(enc, DecoderOptions(o)))
		},
		NewDecoder: func(o goldentest.DecoderOptions) goldentest.Decoder { return m.NewDecoder(DecoderOptions(o)) },
		NewDecoderOn: func(enc *Encoded, row int, o goldentest.DecoderOptions) (goldentest.Decoder, error) {
			d := m.NewDecoder(DecoderOptions(o))
			return d, d.SetSource(0, enc, row)
		},
		LayerLogits:   m.LayerLogits,
		EmbedSource:   m.Embed,
		EmbedTarget:   m.Embed,
		ForwardPass:   func(xs, xt []float32) (goldentest.Pass, error) { return goldentest.AsPass(m.ForwardPass(xs, xt)) },
		Start:         c.DecoderStartTokenID,
		SourceVocab:   c.VocabSize,
		Vocab:         c.VocabSize,
		Width:         c.DModel,
		Heads:         c.Heads,
		Layers:        c.DecoderLayers,
		EncoderHeads:  c.Heads,
		EncoderLayers: c.EncoderLayers,
	}
}

// greedy decodes n tokens after decoder_start_token_id with a Decoder,
// EOS ignored, as the reference does.
func greedy(t testing.TB, m *Model, src []int, n int) []int {
	t.Helper()
	return goldentest.Greedy(t, underTest(m), src, n)
}

// checkModel runs every comparison the golden file holds for name.
func checkModel(t *testing.T, g goldentest.File, name string, m *Model, logitCols int) {
	t.Helper()
	goldentest.CheckModel(t, g, name, underTest(m), logitCols, tol)
}

func TestParity(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"t5", "t5v11", "t5grelu", "t5gelu"} {
		t.Run(name, func(t *testing.T) {
			// Through Save and Load: the file is a Hugging Face layout.
			dir := t.TempDir()
			if err := randomModel(t, g, name).Save(dir, "F32"); err != nil {
				t.Fatal(err)
			}
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkModel(t, g, name, m, m.Config.VocabSize)

			// A right-padded batch with attention masks in the reference;
			// rows of their own length here.
			goldentest.CheckPadded(t, g, name, underTest(m), tol)
		})
	}
}

// TestBuckets compares bucket with torch's _relative_position_bucket for
// every relative position in [-1500, 1500] and several bucket counts and
// distances, both directions.
func TestBuckets(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	const span = 1500
	for _, c := range [][2]int{{32, 128}, {16, 20}, {8, 7}, {6, 1000}} {
		for _, bi := range []bool{true, false} {
			name := fmt.Sprintf("buckets.%d.%d.%s", c[0], c[1], map[bool]string{true: "bi", false: "causal"}[bi])
			want := g.IDs(t, name)
			bad := 0
			for i, w := range want {
				rel := i - span
				if b := bucket(rel, bi, c[0], c[1]); b != w {
					if bad++; bad <= 5 {
						t.Errorf("%s: relative position %d: bucket %d, want %d", name, rel, b, w)
					}
				}
			}
		}
	}
}

// TestCheckpoint loads tiny-t5, a BF16 checkpoint the reference wrote
// itself with the tied copies (encoder/decoder embed_tokens, lm_head) and
// the decoder's unused cross-attention relative bias stored.
func TestCheckpoint(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	m, err := Load(filepath.Join("testdata", "tiny-t5"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	checkModel(t, g, "tiny-t5", m, m.Config.VocabSize)
}

// TestLarge checks the t5-small (v1.0) and flan-t5-small (v1.1) geometries
// (random weights; first 2048 logit columns, argmax over all 32128)
// against a golden file made by
//
//	/usr/bin/python3 model/t5/testdata/reference.py golden-large DIR
//
// when LOUPE_T5_LARGE=DIR is set.
func TestLarge(t *testing.T) {
	dir := os.Getenv("LOUPE_T5_LARGE")
	if dir == "" {
		t.Skip("LOUPE_T5_LARGE not set")
	}
	g := openGolden(t, filepath.Join(dir, "golden-large.safetensors"))
	for _, name := range []string{"t5-small", "flan-t5-small"} {
		t.Run(name, func(t *testing.T) { checkModel(t, g, name, randomModel(t, g, name), 2048) })
	}
}
