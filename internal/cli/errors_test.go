package cli_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startServer starts a nats-server with opts on a random loopback port and
// stops it at cleanup; with JetStream it gets a temporary store.
func startServer(t *testing.T, opts server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.NoSigs = "127.0.0.1", true
	if opts.Port == 0 {
		opts.Port = -1
	}
	if opts.JetStream && opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s, err := server.NewServer(&opts)
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

func runCtx(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return dfctl(t, ctx, false, args...)
}

func expectError(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	expectCode(t, r, code)
	for _, w := range want {
		if !strings.Contains(r.errOut, w) {
			t.Fatalf("stderr does not say %q:\n%s", w, r.errOut)
		}
	}
}

// A server without JetStream answers no JetStream API request.
func TestJetStreamNotEnabled(t *testing.T) {
	s := startServer(t, server.Options{})
	for _, args := range [][]string{{"list"}, {"describe", "x"}, {"start", "GreetWorkflow"}} {
		r := runCtx(t, append([]string{"-s", s.ClientURL()}, args...)...)
		expectError(t, r, cli.ExitServer, "JetStream is not enabled on "+s.ClientURL(), "-js")
	}
}

// A server that goes away after dfctl connected: "connection lost", within
// --timeout, not a wait for ever nor a bare timeout.
func TestConnectionLost(t *testing.T) {
	s := testsrv.Start(t)
	expectCode(t, runCtx(t, "-s", s.ClientURL(), "start", "NobodyRunsThis", "--id", "orphan"), 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := &syncBuffer{want: "WorkflowStarted", found: make(chan struct{})}
	errOut := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}
		done <- cli.Run(ctx, []string{"-s", s.ClientURL(), "--timeout", "1s", "show", "orphan", "--follow"}, ios)
	}()
	select {
	case <-out.found:
	case code := <-done:
		t.Fatalf("show --follow ended with %d: %s", code, errOut.String())
	}
	s.Stop()
	stopped := time.Now()
	select {
	case code := <-done:
		if code != cli.ExitServer || !strings.Contains(errOut.String(), "connection lost to NATS at "+s.ClientURL()) {
			t.Fatalf("exit %d, stderr %q", code, errOut.String())
		}
		if d := time.Since(stopped); d > 10*time.Second {
			t.Fatalf("connection lost reported after %s", d)
		}
	case <-ctx.Done():
		t.Fatal("show --follow still waiting after the server stopped")
	}
}

func TestCredentialAndTLSFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	testsrv.Must(t, os.WriteFile(garbage, []byte("not a key\n"), 0o600))
	missing := filepath.Join(dir, "missing.creds")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing creds", []string{"--creds", missing}, []string{"--creds " + missing, "no such file"}},
		{"creds is a directory", []string{"--creds", dir}, []string{"--creds " + dir}},
		{"bad creds", []string{"--creds", garbage}, []string{"--creds " + garbage, "not a NATS credentials file"}},
		{"cert without key", []string{"--tlscert", garbage}, []string{"--tlscert and --tlskey go together"}},
		{"key without cert", []string{"--tlskey", garbage}, []string{"--tlscert and --tlskey go together"}},
		{"missing cert", []string{"--tlscert", missing, "--tlskey", garbage}, []string{"--tlscert " + missing, "no such file"}},
		{"missing key", []string{"--tlscert", garbage, "--tlskey", missing}, []string{"--tlskey " + missing, "no such file"}},
		{"bad cert", []string{"--tlscert", garbage, "--tlskey", garbage}, []string{"--tlscert " + garbage, "--tlskey " + garbage}},
		{"missing CA", []string{"--tlsca", missing}, []string{"--tlsca " + missing, "no such file"}},
		{"bad CA", []string{"--tlsca", garbage}, []string{"--tlsca " + garbage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Nothing listens on port 1: the files are checked before dialling.
			r := runCtx(t, append([]string{"-s", "nats://127.0.0.1:1", "list"}, tc.args...)...)
			expectError(t, r, cli.ExitUsage, tc.want...)
		})
	}
}

func TestMalformedRunID(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"*", ">", "a.b", "a b", "run.*", "x\x01"} {
		for _, args := range [][]string{
			{"describe", "w"}, {"show", "w"}, {"result", "w"}, {"signal", "w", "go"},
			{"cancel", "w"}, {"terminate", "w"}, {"reset", "w", "--to", "first"}, {"query", "w", "state"},
		} {
			r := e.run(t, false, append(args, "--run", id)...)
			expectError(t, r, cli.ExitUsage, "--run", "run ID")
		}
	}
}

