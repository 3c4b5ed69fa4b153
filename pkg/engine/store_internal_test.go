package engine

import (
	"context"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
)

// openTestStore starts an embedded server as o says (in a temporary store
// directory) and opens a Store on it; both are closed at cleanup.
func openTestStore(tb testing.TB, o devserver.Options) *Store {
	tb.Helper()
	o.StoreDir = tb.TempDir()
	srv, err := devserver.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Stop)
	nc, err := srv.Connect()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, nc, Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
