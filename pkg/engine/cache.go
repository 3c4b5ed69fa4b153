package engine

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// runCache keeps recently touched runs in memory, suspended where their code
// blocked, so that a decision applies only the new input instead of
// replaying the whole history (the worker is "sticky" for the runs it holds).
// Each entry has its own lock: decisions of one run are serial in a worker.
type runCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*cacheEntry
	lru     *list.List // front: most recently used
}

type cacheEntry struct {
	mu   sync.Mutex
	key  string
	r    *run
	refs int
	elem *list.Element
	used time.Time // when its last task ended (guarded by runCache.mu)
	// deciders counts the workflow-task handlers holding or waiting for
	// the run; queued are inputs handed to them (offer), with their size
	// (both guarded by runCache.mu).
	deciders    int
	queued      []queuedTask
	queuedBytes int
}

// queuedTask is a workflow task handed to the handler that holds its run,
// to be applied in that handler's decision and settled by it.
type queuedTask struct {
	msg  jetstream.Msg
	task workflowTask
}

// mergeBudget bounds the inputs one decision takes from others' tasks: in
// tasks and in bytes of their messages, so that the decision record stays
// far below the server's max payload (1 MiB by default) with the commands
// the code adds.
const (
	mergeMaxTasks = 256
	mergeMaxBytes = 192 << 10
)

// acquireDecider is acquire for a workflow-task handler: while it holds
// or waits for the run, other inputs of the run may be handed to it.
func (c *runCache) acquireDecider(key string, pre []queuedTask) *cacheEntry {
	c.mu.Lock()
	e := c.touch(key)
	e.deciders++
	for _, q := range pre {
		e.queued = append(e.queued, q)
		e.queuedBytes += len(q.msg.Data())
	}
	c.mu.Unlock()
	e.mu.Lock()
	return e
}

// offer hands q to a workflow-task handler that holds or waits for q's
// run, if there is one and its batch has room: that handler applies q's
// input in its next decision (inputs that arrive together, such as the
// completions of a fan-out, make one decision instead of one each) and
// settles q. It reports whether q was handed over.
func (c *runCache) offer(key string, q queuedTask) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	n := len(q.msg.Data())
	if e == nil || e.deciders == 0 || len(e.queued) >= mergeMaxTasks || e.queuedBytes+n > mergeMaxBytes {
		return false
	}
	e.queued = append(e.queued, q)
	e.queuedBytes += n
	return true
}

// take returns the inputs queued for the holder of e, up to what its
// batch (taken so far: tasks, bytes) has room for.
func (c *runCache) take(e *cacheEntry, tasks, bytes int) []queuedTask {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(e.queued) && tasks+n < mergeMaxTasks {
		size := len(e.queued[n].msg.Data())
		if bytes+size > mergeMaxBytes {
			break
		}
		bytes += size
		e.queuedBytes -= size
		n++
	}
	out := e.queued[:n:n]
	e.queued = e.queued[n:]
	if len(e.queued) == 0 {
		e.queued, e.queuedBytes = nil, 0
	}
	return out
}

// releaseDecider is release for a workflow-task handler. Inputs still
// queued go to the next handler waiting for the run or, if none is, back
// to the caller, which must handle them.
func (c *runCache) releaseDecider(e *cacheEntry) []queuedTask {
	c.mu.Lock()
	e.deciders--
	var left []queuedTask
	if e.deciders == 0 {
		left, e.queued, e.queuedBytes = e.queued, nil, 0
	}
	c.mu.Unlock()
	c.release(e)
	return left
}

func newRunCache(max int) *runCache {
	return &runCache{max: max, entries: map[string]*cacheEntry{}, lru: list.New()}
}

// acquire returns the entry of key, locked.
func (c *runCache) acquire(key string) *cacheEntry {
	c.mu.Lock()
	e := c.touch(key)
	c.mu.Unlock()
	e.mu.Lock()
	return e
}

// touch returns the entry of key (made if missing), most recently used,
// with one more reference; the caller holds c.mu.
func (c *runCache) touch(key string) *cacheEntry {
	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{key: key}
		e.elem = c.lru.PushFront(e)
		c.entries[key] = e
	} else {
		c.lru.MoveToFront(e.elem)
	}
	e.refs++
	return e
}

// release unlocks the entry and evicts idle entries beyond the cache size.
func (c *runCache) release(e *cacheEntry) {
	empty := e.r == nil
	e.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	e.used = time.Now()
	if empty && e.refs == 0 {
		c.remove(e)
	}
	for el := c.lru.Back(); el != nil && len(c.entries) > c.max; {
		prev := el.Prev()
		old := el.Value.(*cacheEntry)
		if old.refs == 0 {
			c.remove(old)
			if old.r != nil {
				old.r.dispose()
				old.r = nil
			}
		}
		el = prev
	}
}

// evictIdle disposes of the runs no task has touched since before: a run
// that waits long (a signal, a timer, a child) holds no goroutine or
// memory meanwhile, and replays from its history on its next task. It
// returns how many it evicted.
func (c *runCache) evictIdle(before time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.lru.Back(); el != nil; {
		prev := el.Prev()
		e := el.Value.(*cacheEntry)
		if e.refs == 0 && e.used.Before(before) {
			c.remove(e)
			if e.r != nil {
				e.r.dispose()
				e.r = nil
				n++
			}
		}
		el = prev
	}
	return n
}

func (c *runCache) remove(e *cacheEntry) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
		c.lru.Remove(e.elem)
	}
}

// drop disposes of the entry's run; the caller holds the entry.
func (e *cacheEntry) drop() {
	if e.r != nil {
		e.r.dispose()
		e.r = nil
	}
}

// clear disposes of every idle run (at worker shutdown).
func (c *runCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.refs == 0 && e.r != nil {
			e.r.dispose()
			e.r = nil
		}
	}
	c.entries = map[string]*cacheEntry{}
	c.lru.Init()
}

func (c *runCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// The run cache's defaults (WorkerOptions.CacheSize, CacheIdleTimeout).
const (
	DefaultCacheSize        = 5000
	DefaultCacheIdleTimeout = time.Minute
)

// evictIdleRuns sweeps the cache for runs idle past CacheIdleTimeout, a
// few times per timeout, until ctx is done.
func (w *Worker) evictIdleRuns(ctx context.Context) func() error {
	idle := w.opts.CacheIdleTimeout
	every := min(max(idle/4, 100*time.Millisecond), 15*time.Second)
	return func() error {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tick.C:
				if n := w.cache.evictIdle(now.Add(-idle)); n > 0 {
					w.log.Debug("run cache: idle runs evicted", "runs", n, "idle_for", idle)
				}
			}
		}
	}
}
