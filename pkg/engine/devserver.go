package engine

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DevServerOptions configure an embedded NATS server with JetStream.
type DevServerOptions struct {
	// Host to listen on (default 127.0.0.1).
	Host string
	// Port to listen on; -1 picks a free one (default 4222 when 0).
	Port int
	// StoreDir keeps JetStream data; it survives restarts. Required.
	StoreDir string
	// InProcessOnly: no TCP listener; connect with DevServer.Connect.
	InProcessOnly bool
}

// DevServer is an embedded NATS server for development, demos and tests.
type DevServer struct {
	*server.Server
}

// StartDevServer starts an embedded server and waits until JetStream answers.
func StartDevServer(o DevServerOptions) (*DevServer, error) {
	if o.StoreDir == "" {
		return nil, errors.New("dev server: a store directory is required")
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
		MaxPayload: 8 * 1024 * 1024,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("dev server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		if o.Port > 0 {
			return nil, fmt.Errorf("dev server: not ready on %s:%d (is the port already in use? try --port)", o.Host, o.Port)
		}
		return nil, errors.New("dev server: not ready within 15s")
	}
	return &DevServer{s}, nil
}

// URL is the client URL of the server (empty when in-process only).
func (d *DevServer) URL() string {
	if d.Server.Addr() == nil {
		return ""
	}
	return d.Server.ClientURL()
}

// Connect opens a client connection (in-process when there is no listener).
func (d *DevServer) Connect(opts ...nats.Option) (*nats.Conn, error) {
	if d.Server.Addr() == nil {
		opts = append(opts, nats.InProcessServer(d.Server))
		return nats.Connect("", opts...)
	}
	return nats.Connect(d.ClientURL(), opts...)
}

// Stop shuts the server down and waits for it.
func (d *DevServer) Stop() {
	d.Server.Shutdown()
	d.Server.WaitForShutdown()
}
