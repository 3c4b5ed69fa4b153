package history_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// appendLong appends n one-event records on subj, with another run's
// records in between, and returns their stream sequences.
func appendLong(t *testing.T, log *history.Log, subj, other string, n int) []uint64 {
	t.Helper()
	ctx := testsrv.Context(t, 60*time.Second)
	var seqs []uint64
	var last, otherLast uint64
	for i := 1; i <= n; i++ {
		var err error
		last, err = log.Append(ctx, subj, history.Tail{Seq: last}, &history.Record{Kind: history.KindDecision,
			Events: []history.Event{{Seq: int64(i), Time: time.Now(), Type: history.ActivityScheduled, Name: "Step"}}})
		testsrv.Must(t, err)
		seqs = append(seqs, last)
		if i%7 == 0 {
			otherLast, err = log.Append(ctx, other, history.Tail{Seq: otherLast}, &history.Record{Kind: history.KindInput,
				Events: []history.Event{{Seq: int64(i), Type: history.WorkflowStarted}}})
			testsrv.Must(t, err)
		}
	}
	return seqs
}

// checkRead reads subj after stream sequence after and checks that it got
// exactly the records at seqs, in order, with the events appended.
func checkRead(t *testing.T, log *history.Log, subj string, after uint64, seqs []uint64) {
	t.Helper()
	recs, err := log.ReadFrom(testsrv.Context(t, 30*time.Second), subj, after)
	testsrv.Must(t, err)
	if len(recs) != len(seqs) {
		t.Fatalf("read %d records after seq %d, want %d", len(recs), after, len(seqs))
	}
	for i, rec := range recs {
		if rec.StreamSeq != seqs[i] || len(rec.Events) != 1 || rec.Events[0].Name != "Step" {
			t.Fatalf("record %d: seq %d %+v, want seq %d", i, rec.StreamSeq, rec.Events, seqs[i])
		}
	}
}

// A long history (more than one batched direct get can answer, and at
// least consumerReadMin more) is read through a consumer, completely, in
// order, without another run's records, and the consumer is deleted.
func TestLongReadThroughConsumer(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	subj, _ := log.Subject("long", "run-1")
	other, _ := log.Subject("other", "run-1")
	seqs := appendLong(t, log, subj, other, 2600)
	ctx := testsrv.Context(t, 30*time.Second)
	stream, err := log.JS.Stream(ctx, log.StreamOf(subj))
	testsrv.Must(t, err)
	info, err := stream.Info(ctx)
	testsrv.Must(t, err)
	consumers := info.State.Consumers

	before := history.ConsumerReads()
	checkRead(t, log, subj, 0, seqs)
	checkRead(t, log, subj, seqs[99], seqs[100:])
	if got := history.ConsumerReads() - before; got != 2 {
		t.Fatalf("%d reads went through a consumer, want 2", got)
	}
	history.SetConsumerPull(t, 300) // the rest in several pulls
	checkRead(t, log, subj, 0, seqs)
	if got := history.ConsumerReads() - before; got != 3 {
		t.Fatalf("%d reads went through a consumer, want 3", got)
	}
	checkRead(t, log, subj, seqs[2000], seqs[2001:]) // short: direct gets only
	if got := history.ConsumerReads() - before; got != 3 {
		t.Fatalf("a read of 599 records went through a consumer")
	}
	testsrv.WaitFor(t, ctx, "the read's consumers deleted", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Consumers == consumers
	})
}

// Where no consumer can be made (here the stream allows one, taken), a long
// read is as complete through batched direct gets alone.
func TestLongReadWithoutConsumer(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{StoreDir: t.TempDir(), InProcessOnly: true})
	testsrv.Must(t, err)
	t.Cleanup(srv.Stop)
	nc, err := srv.Connect()
	testsrv.Must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	testsrv.Must(t, err)
	ctx := context.Background()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ONE_CONSUMER", Subjects: []string{"one.hist.>"},
		Storage: jetstream.FileStorage, AllowDirect: true, MaxConsumers: 1})
	testsrv.Must(t, err)
	_, err = stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "taken", AckPolicy: jetstream.AckExplicitPolicy})
	testsrv.Must(t, err)
	log := &history.Log{JS: js, Stream: "ONE_CONSUMER", SubjectPrefix: "one.hist"}
	subj, _ := log.Subject("long", "run-1")
	other, _ := log.Subject("other", "run-1")
	seqs := appendLong(t, log, subj, other, 2200)

	before := history.ConsumerReads()
	checkRead(t, log, subj, 0, seqs)
	if history.ConsumerReads() != before {
		t.Fatal("a read went through a consumer the stream cannot have")
	}
	raw, err := log.ReadRaw(ctx, subj, 0)
	testsrv.Must(t, err)
	if len(raw) != len(seqs) || !bytes.Contains(raw[len(raw)-1].Data, []byte(`"Step"`)) {
		t.Fatalf("raw read: %d messages, want %d", len(raw), len(seqs))
	}
}

