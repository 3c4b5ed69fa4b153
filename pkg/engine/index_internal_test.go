package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Concurrent writers of one run's entry (blocked marks from several
// workers, the close, repairs working from older reads) leave exactly one
// index entry, equal to the runs entry.
func TestIndexConcurrentWritersConverge(t *testing.T) {
	s := openTestStore(t, devserver.Options{Port: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for round := range 5 {
		id := fmt.Sprintf("conc-%d", round)
		info := &RunInfo{WorkflowID: id, RunID: fmt.Sprintf("run-%d", round), Type: "Conc", TaskQueue: "q",
			Status: StatusRunning, StartTime: time.Now().UTC()}
		if err := s.createRun(ctx, info); err != nil {
			t.Fatal(err)
		}
		// The close works from an entry read before all the others
		// write (as a worker's close reads it while it appends the closing
		// record): its compare-and-set fails and it reads again.
		stale := s.prefetchRunEntry(ctx, id)
		if _, err := stale.get(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 5 {
					why := ""
					if (w+i)%2 == 0 {
						why = fmt.Sprintf("worker %d says %d", w, i)
					}
					if err := s.setBlocked(ctx, id, info.RunID, why); err != nil {
						t.Error(err)
					}
				}
			})
		}
		key, _ := s.runKey(id)
		for range 2 { // repairs from older reads of the runs entry race too
			wg.Go(func() {
				for range 10 {
					if _, err := s.getRunEntry(ctx, key); err != nil {
						t.Error(err)
					}
				}
			})
		}
		if round%2 == 1 { // the close races with the blocked marks
			wg.Go(func() {
				closing := history.Event{Seq: 7, Time: time.Now().UTC(), Type: history.WorkflowCompleted, Result: json.RawMessage(`"done"`)}
				if err := s.closeRunFrom(ctx, id, info.RunID, &closing, stale); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		e, err := s.runs.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var ri RunInfo
		if err := json.Unmarshal(e.Value(), &ri); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(compactEntry(ri))
		it, err := jetstreamext.GetBatch(ctx, s.JS, s.indexStream(), 100, jetstreamext.GetBatchSubject(s.idxKeyFilter(key)))
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		var last []byte
		for msg, err := range it {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			subjects, last = append(subjects, msg.Subject), msg.Data
		}
		if round%2 == 1 && ri.Status != StatusCompleted {
			t.Fatalf("round %d: the close from a stale read was lost: %+v", round, ri)
		}
		if len(subjects) != 1 || subjects[0] != s.idxSubject(&ri, key) || !bytes.Equal(last, want) {
			t.Fatalf("round %d: index %v %s, runs entry %s (%s)", round, subjects, last, want, s.idxSubject(&ri, key))
		}
	}
}

// A creation checks after its bucket write that its index entry is the
// key's last one. An entry published between its index publish and its
// bucket write (a repair working from an older read of the bucket, on
// another subject, with or without a purge of the creation's entry) is
// found, and the index ends equal to the bucket, one entry.
func TestIndexCreateCheckSeesLaterEntry(t *testing.T) {
	s := openTestStore(t, devserver.Options{Port: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range []struct{ purge, deferred bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		purge := c.purge
		id := fmt.Sprintf("create-check-%v-%v", purge, c.deferred)
		key, _ := s.runKey(id)
		stale := RunInfo{WorkflowID: id, RunID: "old-run", Type: "Old", TaskQueue: "q", Status: StatusCompleted, StartTime: time.Now().UTC()}
		var once sync.Once
		f := func(k, step string) bool {
			if k != key || step != "pre" {
				return false
			}
			first := false
			once.Do(func() { first = true })
			if !first {
				return false
			}
			seq, err := s.publishIndexEntry(ctx, key, &stale, false)
			if err != nil {
				t.Error(err)
			} else if purge {
				if err := s.purgeOlder(ctx, key, seq); err != nil {
					t.Error(err)
				}
			}
			return false
		}
		testHookIndex.Store(&f)
		info := &RunInfo{WorkflowID: id, RunID: "new-run", Type: "New", TaskQueue: "q", Status: StatusRunning, StartTime: time.Now().UTC()}
		cctx, checks := ctx, (*deferredChecks)(nil)
		if c.deferred {
			// As a start does it: the check runs after the creation
			// returns, alongside the start record's append.
			cctx, checks = deferIndexChecks(ctx)
		}
		err := s.createRun(cctx, info)
		testHookIndex.Store(nil)
		if err != nil {
			t.Fatal(err)
		}
		if checks != nil {
			if len(checks.fns) != 1 {
				t.Fatalf("%d checks deferred, want 1", len(checks.fns))
			}
			if err := checks.run(); err != nil {
				t.Fatal(err)
			}
		}
		it, err := jetstreamext.GetBatch(ctx, s.JS, s.indexStream(), 100, jetstreamext.GetBatchSubject(s.idxKeyFilter(key)))
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for msg, err := range it {
			if errors.Is(err, jetstreamext.ErrNoMessages) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			subjects = append(subjects, msg.Subject)
		}
		if len(subjects) != 1 || subjects[0] != s.idxSubject(info, key) {
			t.Fatalf("%+v: index %v, want only %s", c, subjects, s.idxSubject(info, key))
		}
	}
}
