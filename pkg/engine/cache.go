package engine

import (
	"container/list"
	"sync"
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
