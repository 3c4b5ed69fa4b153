package history_test

import (
	"os"
	"testing"

	"github.com/durablefuture/durablefuture/internal/testsrv"
)

// TestMain removes the nats-server binary the stock-server tests build.
func TestMain(m *testing.M) {
	os.Exit(testsrv.RunTests(m))
}
