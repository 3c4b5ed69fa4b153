package history_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
)

func TestFollow(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subj, err := log.Subject("follow me", "run-1")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := log.Subject("someone else", "run-1")
	var last uint64
	appendEv := func(subject string, seq int64, typ history.EventType) {
		t.Helper()
		var expect uint64
		if subject == subj {
			expect = last
		}
		n, err := log.Append(ctx, subject, history.Tail{Seq: expect}, &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: seq, Time: time.Now(), Type: typ}}})
		if err != nil {
			t.Fatal(err)
		}
		if subject == subj {
			last = n
		}
	}
	appendEv(subj, 1, history.WorkflowStarted)
	appendEv(other, 1, history.WorkflowStarted)
	appendEv(subj, 2, history.ActivityScheduled)
	firstTwo := last

	var got []int64
	var seqs []uint64
	for rec, err := range log.Follow(ctx, subj, 0) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Events[0].Seq)
		seqs = append(seqs, rec.StreamSeq)
		if len(got) == 2 {
			// Appended while following: must arrive without polling.
			appendEv(subj, 3, history.ActivityCompleted)
			appendEv(subj, 4, history.WorkflowCompleted)
		}
		if rec.Events[0].Type.IsClosing() {
			break
		}
	}
	if len(got) != 4 || got[0] != 1 || got[3] != 4 || seqs[1] != firstTwo || seqs[3] != last {
		t.Fatalf("followed events %v at stream seqs %v", got, seqs)
	}

	// From a stream sequence: only what came after it.
	got = got[:0]
	for rec, err := range log.Follow(ctx, subj, firstTwo) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.Events[0].Seq)
		if len(got) == 2 {
			break
		}
	}
	if got[0] != 3 || got[1] != 4 {
		t.Fatalf("followed after seq %d: %v", firstTwo, got)
	}

	// Cancelling ends the iteration with the context's error.
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	n := 0
	for _, err := range log.Follow(cctx, subj, 0) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after cancel: %v", err)
			}
			break
		}
		if n++; n == 4 {
			ccancel()
		}
	}
	if n != 4 {
		t.Fatalf("got %d records before cancelling", n)
	}
}
