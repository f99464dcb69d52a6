package hub

import "sync"

// Built-in models are models that live in the program instead of on the hub
// (loupe's default models, embedded in the binary by package defaults).
// ModelDir resolves their references to a local directory before it
// looks at the hub, so every loader that takes a reference reads them.

var (
	builtinMu sync.RWMutex
	builtins  = map[string]func() (string, error){}
)

// RegisterBuiltin makes ref (a hub-style id such as "loupe/kjv-gpt2") name
// a built-in model: dir returns a local directory holding its files. It is
// meant to be called from an init function; registering a ref twice
// panics.
func RegisterBuiltin(ref string, dir func() (string, error)) {
	builtinMu.Lock()
	defer builtinMu.Unlock()
	if _, dup := builtins[ref]; dup {
		panic("hub: RegisterBuiltin called twice for " + ref)
	}
	builtins[ref] = dir
}

// builtin returns the directory resolver of a built-in ref.
func builtin(ref string) (func() (string, error), bool) {
	builtinMu.RLock()
	defer builtinMu.RUnlock()
	f, ok := builtins[ref]
	return f, ok
}
