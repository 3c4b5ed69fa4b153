package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// longStartPolls are the default waits for a start record and a last one
// of a minute: a worker completes a start itself only if its client is
// gone, however slow the machine.
func longStartPolls() []time.Duration {
	return []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond, time.Minute}
}

// An idle worker gets a start task before its client has written the start
// record. It waits for the client's record instead of writing the start
// itself (which it used to do for about a third of the starts made one at
// a time): every start record is the client's, the one whose header names
// the runs entry.
func TestIdleWorkerWaitsForItsClientsStartRecord(t *testing.T) {
	t.Cleanup(engine.SetStartPolls(longStartPolls()...))
	srv := testsrv.Start(t)
	c := testsrv.Client(t, srv)
	startWorker(t, c)
	ctx := testsrv.Context(t, 2*time.Minute)
	s := c.Store()
	hist, err := s.JS.Stream(ctx, "DF_HISTORY")
	testsrv.Must(t, err)
	for i := range 100 {
		id := fmt.Sprintf("waited-%d", i)
		run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, id)
		testsrv.Must(t, err)
		var out string
		testsrv.Must(t, run.Get(ctx, &out))
		subj, err := s.Log.Subject(id, run.RunID())
		testsrv.Must(t, err)
		recs, err := s.Log.ReadFrom(ctx, subj, 0)
		testsrv.Must(t, err)
		if len(recs) == 0 || out != "echo "+id {
			t.Fatalf("%s: %q, history %+v", id, out, recs)
		}
		first, err := hist.GetMsg(ctx, recs[0].StreamSeq)
		testsrv.Must(t, err)
		if first.Header.Get("Df-Runs-Entry") == "" {
			t.Fatalf("%s (start %d): the start record was written by the worker, not by its client", id, i)
		}
	}
}

// A worker that may not subscribe to history subjects cannot hear a start
// record being written: it still runs every start, and after
// StartWaitMisses waits that heard nothing it stops asking to subscribe.
func TestStartWaitWithoutSubscribePermission(t *testing.T) {
	t.Cleanup(engine.SetStartPolls(longStartPolls()...))
	deaf := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{">"}},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"df.hist.>"}},
	}
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{{Username: "client", Password: "c"}, {Username: "worker", Password: "w", Permissions: deaf}}}
	srv, err := server.NewServer(opts)
	testsrv.Must(t, err)
	go srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	ctx := testsrv.Context(t, 2*time.Minute)
	url := fmt.Sprintf("nats://%%s@%s", strings.TrimPrefix(srv.ClientURL(), "nats://"))
	c, err := client.Dial(ctx, client.Options{URL: fmt.Sprintf(url, "client:c")})
	testsrv.Must(t, err)
	t.Cleanup(c.Close)
	var denied atomic.Int32
	wc, err := client.Dial(ctx, client.Options{URL: fmt.Sprintf(url, "worker:w"), NatsOptions: []nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), "df.hist.") {
				denied.Add(1)
			}
		}),
	}})
	testsrv.Must(t, err)
	t.Cleanup(wc.Close)
	startWorker(t, wc)
	nc := wc.Store().NC
	run := func(id string) int32 {
		t.Helper()
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, id)
		testsrv.Must(t, err)
		var out string
		testsrv.Must(t, r.Get(ctx, &out))
		if out != "echo "+id {
			t.Fatalf("%s: %q", id, out)
		}
		// The server answers a subscription before the flush: its
		// denial, if any, is in.
		testsrv.Must(t, nc.Flush())
		return denied.Load()
	}
	// Each start is waited for, and its subscription denied, until the
	// worker has missed StartWaitMisses records; then none is.
	stopped := -1
	for i, prev := 0, int32(0); i < 30 && stopped < 0; i++ {
		n := run(fmt.Sprintf("deaf-%d", i))
		if n == prev {
			stopped = i
		}
		prev = n
	}
	if n := denied.Load(); stopped < 0 || n < engine.StartWaitMisses {
		t.Fatalf("denied %d subscriptions; the worker never stopped asking (or stopped before %d misses)", n, engine.StartWaitMisses)
	}
	n := denied.Load()
	for i := range 5 {
		if m := run(fmt.Sprintf("deaf-after-%d", i)); m != n {
			t.Fatalf("a subscription was asked for after the worker had stopped waiting (%d denials, then %d)", n, m)
		}
	}
}
