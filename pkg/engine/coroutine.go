package engine

import (
	"bytes"
	"fmt"
	"iter"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDeadlockTimeout is how long workflow code may run without yielding
// (blocking on a future, channel, selector or timer, or returning) before it
// is reported as a deadlock: WorkerOptions.DeadlockTimeout.
const DefaultDeadlockTimeout = time.Second

// dispatcher is the deterministic scheduler of one run: every workflow
// goroutine (the main function and each workflow.Go) is a coroutine, and
// exactly one of them runs at any time. A coroutine runs until it blocks on a
// condition (a future, a channel, a selector) or returns; the dispatcher then
// resumes the next coroutine, in creation order, whose condition holds.
// Because the order depends only on the code and the inputs applied, a
// replay of the same inputs takes exactly the same path.
//
// Two rules of workflow code are enforced here, because a breach of either
// would reach beyond its run: the workflow API is called only by the
// coroutine running now (a goroutine started with the go statement that
// calls it is ended: foreign), and a coroutine yields within the deadlock
// timeout (one that does not is abandoned: step). A breach is the
// dispatcher's failure: no coroutine runs after it, and the worker blocks
// the run (run.stopped).
type dispatcher struct {
	coroutines []*coroutine
	// current is the coroutine running now (nil between steps). Every
	// goroutine that calls the workflow API reads it, to learn whether it
	// is that coroutine.
	current atomic.Pointer[coroutine]
	seq     int
	closed  bool
	// deadlock: a coroutine that does not yield within it is abandoned
	// (<= 0: never).
	deadlock time.Duration
	timer    *time.Timer
	// driver is the goroutine that steps the coroutines now (goroutineKey;
	// 0: none), when the deadlock timeout is on: see exec.
	driver atomic.Uintptr
	// stepAt is when the running step began (stepClock, > 0), 0 between
	// steps, and stepGivenUp once exec gave up on the step as deadlocked.
	stepAt atomic.Int64
	// querier is the goroutine running a query handler (0: none).
	querier atomic.Uintptr
	// failure is the first breach of a rule of workflow code.
	failure atomic.Pointer[WorkflowCodeError]
	mu      sync.Mutex
	// abandoned are the coroutines given up as deadlocked (under mu).
	abandoned []*coroutine
}

type coroutine struct {
	name      string
	fn        func()
	started   bool
	done      bool
	closing   bool
	blockedOn func() bool
	// next runs the coroutine until it yields (back) or ends; back, on the
	// coroutine, hands control back to the caller of next. Both are
	// iter.Pull's: see step.
	next func() (struct{}, bool)
	back func(struct{}) bool
	// exited: the coroutine's function has ended (its goroutine is gone),
	// set even for an abandoned coroutine.
	exited   bool
	panicked *PanicError
	// key and id identify the goroutine that runs the coroutine
	// (goroutineKey, and goid when traced: to find it in a stack dump if it
	// gets stuck); that goroutine sets them when it starts.
	traced bool
	key    atomic.Uintptr
	id     atomic.Uint64
	// abandoned: the dispatcher gave up on the coroutine (a deadlock).
	abandoned atomic.Bool
	// waitOn is what the coroutine blocks on (a *future, *channel or
	// *selector; nil if unnamed). The stack query (query.go) asks a
	// blocked coroutine for the program counters of its blocking call
	// (capture sets pcs[:npcs]): nothing is recorded on the hot path.
	waitOn  any
	capture bool
	pcs     [stackDepth]uintptr
	npcs    int
}

// stackDepth bounds the frames taken of a blocking call: the engine's own
// (three to five) and the first few of user code.
const stackDepth = 16

func (d *dispatcher) spawn(name string, fn func()) {
	d.seq++
	if name == "" {
		name = fmt.Sprintf("goroutine-%d", d.seq)
	}
	d.coroutines = append(d.coroutines, &coroutine{
		name:   name,
		fn:     fn,
		traced: d.deadlock > 0,
	})
}

// runUntilBlocked runs coroutines until none can make progress. It returns
// the first panic raised by workflow code, if any. After a failure (a
// coroutine that did not yield in time, a workflow call from a foreign
// goroutine) it runs nothing: the run is to be blocked.
func (d *dispatcher) runUntilBlocked() *PanicError {
	if d.inPlace() {
		return d.runSteps()
	}
	var p *PanicError
	d.exec(func() { p = d.runSteps() })
	return p
}

// inPlace says whether exec runs its function on the calling goroutine.
func (d *dispatcher) inPlace() bool {
	return d.deadlock <= 0 || d.driver.Load() == goroutineKey()
}

func (d *dispatcher) runSteps() *PanicError {
	for {
		progress := false
		for i := 0; i < len(d.coroutines); i++ {
			if d.failure.Load() != nil {
				return nil
			}
			c := d.coroutines[i]
			if c.done {
				continue
			}
			if c.started && c.blockedOn != nil && !c.blockedOn() {
				continue
			}
			d.step(c)
			progress = true
			if c.panicked != nil {
				return c.panicked
			}
		}
		if !progress {
			return nil
		}
	}
}

// exec runs f, which steps coroutines, and reports whether it finished.
//
// With the deadlock timeout on, f runs on a goroutine of its own, the
// driver, and the calling goroutine watches its steps: a step (a coroutine
// running until it yields or returns) that lasts longer than the timeout
// is given up. The coroutine's goroutine cannot be stopped from outside, so
// it is marked to end by itself, without touching the run, when it comes
// back to the engine (foreign, yieldOn, run); the driver, which waits for
// it, then ends too, and exec returns false at once, with the failure
// recorded: the worker disposes of the run and rebuilds it from the
// history. A caller that needs what f computed must not read it then.
//
// One exec can cover many steps (a whole replay is one): the driver and
// the coroutines switch without the scheduler (step), and only the start
// and the end of an exec go through it. Called on the driver, or
// with the timeout off, exec runs f in place.
func (d *dispatcher) exec(f func()) bool {
	if d.inPlace() {
		f()
		return true
	}
	done := make(chan struct{})
	var panicked any
	go func() {
		k := goroutineKey()
		d.driver.Store(k)
		defer func() {
			// Also run when the driver ends after a deadlock
			// (runtime.Goexit): then nobody waits for done.
			panicked = recover()
			d.driver.CompareAndSwap(k, 0)
			close(done)
		}()
		f()
	}()
	if d.timer == nil {
		d.timer = time.NewTimer(d.deadlock)
	} else {
		d.timer.Reset(d.deadlock)
	}
	for {
		select {
		case <-done:
			d.timer.Stop()
			if panicked != nil {
				panic(panicked) // an engine bug: where f would have raised it
			}
			return true
		case <-d.timer.C:
		}
		at := d.stepAt.Load()
		if at <= 0 { // between steps: engine code, which is not timed
			d.timer.Reset(d.deadlock)
			continue
		}
		if ran := time.Duration(stepClock() - at); ran < d.deadlock {
			d.timer.Reset(d.deadlock - ran)
			continue
		}
		if !d.stepAt.CompareAndSwap(at, stepGivenUp) {
			d.timer.Reset(d.deadlock) // it yielded just now
			continue
		}
		d.abandon(d.current.Load())
		return false
	}
}

// stepGivenUp is dispatcher.stepAt once exec gave up on the step.
const stepGivenUp = -1

// stepClock is a monotonic clock in nanoseconds, > 0.
func stepClock() int64 { return int64(time.Since(stepEpoch)) + 1 }

var stepEpoch = time.Now()

// step runs c until it yields or returns. When exec gives up on c (a
// deadlock), step does not return: it lets c end, if c came back blocked,
// and ends the driver.
//
// A coroutine is an iter.Pull: next switches the calling goroutine's thread
// to the coroutine's goroutine, and the coroutine's yield switches it back,
// without the scheduler. (Through channels, each hand-off readied a
// goroutine for the scheduler, which woke another OS thread to run it: 1.2
// to 1.6 µs a switch, a quarter of a replay's CPU.) A coroutine that ends
// with runtime.Goexit makes next end its caller the same way: only a
// goroutine that is to end with it may then call next (close, and a driver
// given up on; run keeps workflow code's own Goexit from reaching next).
func (d *dispatcher) step(c *coroutine) {
	d.current.Store(c)
	if !c.started {
		c.started = true
		c.next, _ = iter.Pull(func(back func(struct{}) bool) {
			c.back = back
			c.run()
		})
	}
	var at int64
	if d.deadlock > 0 {
		at = stepClock()
		d.stepAt.Store(at)
	}
	c.next()
	if at != 0 && !d.stepAt.CompareAndSwap(at, 0) {
		// Given up: the run is no longer this goroutine's to touch.
		if !c.exited {
			c.next() // it sees it is abandoned and ends, and this goroutine with it
		}
		runtime.Goexit()
	}
	d.current.Store(nil)
}

func (c *coroutine) run() {
	c.key.Store(goroutineKey())
	if c.traced {
		c.id.Store(goid())
	}
	returned := false
	defer func() {
		p := recover()
		c.exited = true
		if c.abandoned.Load() {
			return // its run is gone, and what it did with it
		}
		if p != nil {
			c.panicked = &PanicError{Value: fmt.Sprint(p), Stack: string(debug.Stack())}
		}
		c.done = true
		if !returned && p == nil && !c.closing {
			// runtime.Goexit in workflow code. Ending this goroutine
			// would end the dispatcher's with it (step): it counts as
			// returned, and waits here for good instead.
			c.back(struct{}{})
		}
	}()
	c.fn()
	returned = true
}

// yield blocks the calling coroutine until cond holds. It must be called from
// workflow code, i.e. on the goroutine of the current coroutine.
func (d *dispatcher) yield(cond func() bool) { d.yieldOn(nil, cond) }

// yieldOn is yield, naming what the coroutine waits on for the stack query.
func (d *dispatcher) yieldOn(on any, cond func() bool) {
	c := d.caller()
	for !cond() {
		c.blockedOn, c.waitOn = cond, on
		c.back(struct{}{})
		for c.capture {
			// Woken by capture, not by the dispatcher: say where it waits
			// and wait again, here. (Recording the callers at every block
			// instead doubled the cost of a yield: BenchmarkYield.)
			c.npcs = runtime.Callers(1, c.pcs[:])
			c.back(struct{}{})
		}
		if c.closing || c.abandoned.Load() {
			runtime.Goexit()
		}
	}
	c.blockedOn = nil
}

// caller is the coroutine the calling goroutine runs: the current one. A
// query handler must not block (the panic fails the query); any other
// goroutine does not return (foreign).
func (d *dispatcher) caller() *coroutine {
	k := goroutineKey()
	if c := d.current.Load(); c != nil && c.key.Load() == k {
		return c
	}
	if d.querier.Load() == k {
		panic("workflow: a query handler must not block: it only reads the workflow's state")
	}
	d.foreign(k)
	return nil
}

// enter lets a workflow call in: from the current coroutine, or from a
// query handler (which reads the run's state). Any other goroutine does not
// return (foreign).
func (d *dispatcher) enter() {
	k := goroutineKey()
	if c := d.current.Load(); c != nil && c.key.Load() == k || d.querier.Load() == k {
		return
	}
	d.foreign(k)
}

// foreign ends the calling goroutine, which made a workflow call while it
// is not the coroutine running now: it was started with the go statement in
// workflow code (or outlived its run). Nothing recovers a panic on such a
// goroutine, so a panic would kill the worker process, and letting it in
// would corrupt the run: the breach is recorded for the worker to block the
// run, and the goroutine ends (runtime.Goexit runs its deferred calls). A
// coroutine abandoned as deadlocked that comes back ends the same way,
// quietly: its run is gone.
func (d *dispatcher) foreign(k uintptr) {
	d.mu.Lock()
	gone := slices.ContainsFunc(d.abandoned, func(c *coroutine) bool { return c.key.Load() == k })
	d.mu.Unlock()
	if !gone && d.failure.Load() == nil {
		d.failure.CompareAndSwap(nil, foreignCallError())
	}
	runtime.Goexit()
}

// failed is the breach of a rule of workflow code found in the run, or nil.
func (d *dispatcher) failed() *WorkflowCodeError { return d.failure.Load() }

// runQuery runs f, a query handler, on the calling goroutine, which holds
// the run: the workflow calls f makes may read the run's state.
func (d *dispatcher) runQuery(f func()) {
	d.querier.Store(goroutineKey())
	defer d.querier.Store(0)
	f()
}

// capture asks every coroutine blocked now for the program counters of the
// call it blocks in (coroutine.pcs), and returns the coroutines. The caller
// holds the run (no coroutine runs): each blocked one is woken in turn,
// takes its callers and waits again where it was woken, without looking at
// its condition (a stopped run's may hold while no code may run), so the
// dispatcher's next resume finds it as it left it.
func (d *dispatcher) capture() []*coroutine {
	for _, c := range d.coroutines {
		if !c.started || c.done || c.closing || c.abandoned.Load() || c.blockedOn == nil {
			continue
		}
		c.capture = true
		c.next()
		c.capture = false
	}
	return d.coroutines
}

// close unwinds every coroutine that is still blocked, running its deferred
// calls (workflow code too: a deadlock there abandons the coroutine), so
// that no goroutine of the run is left behind. An abandoned coroutine ends
// by itself when it comes back.
//
// A closed coroutine ends with runtime.Goexit, which ends the goroutine
// that called its next too (step): each is closed from a goroutine of its
// own.
func (d *dispatcher) close() {
	if d.closed {
		return
	}
	d.closed = true
	for _, c := range d.coroutines {
		if c.abandoned.Load() || !c.started || c.done {
			continue
		}
		c.closing = true
		d.current.Store(c)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.next()
		}()
		if d.deadlock <= 0 {
			<-done
		} else if !d.waitClosed(c, done) {
			continue
		}
		d.current.Store(nil)
	}
}

