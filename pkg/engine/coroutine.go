package engine

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// dispatcher is the deterministic scheduler of one run: every workflow
// goroutine (the main function and each workflow.Go) is a coroutine, and
// exactly one of them runs at any time. A coroutine runs until it blocks on a
// condition (a future, a channel, a selector) or returns; the dispatcher then
// resumes the next coroutine, in creation order, whose condition holds.
// Because the order depends only on the code and the inputs applied, a
// replay of the same inputs takes exactly the same path.
type dispatcher struct {
	coroutines []*coroutine
	current    *coroutine
	seq        int
	closed     bool
}

type coroutine struct {
	name      string
	fn        func()
	started   bool
	done      bool
	closing   bool
	blockedOn func() bool
	resume    chan struct{}
	yielded   chan struct{}
	panicked  *PanicError
}

// exitCoroutine is how a coroutine unwinds when its run is closed.
type exitCoroutine struct{}

func (d *dispatcher) spawn(name string, fn func()) {
	d.seq++
	if name == "" {
		name = fmt.Sprintf("goroutine-%d", d.seq)
	}
	d.coroutines = append(d.coroutines, &coroutine{
		name:    name,
		fn:      fn,
		resume:  make(chan struct{}),
		yielded: make(chan struct{}),
	})
}

// runUntilBlocked runs coroutines until none can make progress. It returns
// the first panic raised by workflow code, if any.
func (d *dispatcher) runUntilBlocked() *PanicError {
	for {
		progress := false
		for i := 0; i < len(d.coroutines); i++ {
			c := d.coroutines[i]
			if c.done {
				continue
			}
			if c.started && c.blockedOn != nil && !c.blockedOn() {
				continue
			}
			d.current = c
			c.step()
			d.current = nil
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

func (c *coroutine) step() {
	if !c.started {
		c.started = true
		go c.run()
	} else {
		c.resume <- struct{}{}
	}
	<-c.yielded
}

func (c *coroutine) run() {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitCoroutine); !ok {
				c.panicked = &PanicError{Value: fmt.Sprint(r), Stack: string(debug.Stack())}
			}
		}
		c.done = true
		c.yielded <- struct{}{}
	}()
	c.fn()
}

// yield blocks the calling coroutine until cond holds. It must be called from
// workflow code, i.e. on the goroutine of the current coroutine.
func (d *dispatcher) yield(cond func() bool) {
	c := d.current
	if c == nil {
		panic("workflow: a blocking workflow call was made outside workflow code (use workflow.Go, not the go statement)")
	}
	for !cond() {
		c.blockedOn = cond
		c.yielded <- struct{}{}
		<-c.resume
		if c.closing {
			runtime.Goexit()
		}
	}
	c.blockedOn = nil
}

// close unwinds every coroutine that is still blocked, running its deferred
// calls, so that no goroutine of the run is left behind.
func (d *dispatcher) close() {
	if d.closed {
		return
	}
	d.closed = true
	for _, c := range d.coroutines {
		if c.started && !c.done {
			c.closing = true
			d.current = c
			c.resume <- struct{}{}
			<-c.yielded
			d.current = nil
		}
	}
}
