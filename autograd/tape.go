package autograd

// Tape records the backward step of each operation as it runs forward, then
// replays them in reverse order. The zero value is ready to use; a nil *Tape
// ignores Record, so passing nil turns gradients off at no cost.
type Tape struct {
	steps []func()
}

// Record appends a backward step. It does nothing on a nil tape.
func (t *Tape) Record(backward func()) {
	if t == nil {
		return
	}
	t.steps = append(t.steps, backward)
}

// Len is the number of recorded steps (0 for a nil tape).
func (t *Tape) Len() int {
	if t == nil {
		return 0
	}
	return len(t.steps)
}

// Backward runs the recorded steps from last to first. The caller seeds the
// gradient of the output before calling it. The tape is left intact so it can
// be replayed with another seed; call Reset to reuse it.
func (t *Tape) Backward() {
	if t == nil {
		return
	}
	for i := len(t.steps) - 1; i >= 0; i-- {
		t.steps[i]()
	}
}

// Reset forgets the recorded steps, keeping the storage.
func (t *Tape) Reset() {
	if t == nil {
		return
	}
	clear(t.steps)
	t.steps = t.steps[:0]
}
