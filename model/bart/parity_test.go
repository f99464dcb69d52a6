package bart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// The golden values come from testdata/reference.py (PyTorch, written as
// transformers' modeling_bart.py / modeling_marian.py compute), regenerated
// with
//
//	/usr/bin/python3 model/bart/testdata/reference.py golden

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
		EmbedSource:   m.EmbedSource,
		EmbedTarget:   m.EmbedTarget,
		ForwardPass:   func(xs, xt []float32) (goldentest.Pass, error) { return goldentest.AsPass(m.ForwardPass(xs, xt)) },
		Start:         c.DecoderStartTokenID,
		SourceVocab:   c.VocabSize,
		Vocab:         c.DecoderVocab,
		Width:         c.DModel,
		Heads:         c.DecoderHeads,
		Layers:        c.DecoderLayers,
		EncoderHeads:  c.EncoderHeads,
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
	for _, name := range []string{"bart", "mbart", "marian"} {
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
			checkModel(t, g, name, m, m.Config.DecoderVocab)

			// A right-padded batch in the reference; rows of their own
			// length here.
			goldentest.CheckPadded(t, g, name, underTest(m), tol)
		})
	}
}

// TestCheckpoints loads checkpoints the reference wrote itself: tiny-bart
// (F32, tied embeddings stored four times), tiny-marian (F16, separate
// source and target vocabularies, untied lm_head, stored sinusoidal
// positions).
func TestCheckpoints(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"tiny-bart", "tiny-marian"} {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			checkModel(t, g, name, m, m.Config.DecoderVocab)
		})
	}
}

// TestLarge checks the opus-mt-en-de geometry (d_model 512, 6+6 layers,
// vocab 58101; random weights) against a golden file made by
//
//	/usr/bin/python3 model/bart/testdata/reference.py golden-large DIR
//
// when LOUPE_BART_LARGE=DIR is set.
func TestLarge(t *testing.T) {
	dir := os.Getenv("LOUPE_BART_LARGE")
	if dir == "" {
		t.Skip("LOUPE_BART_LARGE not set")
	}
	g := openGolden(t, filepath.Join(dir, "golden-large.safetensors"))
	checkModel(t, g, "opus", randomModel(t, g, "opus"), 2048)
}
