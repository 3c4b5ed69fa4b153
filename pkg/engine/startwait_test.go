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
// the runs entry. Against the embedded server and a stock nats-server
// process, the client and the worker on connections of their own.
func TestIdleWorkerWaitsForItsClientsStartRecord(t *testing.T) {
	t.Cleanup(engine.SetStartPolls(longStartPolls()...))
	t.Run("embedded", func(t *testing.T) {
		srv := testsrv.Start(t)
		checkStartsWaitedFor(t, testsrv.Client(t, srv), testsrv.Client(t, srv))
	})
	t.Run("stock nats-server", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a nats-server process")
		}
		srv := testsrv.StartServerProcess(t, testsrv.ServerOptions{})
		checkStartsWaitedFor(t, testsrv.ClientURL(t, srv.URL()), testsrv.ClientURL(t, srv.URL()))
	})
}

// checkStartsWaitedFor runs 100 workflows one at a time, started by c and
// run by a worker on wc, and fails unless each start record is c's.
func checkStartsWaitedFor(t *testing.T, c, wc *client.Client) {
	startWorker(t, wc)
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
// record being written: it still runs every start, and once the server has
// refused it a subscription it stops asking.
func TestStartWaitWithoutSubscribePermission(t *testing.T) {
	t.Cleanup(engine.SetStartPolls(longStartPolls()...))
	deaf := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{">"}},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"df.hist.>"}},
	}
	srv := testsrv.StartWithUsers(t, &server.User{Username: "client", Password: "c"}, &server.User{Username: "worker", Password: "w", Permissions: deaf})
	ctx := testsrv.Context(t, 2*time.Minute)
	url := fmt.Sprintf("nats://%%s@%s", strings.TrimPrefix(srv.ClientURL(), "nats://"))
	c, err := client.Dial(ctx, client.Options{URL: fmt.Sprintf(url, "client:c")})
	testsrv.Must(t, err)
	t.Cleanup(c.Close)
	const barrierSubject = "df.hist.barrier"
	var denied atomic.Int32
	var barrierDenied atomic.Bool
	wc, err := client.Dial(ctx, client.Options{URL: fmt.Sprintf(url, "worker:w"), NatsOptions: []nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			switch {
			case !errors.Is(err, nats.ErrPermissionViolation):
			case strings.Contains(err.Error(), barrierSubject):
				barrierDenied.Store(true)
			case strings.Contains(err.Error(), "df.hist."):
				denied.Add(1)
			}
		}),
	}})
	testsrv.Must(t, err)
	t.Cleanup(wc.Close)
	startWorker(t, wc)
	nc := wc.Store().NC
	run := func(id string) {
		t.Helper()
		r, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, StartEcho, id)
		testsrv.Must(t, err)
		var out string
		testsrv.Must(t, r.Get(ctx, &out))
		if out != "echo "+id {
			t.Fatalf("%s: %q", id, out)
		}
	}
	for i := range 6 {
		run(fmt.Sprintf("deaf-%d", i))
	}
	// The client library reports the refusals in order: once the refusal of
	// a subscription made now is reported, every earlier one is.
	barrier, err := nc.Subscribe(barrierSubject, func(*nats.Msg) {})
	testsrv.Must(t, err)
	defer func() { _ = barrier.Unsubscribe() }()
	testsrv.WaitFor(t, ctx, "the refusal of the barrier's subscription reported", barrierDenied.Load)
	if n := denied.Load(); n != 1 {
		t.Fatalf("the worker asked %d times to subscribe to a history subject; after the first refusal it should stop asking", n)
	}
}
