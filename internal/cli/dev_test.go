package cli_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
)

// dfctl dev on a busy port fails at once and says what to do.
func TestDevPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	r := dfctl(t, ctx, false, "dev", "--port", fmt.Sprint(port), "--store", t.TempDir())
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("took %s to fail", d)
	}
	expectCode(t, r, cli.ExitServer)
	want := fmt.Sprintf("port %d is in use (another dfctl dev or nats-server?): stop it or pass --port N", port)
	if !strings.Contains(r.errOut, want) {
		t.Errorf("stderr:\n%s\nwant %q", r.errOut, want)
	}
}