func TestResetToEventOutsideTheHistory(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet", "--input", `"Ann"`), 0)
	r := e.run(t, false, "show", "greet", "-o", "jsonl")
	expectCode(t, r, 0)
	last := strings.Count(strings.TrimSpace(r.out), "\n") + 1
	valid := regexp.MustCompile(`has events 1\.\.` + strconv.Itoa(last) + `\b`)
	for _, n := range []string{"0", "-1", strconv.Itoa(last + 1), "1000000"} {
		r := e.run(t, false, "reset", "greet", "--to-event", n)
		expectError(t, r, cli.ExitUsage, "--to-event "+n)
		if !valid.MatchString(r.errOut) {
			t.Fatalf("--to-event %s: the message does not name the range 1..%d: %s", n, last, r.errOut)
		}
	}
	expectCode(t, e.run(t, false, "reset", "greet", "--to-event", strconv.Itoa(last)), 0)
}

// A read-only command pointed at a server without an installation says so
// and creates nothing; a write command creates it.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	s := testsrv.Start(t)
	url := s.ClientURL()
	for _, args := range [][]string{
		{"list"}, {"describe", "w"}, {"show", "w"}, {"show", "w", "--follow"}, {"result", "w"}, {"result", "w", "--wait"},
		{"query", "w", "state"}, {"replay", "w"}, {"replay", "--type", "T"},
		{"--prefix", "other", "list"},
	} {
		r := runCtx(t, append([]string{"-s", url}, args...)...)
		prefix := "df"
		if args[0] == "--prefix" {
			prefix = "other"
		}
		expectError(t, r, cli.ExitNotFound, `no DurableFuture installation with prefix "`+prefix+`" on `+url, "start a worker or run `dfctl dev`")
	}
	nc, err := nats.Connect(url)
	testsrv.Must(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	testsrv.Must(t, err)
	names := js.StreamNames(testsrv.Context(t, 5*time.Second))
	for name := range names.Name() {
		t.Errorf("a read-only command created stream %s", name)
	}
	testsrv.Must(t, names.Err())

	expectCode(t, runCtx(t, "-s", url, "start", "GreetWorkflow", "--id", "w"), 0)
	expectCode(t, runCtx(t, "-s", url, "describe", "w"), 0)
}

// Every password and token of every URL of a list stays out of every message.
func TestURLSecretsAreRedacted(t *testing.T) {
	userSrv := startServer(t, server.Options{JetStream: true, Username: "alice", Password: "s3cret-pw"})
	tokenSrv := startServer(t, server.Options{JetStream: true, Authorization: "s3cret-token"})
	at := func(s *server.Server, userinfo string) string {
		return "nats://" + userinfo + "@" + strings.TrimPrefix(s.ClientURL(), "nats://")
	}
	list := at(userSrv, "alice:s3cret-pw") + "," + at(userSrv, "bob:s3cret-other")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no installation, list of URLs", []string{"-s", list, "list"}, "alice:***@"},
		{"wrong password", []string{"-s", at(userSrv, "alice:s3cret-wrong"), "list"}, "cannot connect to NATS at nats://alice:***@"},
		{"bench, token", []string{"-s", at(tokenSrv, "s3cret-token"), "bench", "-n", "3", "-c", "1"}, ""},
		{"bench, password", []string{"-s", at(userSrv, "alice:s3cret-pw"), "bench", "-n", "3", "-c", "1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCtx(t, tc.args...)
			all := r.out + r.errOut
			if strings.Contains(all, "s3cret") {
				t.Fatalf("a secret is printed (exit %d):\n%s", r.code, all)
			}
			if !strings.Contains(all, tc.want) {
				t.Fatalf("output does not say %q (exit %d):\n%s", tc.want, r.code, all)
			}
			if tc.args[2] == "bench" {
				expectCode(t, r, 0)
				if !strings.Contains(r.out, "nats://") || !strings.Contains(r.out, "***@") {
					t.Fatalf("bench does not name its server, redacted:\n%s", r.out)
				}
			}
		})
	}
}

// JetStream's "insufficient resources" says the storage is full and what
// to do, with exit 3.
func TestStorageFull(t *testing.T) {
	s := startServer(t, server.Options{JetStream: true, JetStreamMaxStore: 256 * 1024})
	input := `"` + strings.Repeat("x", 60*1024) + `"`
	for i := range 50 {
		r := runCtx(t, "-s", s.ClientURL(), "start", "GreetWorkflow", "--id", "big-"+strconv.Itoa(i), "--input", input)
		if r.code == 0 {
			continue
		}
		expectError(t, r, cli.ExitServer, "JetStream storage is full on "+s.ClientURL(), "max_file_store", "purge old runs")
		return
	}
	t.Fatal("50 starts of 60 KiB fit in a 256 KiB store")
}

