package testsrv

// Real nats-server processes for fault-injection tests: built from the
// module's own nats-server version, started with stock settings on their own
// store and port, and killed (SIGKILL), frozen (SIGSTOP/SIGCONT) and
// restarted on the same store and port. Also builds other binaries of the
// module (a worker process to SIGKILL).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var built struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string // package -> binary
}

// BuildBinary builds the Go main package pkg (an import path resolved in
// this module, e.g. "github.com/nats-io/nats-server/v2") once per test
// process into a temporary directory and returns the binary's path. The
// Go build cache makes a rebuild cheap. RemoveBuilt deletes the directory.
func BuildBinary(t testing.TB, pkg string) string {
	t.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if bin, ok := built.bins[pkg]; ok {
		return bin
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "df-testbin-")
		if err != nil {
			t.Fatalf("build %s: %v", pkg, err)
		}
		built.dir, built.bins = dir, map[string]string{}
	}
	bin := filepath.Join(built.dir, fmt.Sprintf("bin%d-%s", len(built.bins), filepath.Base(strings.TrimSuffix(pkg, "/v2"))))
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built.bins[pkg] = bin
	return bin
}

// NATSServerBinary returns the path of a nats-server built from the
// version this module requires.
func NATSServerBinary(t testing.TB) string {
	t.Helper()
	return BuildBinary(t, "github.com/nats-io/nats-server/v2")
}

// RunTests runs m's tests and then RemoveBuilt, and returns the exit code:
// the TestMain of a package whose tests build binaries is
// os.Exit(testsrv.RunTests(m)).
func RunTests(m *testing.M) int {
	code := m.Run()
	RemoveBuilt()
	return code
}

// RemoveBuilt deletes the binaries BuildBinary made (call it from TestMain
// after m.Run).
func RemoveBuilt() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
		built.dir, built.bins = "", nil
	}
}

// ServerOptions shape a nats-server process. Everything not set here is the
// server's stock default (1 MiB max_payload, fsync every 2 minutes).
type ServerOptions struct {
	// Name is the server name (default "df-proc").
	Name string
	// StoreDir is the JetStream store (default: a new t.TempDir()).
	StoreDir string
	// Port for clients (default: a free loopback port outside the
	// ephemeral range, so that a restart can take it again).
	Port int
	// SyncInterval sets jetstream.sync_interval ("always", "2m", ...;
	// default: the server's).
	SyncInterval string
	// LogFile receives the server's log, appended across restarts
	// (default: server.log in a new t.TempDir()).
	LogFile string
	// ExtraConfig is appended to the generated configuration file.
	ExtraConfig string

	clusterName string
	clusterPort int
	routes      []string
}

// ServerProcess is one nats-server process, restartable on its store and port.
type ServerProcess struct {
	bin  string
	opts ServerOptions
	conf string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	frozen bool
}

// StartServerProcess builds (once) and starts a nats-server process with
// JetStream and waits until JetStream answers. It is killed at cleanup.
func StartServerProcess(t testing.TB, o ServerOptions) *ServerProcess {
	t.Helper()
	p := newServerProcess(t, o)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func newServerProcess(t testing.TB, o ServerOptions) *ServerProcess {
	t.Helper()
	if o.Name == "" {
		o.Name = "df-proc"
	}
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	if o.Port == 0 {
		o.Port = freeRoutePort(t)
	}
	if o.LogFile == "" {
		o.LogFile = filepath.Join(t.TempDir(), "server.log")
	}
	p := &ServerProcess{bin: NATSServerBinary(t), opts: o}
	p.conf = filepath.Join(t.TempDir(), o.Name+".conf")
	if err := os.WriteFile(p.conf, []byte(p.config()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

func (p *ServerProcess) config() string {
	o := p.opts
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\nlisten: \"127.0.0.1:%d\"\n", o.Name, o.Port)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n", o.StoreDir)
	if o.SyncInterval != "" {
		fmt.Fprintf(&b, "  sync_interval: %q\n", o.SyncInterval)
	}
	b.WriteString("}\n")
	if o.clusterName != "" {
		fmt.Fprintf(&b, "cluster {\n  name: %q\n  listen: \"127.0.0.1:%d\"\n  routes: [\n", o.clusterName, o.clusterPort)
		for _, r := range o.routes {
			fmt.Fprintf(&b, "    %q\n", r)
		}
		b.WriteString("  ]\n}\n")
	}
	b.WriteString(o.ExtraConfig)
	return b.String()
}

// Name is the server name (what stream info's Cluster.Leader reports).
func (p *ServerProcess) Name() string { return p.opts.Name }

// URL is the client URL; it stays the same across restarts.
func (p *ServerProcess) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.opts.Port) }

// StoreDir is the JetStream store directory.
func (p *ServerProcess) StoreDir() string { return p.opts.StoreDir }

// LogFile is where the server logs.
func (p *ServerProcess) LogFile() string { return p.opts.LogFile }

// Pid of the running process (0 if not running).
func (p *ServerProcess) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Start starts the process (again, on the same store and port) and waits
// until JetStream answers on it. It returns an error rather than failing
// the test, so that a fault schedule can call it from any goroutine.
func (p *ServerProcess) Start() error {
	if err := p.startProcess(); err != nil {
		return err
	}
	if err := p.WaitReady(60 * time.Second); err != nil {
		return fmt.Errorf("nats-server %s: %w (log: %s)", p.opts.Name, err, p.opts.LogFile)
	}
	return nil
}

func (p *ServerProcess) startProcess() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("nats-server %s is already running", p.opts.Name)
	}
	logf, err := os.OpenFile(p.opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s: starting nats-server %s\n", time.Now().Format(time.RFC3339Nano), p.opts.Name)
	cmd := exec.Command(p.bin, "-c", p.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start nats-server %s: %w", p.opts.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	p.cmd, p.exited, p.frozen = cmd, exited, false
	return nil
}

// WaitReady waits until the server accepts connections and JetStream
// answers through it (on a cluster: once it has a meta leader).
func (p *ServerProcess) WaitReady(timeout time.Duration) error {
	return waitJetStream([]string{p.URL()}, timeout)
}

func waitJetStream(urls []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		last = pingJetStream(urls)
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling readiness: there is no event to wait on
	}
	return fmt.Errorf("JetStream not ready after %v: %v", timeout, last)
}