// waitClosed waits for coroutine c, being closed, to end or yield, and
// gives it up past the deadlock timeout.
// (A timer of its own: close may run inside an exec, whose watch uses
// d.timer.)
func (d *dispatcher) waitClosed(c *coroutine, done <-chan struct{}) bool {
	t := time.NewTimer(d.deadlock)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	}
	d.abandon(c)
	return false
}

// abandon gives up on coroutine c, which has not yielded within the
// deadlock timeout: it ends by itself when it comes back to the engine.
func (d *dispatcher) abandon(c *coroutine) {
	d.mu.Lock()
	d.abandoned = append(d.abandoned, c) // before current changes: see foreign
	d.mu.Unlock()
	c.abandoned.Store(true)
	d.failure.CompareAndSwap(nil, d.deadlockError(c))
	d.current.Store(nil)
}

// deadlockError describes coroutine c, which has not yielded within the
// deadlock timeout, and where it is stuck.
func (d *dispatcher) deadlockError(c *coroutine) *WorkflowCodeError {
	msg := fmt.Sprintf("workflow goroutine %q did not yield within %s", c.name, d.deadlock)
	if at := stuckAt(c.id.Load()); at != "" {
		msg += ", stuck in " + at
	}
	return &WorkflowCodeError{Code: CodeDeadlock, Message: msg,
		Hint: "workflow code must not block outside the workflow API: use workflow.Go / workflow.Sleep / an activity for I/O"}
}

