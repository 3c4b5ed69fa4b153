// Command worker is the chaos suite's worker process: it serves the
// workflows and the activity of package chaos on one server, logging every
// activity attempt to an attempts file, until it is killed (the suite
// SIGKILLs it) or gets SIGTERM/SIGINT.
//
//	worker -server nats://127.0.0.1:4222 -attempts attempts-1.log -identity w1
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/durablefuture/durablefuture/internal/chaos"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/nats-io/nats.go"
)

func main() {
	server := flag.String("server", nats.DefaultURL, "NATS URL (a comma-separated list for a cluster)")
	attemptsPath := flag.String("attempts", "attempts.log", "file the activity attempts are appended to")
	identity := flag.String("identity", "", "worker identity (default host:pid)")
	replicas := flag.Int("replicas", 1, "replicas of the streams and buckets")
	wfTimeout := flag.Duration("workflow-task-timeout", 3*time.Second, "workflow task timeout (AckWait)")
	actTimeout := flag.Duration("activity-task-timeout", 5*time.Second, "activity task timeout (AckWait)")
	dialFor := flag.Duration("dial-for", 2*time.Minute, "how long to keep trying to connect")
	debug := flag.Bool("debug", false, "log at debug level")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("pid", os.Getpid())
	if err := run(log, *server, *attemptsPath, *identity, *replicas, *wfTimeout, *actTimeout, *dialFor); err != nil {
		log.Error("chaos worker", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, server, attemptsPath, identity string, replicas int, wfTimeout, actTimeout, dialFor time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	al, err := chaos.OpenAttemptsLog(attemptsPath)
	if err != nil {
		return err
	}
	defer al.Close()

	// The server may be down or frozen when this process starts: keep
	// trying (every dial has its own timeout) until dialFor is over.
	deadline := time.Now().Add(dialFor)
	var c *client.Client
	for {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err = client.Dial(dctx, client.Options{URL: server, Replicas: replicas, NatsOptions: []nats.Option{
			nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond), nats.Name("chaos-worker"),
		}})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("dial: %w", err)
		}
		log.Warn("dial failed, retrying", "err", err)
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	defer c.Close()

	w := worker.New(c, worker.Options{
		Identity:            identity,
		WorkflowTaskTimeout: wfTimeout,
		ActivityTaskTimeout: actTimeout,
		ShutdownTimeout:     2 * time.Second,
		Logger:              log,
	})
	if err := chaos.Register(w, al); err != nil {
		return err
	}
	log.Info("chaos worker ready", "server", server, "identity", identity)
	return w.Run(ctx)
}
