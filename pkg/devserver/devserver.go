// Package devserver embeds a NATS server with JetStream for development,
// demos and tests (dfctl dev, dfctl demo, dfctl bench, the test suites).
//
// It is the only package of this module that links nats-server: a worker
// built from pkg/sdk alone does not, and stays small.
package devserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure an embedded NATS server with JetStream.
type Options struct {
	// Host to listen on (default 127.0.0.1).
	Host string
	// Port to listen on; -1 picks a free one (default 4222 when 0).
	Port int
	// StoreDir keeps JetStream data; it survives restarts. Required.
	StoreDir string
	// InProcessOnly: no TCP listener; connect with Server.Connect.
	InProcessOnly bool
	// Sync is when JetStream fsyncs its files: SyncInterval (the default,
	// NATS's own) or SyncAlways.
	Sync Sync
}

// Sync says when a NATS server fsyncs JetStream's file storage (the
// server's sync_interval setting).
type Sync string

const (
	// SyncInterval fsyncs in the background every SyncEvery, NATS's
	// default: a write is acknowledged before it is on disk. A crash of the
	// server process loses nothing (the operating system holds the data); a
	// power failure or kernel crash can lose the acknowledged writes of the
	// last SyncEvery.
	SyncInterval Sync = "interval"
	// SyncAlways fsyncs every write before it is acknowledged
	// (sync_interval: always): what production needs.
	SyncAlways Sync = "always"
)

// SyncEvery is the fsync interval of SyncInterval: NATS's default.
const SyncEvery = 2 * time.Minute

// ParseSync reads "always" or "interval" ("" is SyncInterval).
func ParseSync(s string) (Sync, error) {
	switch Sync(s) {
	case "", SyncInterval:
		return SyncInterval, nil
	case SyncAlways:
		return SyncAlways, nil
	}
	return "", fmt.Errorf("sync %q: use always or interval", s)
}

// ErrPortInUse is returned by Start when the port to listen on is taken
// (another dev server or nats-server). Test for it with errors.Is.
var ErrPortInUse = errors.New("port in use")

// readyTimeout bounds how long Start waits for the server to accept
// connections; a listen error ends the wait at once.
const readyTimeout = 15 * time.Second

// Server is an embedded NATS server for development, demos and tests.
type Server struct {
	*server.Server
}

// Start starts an embedded server and waits until JetStream answers.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("dev server: a store directory is required")
	}
	if _, err := ParseSync(string(o.Sync)); err != nil {
		return nil, fmt.Errorf("dev server: %w", err)
	}
	if err := os.MkdirAll(o.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("dev server: store directory: %w", err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 4222
	}
	opts := &server.Options{
		ServerName: "durablefuture-dev",
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		DontListen: o.InProcessOnly,
		NoSigs:     true,
		// Both set, as the server's config parser sets them for
		// sync_interval: always.
		SyncInterval: SyncEvery,
		SyncAlways:   o.Sync == SyncAlways,
	}
	if !o.InProcessOnly && o.Port > 0 {
		// Checked before starting: the server itself reports a busy port
		// only through its logger, and would otherwise leave us waiting.
		if err := checkPort(o.Host, o.Port); err != nil {
			return nil, err
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("dev server: %w", err)
	}
	// A listen error after the check (the port taken in between) arrives
	// as a fatal log line: it ends the wait below at once.
	fatal := &fatalLogger{ch: make(chan string, 1)}
	s.SetLogger(fatal, false, false)
	go s.Start()
	deadline := time.Now().Add(readyTimeout)
	for !s.ReadyForConnections(50 * time.Millisecond) {
		select {
		case msg := <-fatal.ch:
			s.Shutdown()
			if strings.Contains(msg, "address already in use") {
				return nil, fmt.Errorf("dev server: %w: %s:%d: %s", ErrPortInUse, o.Host, o.Port, msg)
			}
			return nil, fmt.Errorf("dev server: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, fmt.Errorf("dev server: not ready within %s", readyTimeout)
		}
	}
	return &Server{s}, nil
}

// checkPort fails with ErrPortInUse when host:port cannot be listened on
// because something else holds it.
func checkPort(host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("dev server: %w: %s", ErrPortInUse, addr)
		}
		return fmt.Errorf("dev server: cannot listen on %s: %w", addr, err)
	}
	return l.Close()
}

// fatalLogger drops the server's log lines but its first fatal one, which
// it hands over on ch.
type fatalLogger struct {
	once sync.Once
	ch   chan string
}

func (l *fatalLogger) Fatalf(format string, v ...any) {
	l.once.Do(func() { l.ch <- fmt.Sprintf(format, v...) })
}
func (l *fatalLogger) Noticef(string, ...any) {}
func (l *fatalLogger) Warnf(string, ...any)   {}
func (l *fatalLogger) Errorf(string, ...any)  {}
func (l *fatalLogger) Debugf(string, ...any)  {}
func (l *fatalLogger) Tracef(string, ...any)  {}

// Sync is the fsync mode the server runs with, read from the server.
func (d *Server) Sync() Sync {
	if cfg := d.Server.JetStreamConfig(); cfg != nil && cfg.SyncAlways {
		return SyncAlways
	}
	return SyncInterval
}

// URL is the client URL of the server (empty when in-process only).
func (d *Server) URL() string {
	if d.Server.Addr() == nil {
		return ""
	}
	return d.Server.ClientURL()
}

// Connect opens a client connection (in-process when there is no listener).
func (d *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if d.Server.Addr() == nil {
		opts = append(opts, nats.InProcessServer(d.Server))
		return nats.Connect("", opts...)
	}
	return nats.Connect(d.ClientURL(), opts...)
}

// Stop shuts the server down and waits for it.
func (d *Server) Stop() {
	d.Server.Shutdown()
	d.Server.WaitForShutdown()
}
