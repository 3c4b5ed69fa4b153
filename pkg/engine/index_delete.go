package engine

// Deleting closed runs (dfctl delete, the retention sweep): a workflow
// ID's history (every run of it, with signals and out-of-line payloads),
// its runs bucket entry and its index entries.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DeleteRun deletes a workflow ID whose latest run is closed: the history
// of all its runs, its runs bucket entry and its index entries. A running
// run is refused (ErrInvalidArgument). Deleting an ID that is gone already
// cleans what may be left of it (a delete that stopped half way) and
// returns an ErrWorkflowNotFound error. It returns the entry deleted.
//
// The order makes it safe against a new run of the same ID: the stream
// positions are taken first, the bucket entry is removed only if it is
// still the closed run read (compare-and-set), and only history stored
// before that is purged; the index entries are purged after, and a run
// that took the ID meanwhile is indexed again.
func (s *Store) DeleteRun(ctx context.Context, workflowID string) (*RunInfo, error) {
	key, err := s.runKey(workflowID)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	idx, err := s.indexFor(ctx)
	if err != nil {
		return nil, err
	}
	hist, err := s.JS.Stream(ctx, s.historyStreamOf(s.partOf(workflowID)))
	if err != nil {
		return nil, fmt.Errorf("delete %q: %w", workflowID, unavailable(err))
	}
	histLast := hist.CachedInfo().State.LastSeq
	var deleted *RunInfo
	for attempt := 0; ; attempt++ {
		e, err := s.runs.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("delete %q: %w", workflowID, unavailable(err))
		}
		ri, err := decodeRunInfo(e.Value())
		if err != nil {
			return nil, fmt.Errorf("delete %q: %w", workflowID, err)
		}
		if !ri.Status.IsClosed() {
			return nil, invalidf("workflow %q: run %s is %s: only closed runs are deleted (terminate or cancel it first, then delete it)", workflowID, ri.RunID, ri.Status)
		}
		err = s.runs.Purge(ctx, key, jetstream.LastRevision(e.Revision()))
		if err == nil {
			deleted = &ri
			break
		}
		if !isWrongLastSeq(err) || attempt == 5 {
			return nil, fmt.Errorf("delete %q: remove its runs entry: %w", workflowID, unavailable(err))
		}
	}
	runs, err := s.Log.RunsFilter(workflowID)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	if err := hist.Purge(ctx, jetstream.WithPurgeSubject(runs), jetstream.WithPurgeSequence(histLast+1)); err != nil {
		return nil, fmt.Errorf("delete %q: purge its history: %w", workflowID, unavailable(err))
	}
	if err := idx.Purge(ctx, jetstream.WithPurgeSubject(s.idxKeyFilter(key))); err != nil {
		return nil, fmt.Errorf("delete %q: purge its index entries: %w", workflowID, unavailable(err))
	}
	// A new run of the ID may have been indexed before the purge: index it
	// again from the bucket.
	if e, err := s.runs.Get(ctx, key); err == nil {
		if err := s.indexWrite(ctx, key, e.Value(), e.Revision()); err != nil {
			return nil, fmt.Errorf("delete %q: %w", workflowID, err)
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("delete %q: %w", workflowID, unavailable(err))
	}
	if deleted == nil {
		return nil, fmt.Errorf("%w: no workflow with ID %q (what was left of it is cleaned)", ErrWorkflowNotFound, workflowID)
	}
	return deleted, nil
}

// SweepClosedRuns deletes the workflow IDs whose latest run closed before
// the cutoff (DeleteRun each) and returns how many. Running it twice, or
// from two processes at once, is harmless.
func (s *Store) SweepClosedRuns(ctx context.Context, cutoff time.Time) (int, error) {
	var ids []string
	err := s.ScanRuns(ctx, ListFilter{ClosedBefore: cutoff}, func(ri *RunInfo) error {
		ids = append(ids, ri.WorkflowID)
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := s.DeleteRun(ctx, id); err == nil {
			n++
		} else if !errors.Is(err, ErrWorkflowNotFound) && !errors.Is(err, ErrInvalidArgument) {
			return n, err // ErrInvalidArgument: a new run took the ID meanwhile
		}
	}
	return n, nil
}

// RunRetention deletes closed runs once their close time is older than
// retention, sweeping every interval (0: a tenth of retention, between a
// second and an hour) until ctx ends. Errors are logged and the next sweep
// tries again.
func (s *Store) RunRetention(ctx context.Context, retention, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		interval = min(max(retention/10, time.Second), time.Hour)
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := s.SweepClosedRuns(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("retention sweep", "err", err, "deleted", n)
		case n > 0:
			log.Info("retention sweep: deleted closed runs", "deleted", n, "closed_before", time.Now().Add(-retention).UTC().Format(time.RFC3339))
		}
		t.Reset(interval)
	}
}