func TestBenchStatesDurability(t *testing.T) {
	for _, mode := range []string{"always", "interval"} {
		r := runCtx(t, "bench", "-n", "5", "-c", "2", "--sync", mode, "-o", "json")
		expectCode(t, r, 0)
		rep := decode[map[string]any](t, r.out)
		if rep["sync"] != mode || !strings.Contains(rep["durability"].(string), "fsync every") {
			t.Fatalf("bench --sync %s: %v", mode, rep)
		}
	}
	r := runCtx(t, "bench", "-n", "2", "-c", "1")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "durability: fsync every 2m: an acknowledged write can be lost on power failure") {
		t.Fatalf("bench text output:\n%s", r.out)
	}
	expectError(t, runCtx(t, "bench", "--sync", "sometimes"), cli.ExitUsage, "--sync")

	// An external server's mode is unknown unless the user states it.
	s := testsrv.Start(t)
	r = runCtx(t, "-s", s.ClientURL(), "bench", "-n", "2", "-c", "1", "-o", "json")
	expectCode(t, r, 0)
	if rep := decode[map[string]any](t, r.out); rep["sync"] != "unknown" {
		t.Fatalf("bench against a server: %v", rep)
	}
	r = runCtx(t, "-s", s.ClientURL(), "bench", "-n", "2", "-c", "1", "--sync", "always", "-o", "json")
	expectCode(t, r, 0)
	if rep := decode[map[string]any](t, r.out); rep["sync"] != "always" || !strings.Contains(rep["durability"].(string), "as stated with --sync") {
		t.Fatalf("bench --sync always against a server: %v", rep)
	}
}

// dfctl dev says its fsync mode and creates the installation at start.
func TestDevStatesDurability(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "durability: fsync every 2m: an acknowledged write can be lost on power failure"},
		{[]string{"--sync", "always"}, "durability: fsync every write"},
	} {
		port := freePort(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		errOut := &syncBuffer{want: "Ctrl-C stops the server", found: make(chan struct{})}
		done := make(chan int, 1)
		go func() {
			ios := &cli.IOStreams{In: strings.NewReader(""), Out: &syncBuffer{}, ErrOut: errOut}
			args := append([]string{"dev", "--port", strconv.Itoa(port), "--store", t.TempDir()}, tc.args...)
			done <- cli.Run(ctx, args, ios)
		}()
		select {
		case <-errOut.found:
		case code := <-done:
			t.Fatalf("dev exited with %d: %s", code, errOut.String())
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("dfctl dev %v does not say %q:\n%s", tc.args, tc.want, errOut.String())
		}
		expectCode(t, runCtx(t, "-s", "nats://127.0.0.1:"+strconv.Itoa(port), "list"), 0)
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dev exited with %d", code)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	testsrv.Must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A write command uses an existing installation as it is: dfctl started
// without --replicas must not scale a cluster's R3 streams down to R1.
func TestWriteCommandKeepsReplicas(t *testing.T) {
	urls := testsrv.StartCluster(t)
	list := strings.Join(urls, ",")
	ctx := testsrv.Context(t, 30*time.Second)
	c, err := client.Dial(ctx, client.Options{URL: list, Replicas: 3})
	testsrv.Must(t, err)
	defer c.Close()
	expectCode(t, runCtx(t, "-s", list, "start", "GreetWorkflow", "--id", "r3"), 0)
	expectCode(t, runCtx(t, "-s", list, "--replicas", "1", "signal", "r3", "go"), 0)
	for _, name := range []string{"DF_HISTORY", "DF_TASKS"} {
		st, err := c.Store().JS.Stream(ctx, name)
		testsrv.Must(t, err)
		if n := st.CachedInfo().Config.Replicas; n != 3 {
			t.Errorf("stream %s has %d replicas after dfctl start, want 3", name, n)
		}
	}

	// A fresh installation gets --replicas.
	expectCode(t, runCtx(t, "-s", list, "--prefix", "fresh", "--replicas", "3", "start", "GreetWorkflow"), 0)
	st, err := c.Store().JS.Stream(ctx, "FRESH_HISTORY")
	testsrv.Must(t, err)
	if n := st.CachedInfo().Config.Replicas; n != 3 {
		t.Errorf("dfctl --replicas 3 created FRESH_HISTORY with %d replicas", n)
	}
	expectError(t, runCtx(t, "--replicas", "7", "list"), cli.ExitUsage, "--replicas 7")
}

// --help shows $NATS_URL as the default server, without its password.
func TestHelpRedactsNATSURL(t *testing.T) {
	t.Setenv("NATS_URL", "nats://alice:s3cret-pw@127.0.0.1:1")
	r := runCtx(t, "--help")
	expectCode(t, r, 0)
	if strings.Contains(r.out+r.errOut, "s3cret") || !strings.Contains(r.out, "alice:***@") {
		t.Fatalf("dfctl --help:\n%s", r.out)
	}
}
