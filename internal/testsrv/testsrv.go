// Package testsrv starts embedded NATS servers with JetStream for tests:
// each in its own temporary directory, on a random port, stopped at cleanup.
package testsrv

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Start returns a running server listening on a random loopback port.
func Start(t testing.TB) *devserver.Server {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn starts a server on dir (to restart one on the same store).
func StartIn(t testing.TB, dir string) *devserver.Server {
	t.Helper()
	s, err := devserver.Start(devserver.Options{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartWithUsers returns a running server (JetStream, a temporary
// directory, a random loopback port) that admits only users, for tests of
// what a user's permissions allow; it is stopped at cleanup.
func StartWithUsers(t testing.TB, users ...*server.User) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, JetStream: true,
		StoreDir: t.TempDir(), Users: users})
	Must(t, err)
	go srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return srv
}

// Client dials s and closes the client at cleanup.
func Client(t testing.TB, s *devserver.Server) *client.Client {
	t.Helper()
	return ClientURL(t, s.ClientURL())
}

// ClientURL dials url and closes the client at cleanup.
func ClientURL(t testing.TB, url string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: url, NatsOptions: []nats.Option{nats.MaxReconnects(-1)}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Logger returns a logger that writes through t.Log, so worker logs show
// only for a failing test (or with -v).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// StartCluster starts a 3-node JetStream cluster on loopback and returns
// the client URLs once JetStream answers with a leader.
func StartCluster(t testing.TB) []string {
	t.Helper()
	const n = 3
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = freeRoutePort(t)
	}
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	urls := make([]string, n)
	for i := 0; i < n; i++ {
		opts := &server.Options{
			ServerName: fmt.Sprintf("df-test-%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: "df-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("cluster node %d: %v", i, err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("cluster node %d not ready", i)
		}
		urls[i] = s.ClientURL()
	}
	// Wait until JetStream has a meta leader and answers.
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return urls
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster JetStream not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the cluster's readiness: there is no event to wait on
	}
}

// freeRoutePort finds a free port outside the ephemeral range, so that a
// route port is not taken by an outgoing connection meanwhile.
func freeRoutePort(t testing.TB) int {
	t.Helper()
	for p := 20000 + rand.IntN(10000); p < 32000; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free route port")
	return 0
}

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Context returns a context that ends after d or with the test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor waits until cond holds, failing the test when ctx ends first.
func WaitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// RunWorker runs a worker with the registrations reg makes until stop is
// called or the test ends. Unset options get test-friendly values: a 1s
// workflow task timeout, a 2s shutdown timeout, logs through t.Log.
func RunWorker(t testing.TB, c *client.Client, opts worker.Options, reg func(w *worker.Worker)) (stop func()) {
	t.Helper()
	if opts.WorkflowTaskTimeout == 0 {
		opts.WorkflowTaskTimeout = time.Second
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	w := worker.New(c, opts)
	reg(w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