// foreignCallError describes the workflow call the calling goroutine makes
// (it is not a coroutine): which call, and where in the code.
func foreignCallError() *WorkflowCodeError {
	api, at := "a workflow function", ""
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for more := true; more && at == ""; {
		var f runtime.Frame
		f, more = frames.Next()
		switch {
		case isEngineFrame(f.Function, f.File):
			api = apiName(f.Function) // the outermost one is the call the code made
		case !strings.HasPrefix(f.Function, "runtime."):
			at = fmt.Sprintf(" at %s:%d (%s)", filepath.Base(f.File), f.Line, shortFuncName(f.Function))
		}
	}
	return &WorkflowCodeError{Code: CodeForeignGoroutine,
		Message: api + " was called" + at + " on a goroutine the workflow's scheduler does not run (a go statement in workflow code); that goroutine was ended",
		Hint:    "start goroutines in workflow code with workflow.Go(ctx, func(ctx workflow.Context) {...}), never with the go statement"}
}

// stuckAt says where goroutine id is, from a dump of every goroutine's
// stack (it stops the world: taken only when a deadlock is found): the
// innermost frame of code outside the standard library and the engine,
// e.g. "orders.Workflow (orders.go:42)".
func stuckAt(id uint64) string {
	if id == 0 {
		return ""
	}
	var dump bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&dump, 2); err != nil {
		return ""
	}
	b := dump.Bytes()
	i := bytes.Index(b, []byte("goroutine "+strconv.FormatUint(id, 10)+" "))
	if i < 0 {
		return ""
	}
	b = b[i:]
	if j := bytes.Index(b, []byte("\n\n")); j >= 0 {
		b = b[:j]
	}
	var fallback string
	lines := strings.Split(string(b), "\n")
	for n := 1; n+1 < len(lines); n++ {
		fn, loc := lines[n], lines[n+1]
		if strings.HasPrefix(fn, "\t") || !strings.HasPrefix(loc, "\t") || strings.HasPrefix(fn, "created by ") {
			continue
		}
		if k := strings.LastIndexByte(fn, '('); k > 0 {
			fn = fn[:k]
		}
		loc = strings.TrimSpace(loc)
		if k := strings.LastIndex(loc, " +0x"); k > 0 {
			loc = loc[:k]
		}
		where := fmt.Sprintf("%s (%s)", shortFuncName(fn), filepath.Base(loc))
		switch {
		case isEngineFrame(fn, loc) || strings.HasPrefix(fn, "runtime."):
		case !isStdFunc(fn):
			return where
		case fallback == "":
			fallback = where
		}
	}
	return fallback
}

