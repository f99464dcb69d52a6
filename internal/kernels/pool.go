package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pool is a fixed set of worker goroutines, started on first use and sized
// to GOMAXPROCS at that moment. Parallel hands it ranges of work.
type pool struct {
	once    sync.Once
	workers int
	tasks   chan task
}

type task struct {
	fn     func(lo, hi int)
	lo, hi int
	g      *group
}

// group tracks the ranges of one Parallel call still running elsewhere.
// The caller polls left before it blocks on wg (see Parallel).
type group struct {
	left atomic.Int32
	wg   sync.WaitGroup
}

// done marks one range finished.
func (g *group) done() {
	g.left.Add(-1)
	g.wg.Done()
}

var workPool pool

func (p *pool) start() {
	p.once.Do(func() {
		p.workers = runtime.GOMAXPROCS(0)
		p.tasks = make(chan task, 4*p.workers)
		for i := 0; i < p.workers-1; i++ {
			go p.work()
		}
	})
}

// spinFor is how long a worker keeps polling for the next task after
// finishing one before it parks. Waking a parked goroutine takes a futex
// wake-up of another OS thread, which on a virtual machine costs 100 µs or
// more — a third of a GPT-2 layer's matrix-vector product — while the gaps
// between the kernels of one forward pass are a few microseconds, so a
// worker that has just run a task waits for the next one awake.
const spinFor = 2 * time.Millisecond

// work runs tasks until the pool's channel is closed (never): it polls
// for spinFor after each task, then blocks.
func (p *pool) work() {
	for {
		t, ok := <-p.tasks
		if !ok {
			return
		}
		for {
			t.fn(t.lo, t.hi)
			t.g.done()
			if t, ok = p.poll(); !ok {
				break
			}
		}
	}
}

// poll waits up to spinFor for a task without parking, with a PAUSE
// between looks at the queue.
func (p *pool) poll() (task, bool) {
	deadline := time.Now().Add(spinFor)
	for {
		for range 64 {
			select {
			case t := <-p.tasks:
				return t, true
			default:
			}
			spinPause()
		}
		if time.Now().After(deadline) {
			return task{}, false
		}
	}
}

// Threads is the number of threads kernels split work across.
func Threads() int {
	workPool.start()
	return workPool.workers
}

var groups = sync.Pool{New: func() any { return new(group) }}

// Parallel calls fn over a partition of [0, n) into at most Threads()
// contiguous ranges of at least grain elements each, and returns when all
// calls have finished. The calling goroutine does one of the ranges itself.
// Small n (below 2*grain) runs inline with no synchronisation.
//
// Parallel may be called from inside fn (nested parallelism, such as a
// matrix multiply per attention head): a caller waiting for its ranges
// first runs any queued ranges itself, and a range that finds the queue
// full runs inline, so nesting never deadlocks.
func Parallel(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workPool.start()
	parts := workPool.workers
	if max := n / grain; parts > max {
		parts = max
	}
	if parts <= 1 {
		fn(0, n)
		return
	}
	g := groups.Get().(*group)
	g.left.Store(int32(parts - 1))
	g.wg.Add(parts - 1)
	chunk := (n + parts - 1) / parts
	lo := chunk
	for i := 1; i < parts; i++ {
		hi := lo + chunk
		if hi > n {
			hi = n
		}
		select {
		case workPool.tasks <- task{fn: fn, lo: lo, hi: hi, g: g}:
		default:
			fn(lo, hi)
			g.done()
		}
		lo = hi
	}
	fn(0, chunk)
	// Help with whatever is queued (ours or a nested call's) before
	// blocking: every goroutine that queues work drains the queue before it
	// waits, so queued work always has someone to run it.
	for {
		select {
		case t := <-workPool.tasks:
			t.fn(t.lo, t.hi)
			t.g.done()
			continue
		default:
		}
		break
	}
	// The other ranges are running on workers. Wait for them awake for a
	// while, as the workers wait for tasks (see spinFor): parking here
	// would cost a futex wake-up when the last one finishes.
	deadline := time.Now().Add(spinFor)
	for g.left.Load() > 0 {
		for i := 0; i < 64 && g.left.Load() > 0; i++ {
			spinPause()
		}
		if time.Now().After(deadline) {
			break
		}
	}
	g.wg.Wait()
	groups.Put(g)
}
