package sdktest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/nats-io/nats.go"
)

// A worker started while its server is stalled (SIGSTOP: a node pausing,
// a cluster electing leaders) waits for it: the creation of its consumers
// times out, is tried again, and the worker serves runs once the server
// answers. It used to return the timeout from Run and serve nothing.
func TestWorkerStartsWhileServerStalled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server process")
	}
	srv := testsrv.StartServerProcess(t, testsrv.ServerOptions{})
	dial := func() *client.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, client.Options{URL: srv.URL(), NatsOptions: []nats.Option{nats.MaxReconnects(-1)}})
		testsrv.Must(t, err)
		t.Cleanup(c.Close)
		return c
	}
	c, wc := dial(), dial()
	log, logs := testsrv.CaptureLogs(t)
	testsrv.Must(t, srv.Freeze())
	t.Cleanup(func() { _ = srv.Thaw() })
	w := worker.New(wc, worker.Options{Logger: log, ShutdownTimeout: 2 * time.Second})
	testsrv.Must(t, w.RegisterWorkflow(SumWorkflow))
	testsrv.Must(t, w.RegisterActivity(Add))
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = w.Run(wctx); close(done) }()
	t.Cleanup(func() {
		stop()
		<-done
		if runErr != nil {
			t.Errorf("worker: %v", runErr)
		}
	})
	ctx := testsrv.Context(t, 60*time.Second)
	testsrv.WaitFor(t, ctx, "the worker trying again to create its consumers", func() bool {
		select {
		case <-done:
			t.Fatalf("the worker stopped while the server was stalled: %v", runErr)
		default:
		}
		return logs.Count(func(r testsrv.LogRecord) bool { return strings.Contains(r.Msg, "trying again") }) > 0
	})
	testsrv.Must(t, srv.Thaw())
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "after-stall"}, SumWorkflow, 3)
	testsrv.Must(t, err)
	var sum int
	testsrv.Must(t, run.Get(ctx, &sum))
}