// enginePkg and workflowPkg are the import paths of the engine and of the
// SDK package that workflow code calls it through.
var (
	enginePkg   = reflect.TypeFor[dispatcher]().PkgPath()
	workflowPkg = path.Dir(enginePkg) + "/sdk/workflow"
)

// isEngineFrame: the frame is in the engine or the workflow package (not
// in their tests).
func isEngineFrame(fn, file string) bool {
	return (strings.HasPrefix(fn, enginePkg+".") || strings.HasPrefix(fn, workflowPkg+".")) && !strings.Contains(file, "_test.go")
}

// isStdFunc: the function's package is in the standard library (its import
// path's first element has no dot), or main.
func isStdFunc(fn string) bool {
	elem := fn
	if i := strings.IndexByte(elem, '/'); i >= 0 {
		elem = elem[:i]
	} else if i := strings.IndexByte(elem, '.'); i >= 0 {
		elem = elem[:i]
	}
	return elem != "main" && !strings.Contains(elem, ".")
}

// shortFuncName drops the import path before the package name:
// "example.com/orders.Workflow.func1" is "orders.Workflow.func1".
func shortFuncName(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// apiName is the name under which workflow code knows an engine function:
// "workflow.Sleep", and "Future.Get" for the method (*future).Get.
func apiName(fn string) string {
	s := shortFuncName(fn)
	if i := strings.Index(s, ".(*"); i >= 0 {
		m := strings.Replace(s[i+3:], ").", ".", 1)
		return strings.ToUpper(m[:1]) + m[1:]
	}
	return s
}
