// Package gpt2 runs OpenAI's GPT-2 family (gpt2, distilgpt2, gpt2-medium,
// gpt2-large, gpt2-xl) from Hugging Face checkpoints on a CPU.
//
// The simplest use loads a checkpoint directory (config.json and the
// weights, as on the hub: model.safetensors, its shard index
// model.safetensors.index.json, pytorch_model.bin or its index, in that
// order of preference; see package checkpoint) and asks for the logits of a
// token sequence:
//
//	m, err := gpt2.Load(dir)
//	...
//	defer m.Close()
//	logits, err := m.Forward(ids, nil) // [len(ids), vocab], row-major
//
// Generation and batched work go through a State, which holds the key/value
// cache of up to Batch sequences and every activation buffer, sized once:
//
//	s := m.NewState(gpt2.StateOptions{Batch: 1, MaxSeq: 64})
//	s.Forward([][]int{prompt}, gpt2.ForwardOptions{}) // prefill
//	next := argmax(s.Logits(0))
//	s.Forward([][]int{{next}}, gpt2.ForwardOptions{}) // decode one token
//
// Each call appends tokens to each sequence's cache; sequences of a batch
// may have different lengths and each has its own positions (there is no
// padding: the rows of all sequences are packed and share the matrix
// multiplies, attention runs per sequence). By default logits are computed
// only at each sequence's last new position; ForwardOptions.AllLogits asks
// for every position. Decoding with a State allocates nothing.
//
// # Model
//
// The network is Hugging Face's modeling_gpt2.py: token plus position
// embeddings, pre-LayerNorm blocks x += attn(ln_1(x)); x += mlp(ln_2(x)),
// a final ln_f and an LM head tied to the token embedding. Weights keep the
// Hugging Face Conv1D layout ([in, out], row-major) and F32 checkpoints are
// used in place from the memory-mapped file; F16 and BF16 ones are converted
// once at load time.
//
// # int8, bf16 and f16 weights
//
// Model.Quantize(Int8), Model.Quantize(BF16) or Model.Quantize(F16), or
// LoadWith with LoadOptions.Quantize, runs the inference pass
// (State.Forward, Model.Forward) with int8, bf16 or f16 weights for every
// block's four linear layers and the LM head (Int8: kernels.QLinear, per
// output channel symmetric int8 weights and per-token dynamic int8
// activations; BF16: kernels.BF16Linear, weights rounded to bfloat16 and
// widened to float32 in the kernel, activations and sums in float32; F16:
// kernels.F16Linear, the same with IEEE float16 weights, a weight beyond
// ±65504 being an error that names its tensor); the token embedding
// lookup reads the (tied) quantized head's rows; the position embeddings,
// LayerNorms, biases, attention and GELU stay float32. The
// float32 Weights are kept for the differentiable pass (ForwardPass and
// Backward stay float32; a training pass on a quantized model is
// ErrQuantizedTraining). Weights mapped from a float32 file are released
// from the resident set as they are quantized.
//
// Model.SaveQuantized writes a quantized model as a directory (int8
// weights in nn.Linear's [out, in] layout with a float32 scale per output,
// or bf16; config.json's quantization_config says so; see QuantMethod for
// the layout) that Load reads directly, without a float32 copy of the
// quantized weights, computing exactly what quantizing at load computes.
// Such a model runs the differentiable pass on weights dequantized on first
// use; training it is an error wrapping ErrStoredQuantized.
//
// # Hook points
//
// A Hook passed in ForwardOptions sees the model's intermediate values, named
// as in the explainability literature (and in loupe's explain package):
//
//	resid_pre   [T, C]        layer input (the residual stream)
//	attn_probs  [nh, T, Tctx] attention probabilities after the causal softmax
//	mlp_act     [T, 4C]       MLP activations after GELU, the input of c_proj
//	resid_post  [T, C]        layer output
//	ln_f        [T, C]        final LayerNorm output (Layer -1)
//
// T is the number of new tokens of one sequence in this call and Tctx the
// number of positions it attends to (cached plus new). Data is the model's own
// buffer: a hook may change it in place (zero a neuron in mlp_act, edit the
// residual stream, reweight attention) and the forward pass continues with the
// changed values. A nil hook costs nothing.
//
// gpt2.InterventionHook scales chosen MLP neurons at "mlp_act"
// (Intervention); package generate attaches hooks to its decoding loop
// through generate.Options.Hook.
//
// # Differentiable pass
//
// forward.go is the inference pass above; backward.go is the
// differentiable one over the same weights, paired as llm.c pairs
// gpt2_forward and gpt2_backward. Model.ForwardPass runs B sequences of T
// input embeddings (Model.Embed gives a sequence's token embeddings, so
// attributions can differentiate them) and keeps the activations;
// Pass.Backward starts from the gradients of chosen logits (each Seed is
// the last position of a prefix of one sequence) and returns the gradient
// with respect to the input embeddings:
//
//	x, _ := m.Embed(ids)
//	p, _ := m.ForwardPass(x, 1, len(ids), gpt2.PassOptions{})
//	dx, _ := p.Backward([]gpt2.Seed{{Seq: 0, Len: len(ids)}}, dlogits, nil)
//
// Given a Grads (laid out like Weights; Config.NewGrads allocates one) it
// also accumulates weight gradients; nil buffers are skipped, so saliency
// pays nothing for them. PassOptions.Interventions applies interventions in
// the pass, and the backward pass follows them.
//
// # Files
//
// Load accepts tensor names with or without the "transformer." prefix,
// ignores the attn.bias and attn.masked_bias buffers, uses lm_head.weight
// when present and different from wte (else the tied wte), checks the presence and shape of every
// tensor and rejects unknown tensors (so a config.json that does not match
// its weights is caught instead of silently mis-run). Errors name the tensor
// and both shapes.
//
// testdata/reference.py is the PyTorch reference the golden files come from.
package gpt2
