package kernels

import (
	"runtime"
	"sync"
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
	wg     *sync.WaitGroup
}

var workPool pool

func (p *pool) start() {
	p.once.Do(func() {
		p.workers = runtime.GOMAXPROCS(0)
		p.tasks = make(chan task, 4*p.workers)
		for i := 0; i < p.workers-1; i++ {
			go func() {
				for t := range p.tasks {
					t.fn(t.lo, t.hi)
					t.wg.Done()
				}
			}()
		}
	})
}

// Threads is the number of threads kernels split work across.
func Threads() int {
	workPool.start()
	return workPool.workers
}

var wgPool = sync.Pool{New: func() any { return new(sync.WaitGroup) }}

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
	wg := wgPool.Get().(*sync.WaitGroup)
	wg.Add(parts - 1)
	chunk := (n + parts - 1) / parts
	lo := chunk
	for i := 1; i < parts; i++ {
		hi := lo + chunk
		if hi > n {
			hi = n
		}
		select {
		case workPool.tasks <- task{fn: fn, lo: lo, hi: hi, wg: wg}:
		default:
			fn(lo, hi)
			wg.Done()
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
			t.wg.Done()
			continue
		default:
		}
		break
	}
	wg.Wait()
	wgPool.Put(wg)
}
