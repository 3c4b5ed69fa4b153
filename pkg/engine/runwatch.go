package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// runWatch follows every update of the runs index with one ordered consumer
// per Store and hands each to the waiters of its key. With the watch started
// before a waiter reads the current entry from the stream leader, no update
// can fall between the two, on one server or on a cluster (where a direct
// get may answer from a lagging replica and a plain subscription may not
// have reached every node yet).
type runWatch struct {
	mu      sync.Mutex
	started bool
	err     error
	stop    func()
	waiters map[string]map[chan RunInfo]struct{}
	// mine holds the runs this Store started after the watch was running,
	// until they close: every change of their entries reaches the watch,
	// so a wait for one needs no read of the entry (WaitClosed). The
	// value is the run ID; a key leaves at its run's close (or when
	// another run takes the ID), so the map holds open runs only.
	mine map[string]string
	live bool // the watch delivers changes (its goroutine runs)
}

// noteStarted records that this Store is about to write the runs entry of
// a new run (before the write): if the watch is running, the entry's
// changes from then on all reach it.
func (s *Store) noteStarted(key, runID string) {
	rw := &s.watch
	rw.mu.Lock()
	if rw.live && len(rw.mine) < maxWatchedStarts {
		rw.mine[key] = runID
	}
	rw.mu.Unlock()
}

// maxWatchedStarts bounds the open runs a Store remembers as its own (a
// client that starts long-running workflows by the million keeps no map of
// them all): past it, a wait reads the entry as for any other run.
const maxWatchedStarts = 10000

// forgetStarted drops a run noteStarted recorded whose start failed.
func (s *Store) forgetStarted(key, runID string) {
	rw := &s.watch
	rw.mu.Lock()
	if rw.mine[key] == runID {
		delete(rw.mine, key)
	}
	rw.mu.Unlock()
}

func (s *Store) ensureRunWatch(ctx context.Context) error {
	rw := &s.watch
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.started {
		return nil
	}
	// The watch outlives the caller's context: it serves every later waiter.
	w, err := s.runs.WatchAll(context.WithoutCancel(ctx), jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("runs index: watch: %w", err)
	}
	rw.started = true
	rw.stop = func() { _ = w.Stop() }
	rw.waiters = map[string]map[chan RunInfo]struct{}{}
	rw.mine = map[string]string{}
	rw.live = true
	go func() {
		defer func() {
			// The watch ended (Close): waits read the entry again.
			rw.mu.Lock()
			rw.live = false
			clear(rw.mine)
			rw.mu.Unlock()
		}()
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			// The watch sees every run's changes, other clients' too:
			// only those someone here waits for, or started, are decoded.
			// (A waiter that registers after this look reads the entry
			// itself, this change included.)
			rw.mu.Lock()
			_, waited := rw.waiters[e.Key()]
			_, started := rw.mine[e.Key()]
			rw.mu.Unlock()
			if !waited && !started {
				continue
			}
			var ri RunInfo
			if unmarshalRunInfo(e.Value(), &ri) != nil {
				continue
			}
			rw.mu.Lock()
			for ch := range rw.waiters[e.Key()] {
				offerLatest(ch, ri)
			}
			if id, ok := rw.mine[e.Key()]; ok && (id != ri.RunID || ri.Status.IsClosed()) {
				delete(rw.mine, e.Key())
			}
			rw.mu.Unlock()
		}
	}()
	return nil
}

// offerLatest hands ri to a waiter, replacing an entry it has not read yet:
// the latest entry is what a waiter needs, and several updates can come at
// once (as along a continue-as-new chain). Only one goroutine sends (the
// watch, holding rw.mu), so the last send cannot block.
func offerLatest(ch chan RunInfo, ri RunInfo) {
	select {
	case ch <- ri:
	default:
		select {
		case <-ch:
		default:
		}
		ch <- ri
	}
}