// A reader whose permissions do not allow consumers (a read-only viewer:
// direct gets only) reads a long history completely, and waits for the
// unanswered consumer request once, briefly, not on every read.
func TestLongReadWithoutConsumerPermission(t *testing.T) {
	viewer := &server.Permissions{Publish: &server.SubjectPermission{
		Allow: []string{"$JS.API.DIRECT.GET.>", "$JS.API.STREAM.MSG.GET.>", "$JS.API.STREAM.INFO.>", "$JS.API.INFO"},
	}}
	srv := testsrv.StartWithUsers(t, &server.User{Username: "admin", Password: "a"}, &server.User{Username: "viewer", Password: "v", Permissions: viewer})
	connect := func(user, pass string) jetstream.JetStream {
		nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(user, pass), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
		testsrv.Must(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		testsrv.Must(t, err)
		return js
	}
	admin := connect("admin", "a")
	ctx := testsrv.Context(t, 60*time.Second)
	_, err := admin.CreateStream(ctx, jetstream.StreamConfig{Name: "VIEWED", Subjects: []string{"viewed.hist.>"},
		Storage: jetstream.FileStorage, AllowDirect: true})
	testsrv.Must(t, err)
	writer := &history.Log{JS: admin, Stream: "VIEWED", SubjectPrefix: "viewed.hist"}
	subj, _ := writer.Subject("long", "run-1")
	other, _ := writer.Subject("other", "run-1")
	seqs := appendLong(t, writer, subj, other, 1200)

	log := &history.Log{JS: connect("viewer", "v"), Stream: "VIEWED", SubjectPrefix: "viewed.hist"}
	reads, attempts := history.ConsumerReads(), history.ConsumerAttempts()
	start := time.Now()
	checkRead(t, log, subj, 0, seqs)
	first := time.Since(start)
	checkRead(t, log, subj, 0, seqs)
	if history.ConsumerReads() != reads {
		t.Fatal("a read went through a consumer the reader may not make")
	}
	if n := history.ConsumerAttempts() - attempts; n != 1 {
		t.Fatalf("%d consumers asked for in two reads, want 1: the unanswered request is not remembered", n)
	}
	if first > 5*time.Second {
		t.Fatalf("the first read took %v: it waited too long for the consumer request", first)
	}
}

// Against a stock nats-server process: a long read whose server is
// SIGSTOPped just before its consumer is asked for, or just before a pull,
// fails as incomplete (never a short history); once the server goes on,
// and after a SIGKILL and restart on the same store, it reads the whole
// history.
func TestLongReadServerStalledOrKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server process")
	}
	srv := testsrv.StartServerProcess(t, testsrv.ServerOptions{})
	t.Cleanup(func() { _ = srv.Thaw() })
	connect := func() *history.Log { // a connection each: a refused consumer is remembered per connection
		nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		testsrv.Must(t, err)
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		testsrv.Must(t, err)
		return &history.Log{JS: js, Stream: "STALLED", SubjectPrefix: "stalled.hist"}
	}
	writer := connect()
	ctx := testsrv.Context(t, 120*time.Second)
	_, err := writer.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "STALLED", Subjects: []string{"stalled.hist.>"},
		Storage: jetstream.FileStorage, AllowDirect: true})
	testsrv.Must(t, err)
	subj, _ := writer.Subject("long", "run-1")
	other, _ := writer.Subject("other", "run-1")
	seqs := appendLong(t, writer, subj, other, 1200)

	for _, step := range []string{"create", "fetch"} {
		t.Run(step, func(t *testing.T) {
			log := connect()
			frozen := false
			history.SetConsumerReadHook(t, func(at string) {
				if at == step && !frozen {
					frozen = true
					testsrv.Must(t, srv.Freeze())
				}
			})
			rctx, cancel := context.WithTimeout(ctx, 4*time.Second)
			defer cancel()
			recs, err := log.ReadFrom(rctx, subj, 0)
			if !frozen {
				t.Fatalf("the read did not reach its consumer's %q step", step)
			}
			if !errors.Is(err, history.ErrIncompleteRead) {
				t.Fatalf("read from a stalled server: %d records, err %v; want ErrIncompleteRead", len(recs), err)
			}
			testsrv.Must(t, srv.Thaw())
			checkRead(t, log, subj, 0, seqs)
		})
	}

	testsrv.Must(t, srv.Restart(0))
	log := connect()
	reads := history.ConsumerReads()
	testsrv.WaitFor(t, ctx, "the restarted server to answer", func() bool {
		_, err := log.ReadFrom(ctx, subj, 0)
		return err == nil
	})
	checkRead(t, log, subj, 0, seqs)
	if history.ConsumerReads() == reads {
		t.Fatal("no read after the restart went through a consumer")
	}
}
