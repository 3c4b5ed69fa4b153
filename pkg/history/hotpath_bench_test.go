package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

// The history hot paths (issue 12):
//
//	go test -run '^$' -bench . -benchmem ./pkg/history/

// benchDecision is a typical decision record of a one-activity step: an
// activity's completion and the next ActivityScheduled.
func benchDecision(seq int64) history.Record {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond)
	return history.Record{Kind: history.KindDecision, Events: []history.Event{
		{Seq: seq, Time: now, Type: history.ActivityCompleted, InputID: fmt.Sprintf("act:%d:done", seq-1), Cause: seq - 1,
			Name: "main.Charge", Result: json.RawMessage(`{"id":"ch_1","amount":1250}`), Attempt: 1, StartedAt: &now, Identity: "worker-1@host"},
		{Seq: seq + 1, Time: now, Type: history.ActivityScheduled, Name: "main.Ship", Input: json.RawMessage(`["order-1",{"sku":"A-1","qty":2}]`),
			InputDigest: "0123456789abcdef", ActivityOptions: &history.ActivityOptions{TaskQueue: "default",
				StartToCloseTimeout: history.Duration(30 * time.Second)}},
	}}
}

func BenchmarkRecordEncode(b *testing.B) {
	rec := benchDecision(3)
	rec.V = 1
	b.ReportAllocs()
	for b.Loop() {
		if _, err := history.EncodeRecord(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordEncodeStd is encoding/json's encoding of the same record.
func BenchmarkRecordEncodeStd(b *testing.B) {
	rec := benchDecision(3)
	rec.V = 1
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordDecode(b *testing.B) {
	rec := benchDecision(3)
	rec.V = 1
	data, _ := json.Marshal(&rec)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := history.DecodeRecord(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLog is a Log on an embedded server's stream, as engine.Open makes it.
func benchLog(b *testing.B) *history.Log {
	b.Helper()
	srv, err := devserver.Start(devserver.Options{StoreDir: b.TempDir(), InProcessOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	nc, err := srv.Connect()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "BENCH_HISTORY", Subjects: []string{"bench.hist.>"},
		Storage: jetstream.FileStorage, AllowDirect: true, Discard: jetstream.DiscardNew}); err != nil {
		b.Fatal(err)
	}
	return &history.Log{JS: js, Stream: "BENCH_HISTORY", SubjectPrefix: "bench.hist"}
}

// BenchmarkAppend is one decision record appended with the expected last
// subject sequence (one JetStream write and its ack).
func BenchmarkAppend(b *testing.B) {
	l := benchLog(b)
	ctx := context.Background()
	subj, _ := l.Subject("order-1", "run-1")
	var tail history.Tail
	seq := int64(2)
	b.ReportAllocs()
	for b.Loop() {
		rec := benchDecision(seq)
		s, err := l.Append(ctx, subj, tail, &rec)
		if err != nil {
			b.Fatal(err)
		}
		tail.Seq, seq = s, seq+2
	}
}

// BenchmarkReadFrom reads a whole history (100 and 5,000 records) the
// way a worker with an empty cache does.
func BenchmarkReadFrom(b *testing.B) {
	for _, n := range []int{100, 5000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			l := benchLog(b)
			ctx := context.Background()
			subj, _ := l.Subject("order-1", "run-1")
			var tail history.Tail
			for i := range n {
				rec := benchDecision(int64(2 + 2*i))
				s, err := l.Append(ctx, subj, tail, &rec)
				if err != nil {
					b.Fatal(err)
				}
				tail.Seq = s
			}
			b.ReportAllocs()
			for b.Loop() {
				recs, err := l.ReadFrom(ctx, subj, 0)
				if err != nil || len(recs) != n {
					b.Fatalf("read %d records of %d: %v", len(recs), n, err)
				}
			}
		})
	}
}
