package devserver_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
)

// A busy port fails Start at once with ErrPortInUse, rather than after the
// 15s wait for a server that never listens.
func TestStartPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	begin := time.Now()
	s, err := devserver.Start(devserver.Options{Port: port, StoreDir: t.TempDir()})
	if err == nil {
		s.Stop()
		t.Fatalf("started on busy port %d", port)
	}
	if !errors.Is(err, devserver.ErrPortInUse) {
		t.Fatalf("err = %v, want ErrPortInUse", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("took %s to fail", d)
	}
	if want := "127.0.0.1:" + strconv.Itoa(port); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}

// A free port starts, and the port is busy for a second server.
func TestStartTwice(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s, err := devserver.Start(devserver.Options{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Skipf("port %d taken in between: %v", port, err)
	}
	t.Cleanup(s.Stop)
	_, err = devserver.Start(devserver.Options{Port: port, StoreDir: t.TempDir()})
	if !errors.Is(err, devserver.ErrPortInUse) {
		t.Fatalf("second server on %d: err = %v, want ErrPortInUse", port, err)
	}
}
