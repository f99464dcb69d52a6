package explain

// TODO(integration): these mirror gpt2.Config/Block/Weights from the
// cross-area contract until model/gpt2 lands; then they become aliases.

// Config is a GPT-2 configuration (the fields of config.json explain needs).
type Config struct {
	NLayer, NHead, NEmbd, NPositions, VocabSize int
	LayerNormEps                                float32
	Activation                                  string // "gelu_new" (tanh) or "gelu" (erf)
}

// Block is one transformer block's weights in Hugging Face Conv1D layout
// ([in, out] row-major).
type Block struct {
	LN1G, LN1B   []float32 // [C]
	AttnW, AttnB []float32 // [C, 3C], [3C]
	AttnProjW    []float32 // [C, C]
	AttnProjB    []float32 // [C]
	LN2G, LN2B   []float32 // [C]
	FCW, FCB     []float32 // [C, 4C], [4C]
	ProjW, ProjB []float32 // [4C, C], [C]
}

// Weights holds all of a GPT-2's parameters; the LM head is tied to WTE.
type Weights struct {
	WTE        []float32 // [V, C]
	WPE        []float32 // [P, C]
	Blocks     []Block
	LNFG, LNFB []float32 // [C]
	LMHead     []float32 // [V, C]; nil means tied to WTE
}
