// Package testsrv starts embedded NATS servers with JetStream for tests:
// each in its own temporary directory, on a random port, stopped at cleanup.
package testsrv

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats.go"
)

// Start returns a running server listening on a random loopback port.
func Start(t testing.TB) *engine.DevServer {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn starts a server on dir (to restart one on the same store).
func StartIn(t testing.TB, dir string) *engine.DevServer {
	t.Helper()
	s, err := engine.StartDevServer(engine.DevServerOptions{Port: -1, StoreDir: dir})
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Client dials s and closes the client at cleanup.
func Client(t testing.TB, s *engine.DevServer) *client.Client {
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