func pingJetStream(urls []string) error {
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// Kill SIGKILLs the process (thawing it first if frozen does not matter:
// SIGKILL ends a stopped process too) and waits until it is gone. It
// reports whether the process was running.
func (p *ServerProcess) Kill() bool {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd, p.frozen = nil, false
	p.mu.Unlock()
	if cmd == nil {
		return false
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	return true
}

// Restart SIGKILLs the process and starts it again on the same store and
// port after down (0: at once).
func (p *ServerProcess) Restart(down time.Duration) error {
	p.Kill()
	time.Sleep(down) // the fault schedule itself
	return p.Start()
}

// Freeze SIGSTOPs the process: its connections stay open, nothing answers.
func (p *ServerProcess) Freeze() error { return p.signal(syscall.SIGSTOP, true) }

// Thaw SIGCONTs a frozen process.
func (p *ServerProcess) Thaw() error { return p.signal(syscall.SIGCONT, false) }

func (p *ServerProcess) signal(sig syscall.Signal, frozen bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return fmt.Errorf("nats-server %s is not running", p.opts.Name)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal nats-server %s: %w", p.opts.Name, err)
	}
	p.frozen = frozen
	return nil
}

// Frozen reports whether the process is SIGSTOPped.
func (p *ServerProcess) Frozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// ProcessCluster is a JetStream cluster of nats-server processes on
// loopback.
type ProcessCluster struct {
	Nodes []*ServerProcess
}

// StartClusterProcesses starts an n-node cluster of nats-server processes
// (stock settings, each with its own store) and waits until JetStream
// answers. Nodes are named df-node-0 ... df-node-<n-1>.
func StartClusterProcesses(t testing.TB, n int) *ProcessCluster {
	t.Helper()
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = freeRoutePort(t)
	}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	c := &ProcessCluster{}
	used := map[int]bool{}
	for _, p := range routePorts {
		used[p] = true
	}
	for i := range n {
		port := freeRoutePort(t)
		for used[port] {
			port = freeRoutePort(t)
		}
		used[port] = true
		c.Nodes = append(c.Nodes, newServerProcess(t, ServerOptions{
			Name: fmt.Sprintf("df-node-%d", i), Port: port,
			clusterName: "df-proc-cluster", clusterPort: routePorts[i], routes: routes,
		}))
	}
	for _, node := range c.Nodes {
		if err := node.startProcess(); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitJetStream(c.URLs(), 60*time.Second); err != nil {
		t.Fatalf("cluster: %v", err)
	}
	return c
}

// URLs are the client URLs of all nodes.
func (c *ProcessCluster) URLs() []string {
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, n.URL())
	}
	return urls
}

// Node returns the node called name, or nil.
func (c *ProcessCluster) Node(name string) *ServerProcess {
	for _, n := range c.Nodes {
		if n.opts.Name == name {
			return n
		}
	}
	return nil
}
