package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/nats-io/nats-server/v2/server"
)

// syncBuffer is a bytes.Buffer safe for a worker goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCmd(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestList(t *testing.T) {
	for _, flag := range []string{"--list", "-list-examples"} {
		code, out, _ := runCmd(t, context.Background(), flag)
		if code != exitOK {
			t.Fatalf("%s: exit %d", flag, code)
		}
		for _, name := range []string{"order", "order-retries", "order-recovery"} {
			if !strings.Contains(out, "  "+name+" ") {
				t.Errorf("%s does not list %s:\n%s", flag, name, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	ctx := context.Background()
	code, _, errOut := runCmd(t, ctx, "--scenario", "nope", "--client")
	if code != exitUsage || !strings.Contains(errOut, `unknown scenario "nope"`) || !strings.Contains(errOut, "order-recovery") {
		t.Errorf("unknown scenario: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCmd(t, ctx, "--scenario", "order")
	if code != exitUsage || !strings.Contains(errOut, "choose exactly one of --client") {
		t.Errorf("no mode: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCmd(t, ctx, "--client", "--worker")
	if code != exitUsage {
		t.Errorf("two modes: exit %d, %s", code, errOut)
	}
}

func TestServerDown(t *testing.T) {
	// A server that was started and stopped leaves a port nobody listens on.
	s := testsrv.Start(t)
	url := s.ClientURL()
	s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	code, _, errOut := runCmd(t, ctx, "--server", url, "--scenario", "order", "--client")
	if code != exitFailed || !strings.Contains(errOut, "go run ./cmd/dfctl dev") {
		t.Fatalf("server down: exit %d, %s", code, errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("server down reported after %v", d)
	}
}

// TestWorkersAndClient runs separate workflow and activity workers, and a
// client for each scenario, as in the README.
func TestWorkersAndClient(t *testing.T) {
	s := testsrv.Start(t)
	url := s.ClientURL()

	wctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var logs [2]syncBuffer
	codes := make([]int, 2)
	for i, mode := range []string{"--workflow-worker", "--activity-worker"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = run(wctx, []string{"--server", url, "--scenario", "all", "--task-queue", "examples", mode}, &logs[i], &logs[i])
		}()
	}
	t.Cleanup(func() {
		stop()
		wg.Wait()
		for i, code := range codes {
			if code != exitOK {
				t.Errorf("worker %d: exit %d\n%s", i, code, logs[i].String())
			}
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct{ scenario, want string }{
		{"order", `"charge_id"`},
		{"order-retries", `"shipping": 4`},
		{"order-recovery", `"charge_attempts": 3`},
	} {
		code, out, errOut := runCmd(t, ctx, "--server", url, "--scenario", tc.scenario, "--task-queue", "examples", "--client", "--id", "cli-"+tc.scenario)
		if code != exitOK || !strings.Contains(out, tc.want) || !strings.Contains(out, "WorkflowCompleted") {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", tc.scenario, code, out, errOut)
		}
	}
}

func TestClientNoWorker(t *testing.T) {
	s := testsrv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, _, errOut := runCmd(t, ctx, "--server", s.ClientURL(), "--scenario", "order", "--client", "--timeout", "500ms", "--task-queue", "nobody")
	if code != exitFailed || !strings.Contains(errOut, "is a worker for \"order\" running on task queue \"nobody\"") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
}

// The worker names its server at start and on every disconnect and
// reconnect, never with the password of its URL.
func TestWorkerLogsNoPassword(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, JetStream: true, StoreDir: t.TempDir(),
		Username: "alice", Password: "s3cret-pw"}
	start := func() *server.Server {
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		return s
	}
	s := start()
	opts.Port = s.Addr().(*net.TCPAddr).Port // restart on the same port
	url := fmt.Sprintf("nats://alice:s3cret-pw@127.0.0.1:%d", opts.Port)

	// Generous: under the race detector on a loaded 2-core CI machine, a
	// JetStream restart and the client's reconnect back-off take seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(wctx, []string{"--server", url, "--scenario", "order", "--worker"}, &logs, &logs) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	waitLog := func(want string) {
		t.Helper()
		testsrv.WaitFor(t, ctx, want, func() bool { return strings.Contains(logs.String(), want) })
	}
	waitLog("Ctrl-C to stop")
	s.Shutdown()
	s.WaitForShutdown()
	waitLog("disconnected from")
	start()
	waitLog("reconnected to")
	stop()
	if code := <-done; code != exitOK {
		t.Errorf("worker exit %d", code)
	}
	if out := logs.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, "alice:***@") {
		t.Fatalf("worker log:\n%s", out)
	}
}
