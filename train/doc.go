// Package train trains and fine-tunes GPT-2 models on a CPU: the loop of
// nanoGPT's train.py and transformers' run_clm, over model/gpt2's forward
// and backward pass.
//
// A step runs GradAccum micro-batches of BatchSize sequences of SeqLen
// tokens forward and backward, adding their gradients (each micro-batch's
// mean cross-entropy divided by GradAccum, as nanoGPT does), clips the
// gradients by their global L2 norm (torch.nn.utils.clip_grad_norm_), sets
// the learning rate of the schedule and takes one AdamW step with PyTorch's
// semantics (torch.optim.AdamW): bias-corrected moments and decoupled weight
// decay, applied only to tensors of two or more dimensions (the embeddings
// and the four weight matrices of each block), never to biases and
// LayerNorm parameters. The LM head is tied to the token embedding, which
// gets one gradient (head plus embedding) and one update.
//
// Schedules: a linear warm-up over Warmup steps (step s < Warmup uses
// LR·(s+1)/Warmup), then either the constant LR or a cosine decay from LR
// at step Warmup to MinLR at the last step.
//
// Data: a token stream split into rows of SeqLen+1 tokens. With
// DataOrder "sequential", micro-batch j (j = step·GradAccum + k) uses rows
// j·B … j·B+B-1, where row r is tokens [r·T, r·T+T] (inputs the first T,
// targets the last T), wrapping around the stream; with GradAccum 1, step s
// uses rows s·B … s·B+B-1. With "random" (the default, as nanoGPT) each
// sequence starts at an offset drawn uniformly from a PCG stream seeded with
// (Seed, micro-batch), so a resumed run draws the same batches. Dropout
// masks are seeded the same way; a run is a deterministic function of its
// options, data and initial weights, and Resume continues it bit for bit.
package train
