package engine

import (
	"container/list"
	"context"
	"sync"
	"time"
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
}

func newRunCache(max int) *runCache {
	return &runCache{max: max, entries: map[string]*cacheEntry{}, lru: list.New()}
}

// acquire returns the entry of key, locked.
func (c *runCache) acquire(key string) *cacheEntry {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{key: key}
		e.elem = c.lru.PushFront(e)
		c.entries[key] = e
	} else {
		c.lru.MoveToFront(e.elem)
	}
	e.refs++
	c.mu.Unlock()
	e.mu.Lock()
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
