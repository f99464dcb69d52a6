package train

import "fmt"

// Options are the settings of a training run. DefaultOptions gives
// nanoGPT-like values; the zero value is not valid.
type Options struct {
	BatchSize int     `json:"batch_size"` // sequences per micro-batch (B)
	SeqLen    int     `json:"seq_len"`    // tokens per sequence (T), at most the model's n_positions
	Steps     int     `json:"steps"`      // optimizer steps in all (a resumed run counts the earlier ones)
	GradAccum int     `json:"grad_accum"` // micro-batches per step
	LR        float64 `json:"lr"`         // peak learning rate
	MinLR     float64 `json:"min_lr"`     // learning rate at the end of a cosine schedule
	Schedule  string  `json:"schedule"`   // "constant" or "cosine"
	Warmup    int     `json:"warmup"`     // steps of linear warm-up
	// AdamW.
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	GradClip    float64 `json:"grad_clip"`  // maximum global L2 norm of the gradients; 0 turns clipping off
	Dropout     float64 `json:"dropout"`    // dropout probability (GPT-2's embd, attn and resid dropout); 0 turns it off
	Seed        uint64  `json:"seed"`       // seeds data order and dropout
	DataOrder   string  `json:"data_order"` // "random" or "sequential"
	// Evaluation on the held-out tokens.
	EvalEvery   int `json:"eval_every"`   // steps between evaluations (0: only at the end)
	EvalBatches int `json:"eval_batches"` // micro-batches per evaluation (0: the whole held-out set)
	// CheckpointEvery is the number of steps between checkpoints (0: only
	// at the end).
	CheckpointEvery int `json:"checkpoint_every"`
}

// DefaultOptions returns the defaults of loupe train gpt2.
func DefaultOptions() Options {
	return Options{
		BatchSize: 8, SeqLen: 128, Steps: 1000, GradAccum: 1,
		LR: 6e-4, MinLR: 6e-5, Schedule: "cosine", Warmup: 100,
		WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, GradClip: 1,
		Dropout: 0, Seed: 1337, DataOrder: "random",
		EvalEvery: 100, EvalBatches: 20, CheckpointEvery: 500,
	}
}

// OptionError reports an option with a value out of range; Field is the
// Options field.
type OptionError struct {
	Field   string
	Value   any
	Allowed string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("train: %s = %v: want %s", e.Field, e.Value, e.Allowed)
}

// Check reports the first invalid option.
func (o Options) Check() error {
	bad := func(f string, v any, allowed string) error { return &OptionError{f, v, allowed} }
	switch {
	case o.BatchSize < 1:
		return bad("BatchSize", o.BatchSize, "at least 1")
	case o.SeqLen < 1:
		return bad("SeqLen", o.SeqLen, "at least 1")
	case o.Steps < 0:
		return bad("Steps", o.Steps, "0 or more")
	case o.GradAccum < 1:
		return bad("GradAccum", o.GradAccum, "at least 1")
	case !(o.LR > 0 && o.LR < 10):
		return bad("LR", o.LR, "a positive learning rate below 10")
	case !(o.MinLR >= 0 && o.MinLR <= o.LR):
		return bad("MinLR", o.MinLR, "between 0 and LR")
	case o.Schedule != "constant" && o.Schedule != "cosine":
		return bad("Schedule", o.Schedule, "constant or cosine")
	case o.Warmup < 0:
		return bad("Warmup", o.Warmup, "0 or more")
	case !(o.WeightDecay >= 0 && o.WeightDecay < 1e3):
		return bad("WeightDecay", o.WeightDecay, "0 or more")
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return bad("Beta1", o.Beta1, "0 <= beta1 < 1")
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return bad("Beta2", o.Beta2, "0 <= beta2 < 1")
	case !(o.Eps > 0 && o.Eps < 1):
		return bad("Eps", o.Eps, "a small positive number")
	case !(o.GradClip >= 0):
		return bad("GradClip", o.GradClip, "0 (off) or a positive norm")
	case !(o.Dropout >= 0 && o.Dropout < 1):
		return bad("Dropout", o.Dropout, "0 <= p < 1")
	case o.DataOrder != "random" && o.DataOrder != "sequential":
		return bad("DataOrder", o.DataOrder, "random or sequential")
	case o.EvalEvery < 0:
		return bad("EvalEvery", o.EvalEvery, "0 or more")
	case o.EvalBatches < 0:
		return bad("EvalBatches", o.EvalBatches, "0 or more")
	case o.CheckpointEvery < 0:
		return bad("CheckpointEvery", o.CheckpointEvery, "0 or more")
	}
	return nil
}