// addWaiter registers a waiter for the changes of key's entry. open
// reports that runID is a run this Store started whose entry has not
// changed to closed (nor to another run) since: the watch will deliver its
// close, so the waiter need not read the entry.
func (s *Store) addWaiter(key, runID string) (ch chan RunInfo, remove func(), open bool) {
	rw := &s.watch
	ch = make(chan RunInfo, 1)
	rw.mu.Lock()
	if rw.waiters[key] == nil {
		rw.waiters[key] = map[chan RunInfo]struct{}{}
	}
	rw.waiters[key][ch] = struct{}{}
	open = runID != "" && rw.mine[key] == runID
	rw.mu.Unlock()
	return ch, func() {
		rw.mu.Lock()
		delete(rw.waiters[key], ch)
		if len(rw.waiters[key]) == 0 {
			delete(rw.waiters, key)
		}
		rw.mu.Unlock()
	}, open
}

// Close stops the store's background watch. The connection stays open.
func (s *Store) Close() {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	if s.watch.stop != nil {
		s.watch.stop()
		s.watch.stop = nil
	}
}

// getRunFromLeader reads a run's index entry through the stream leader
// (the JetStream message-get API, not a direct get that a replica may answer).
func (s *Store) getRunFromLeader(ctx context.Context, key string) (*RunInfo, error) {
	_, data, err := history.LastFromLeader(ctx, s.JS, "KV_"+s.runsBucket(), "$KV."+s.runsBucket()+"."+key, true)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrWorkflowNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("runs index: %w", err)
	}
	var ri RunInfo
	if err := unmarshalRunInfo(data, &ri); err != nil {
		return nil, fmt.Errorf("runs index: %w", err)
	}
	return &ri, nil
}

// errWaitOnly: WaitClosed has nothing to read first.
var errWaitOnly = errors.New("wait for the watch")

// WaitClosed blocks until the run is closed and returns its final state;
// runID "" waits for the latest run of the ID. It never polls.
func (s *Store) WaitClosed(ctx context.Context, workflowID, runID string) (*RunInfo, error) {
	key, err := s.runKey(workflowID)
	if err != nil {
		return nil, err
	}
	if err := s.ensureRunWatch(ctx); err != nil {
		return nil, err
	}
	updates, remove, open := s.addWaiter(key, runID)
	defer remove()
	// check says whether ri settles the wait.
	var check func(ri *RunInfo) (*RunInfo, bool, error)
	check = func(ri *RunInfo) (*RunInfo, bool, error) {
		if runID == "" {
			runID = ri.RunID
		}
		if ri.RunID == runID {
			return ri, ri.Status.IsClosed(), nil
		}
		// A later run took the ID, so ours has closed: read its history.
		d, err := s.Describe(ctx, workflowID, runID)
		if err != nil {
			return nil, false, err
		}
		if d.Status == StatusContinuedAsNew && d.Next != "" {
			// Follow the chain: wait for the run it continues in.
			runID = d.Next
			return check(ri)
		}
		return d, d.Status.IsClosed(), nil
	}
	var ri *RunInfo
	if open {
		// Started here with the watch running: its close has not been
		// seen and will be delivered (one read of the entry less for
		// every `execute`).
		err = errWaitOnly
	} else {
		ri, err = s.getRunFromLeader(ctx, key)
	}
	switch {
	case errors.Is(err, errWaitOnly):
	case errors.Is(err, ErrWorkflowNotFound) && runID != "":
		// Not in the index (an older store?): the history decides.
		d, derr := s.Describe(ctx, workflowID, runID)
		if derr != nil {
			return nil, derr
		}
		if d.Status.IsClosed() {
			return d, nil
		}
	case errors.Is(err, ErrWorkflowNotFound):
		return nil, fmt.Errorf("%w: no workflow with ID %q (dfctl list shows the known ones)", ErrWorkflowNotFound, workflowID)
	case err != nil:
		return nil, err
	default:
		if got, done, err := check(ri); err != nil || done {
			return got, err
		}
	}
	for {
		select {
		case ri := <-updates:
			if got, done, err := check(&ri); err != nil || done {
				return got, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for workflow %q: %w", workflowID, ctx.Err())
		}
	}
}
