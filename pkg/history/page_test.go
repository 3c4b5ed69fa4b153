package history_test

import (
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
)

func TestReadPageAndCount(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	ctx := testsrv.Context(t, 30*time.Second)
	subj, _ := log.Subject("paged", "run-1")
	other, _ := log.Subject("other", "run-1")
	const n = 2500 // more than one batch
	var last, otherLast uint64
	for i := 1; i <= n; i++ {
		var err error
		last, err = log.Append(ctx, subj, history.Tail{Seq: last}, &history.Record{Kind: history.KindDecision, Events: []history.Event{{Seq: int64(i), Time: time.Now(), Type: history.ActivityScheduled}}})
		testsrv.Must(t, err)
		if i%1000 == 0 { // another run's records in between are skipped
			otherLast, err = log.Append(ctx, other, history.Tail{Seq: otherLast}, &history.Record{Kind: history.KindInput, Events: []history.Event{{Seq: int64(i), Type: history.WorkflowStarted}}})
			testsrv.Must(t, err)
		}
	}
	count, err := log.CountRecords(ctx, subj)
	testsrv.Must(t, err)
	if count != n {
		t.Fatalf("CountRecords = %d, want %d", count, n)
	}

	for _, tc := range []struct{ after, limit, want int }{{0, 10, 10}, {0, 1500, 1500}, {1500, 5000, 1000}, {0, 0, 0}} {
		var after uint64
		if tc.after > 0 {
			all, err := log.ReadPage(ctx, subj, 0, tc.after)
			testsrv.Must(t, err)
			after = all[len(all)-1].StreamSeq
		}
		recs, err := log.ReadPage(ctx, subj, after, tc.limit)
		testsrv.Must(t, err)
		if len(recs) != tc.want {
			t.Fatalf("ReadPage(after %d records, limit %d): %d records, want %d", tc.after, tc.limit, len(recs), tc.want)
		}
		for i, r := range recs {
			if want := int64(tc.after + i + 1); r.Events[0].Seq != want || r.StreamSeq <= after {
				t.Fatalf("record %d: event seq %d stream seq %d; want seq %d after %d", i, r.Events[0].Seq, r.StreamSeq, want, after)
			}
			after = r.StreamSeq
		}
	}
}
