package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/metrics"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/spf13/cobra"
)

type devOptions struct {
	app *App

	Port     int
	StoreDir string
	Examples bool
	Sync     string
	// MetricsAddr serves the example workers' Prometheus metrics ("": off).
	MetricsAddr string
	// Retention deletes closed runs older than this ("": keep them).
	Retention string
}

func newDevCmd(app *App) *cobra.Command {
	o := &devOptions{app: app}
	cmd := &cobra.Command{
		Use:   "dev [--port 4222] [--store DIR] [--sync always|interval] [--examples]",
		Short: "Run a development NATS server with JetStream",
		Long: `Run an embedded NATS server with JetStream on 127.0.0.1 until interrupted
(Ctrl-C). Its data is kept in the store directory across restarts (default
$XDG_DATA_HOME/durablefuture/dev, or ~/.local/share/durablefuture/dev).
The streams and buckets of --prefix are created at start.

--sync says when JetStream fsyncs its files: "interval" (the default, as
NATS's own) every 2 minutes in the background, so a write is acknowledged
before it is on disk and a power failure or kernel crash can lose the last
2 minutes of acknowledged writes (a crash of dfctl alone loses nothing);
"always" fsyncs every write before acknowledging it, as production should
(docs/deploy.md), at a cost in throughput that dfctl bench --sync measures.

--examples also runs the workers of every example scenario in the same
process, on the default task queue. With --metrics-addr ADDR they serve their
Prometheus metrics at http://ADDR/metrics (docs/observability.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDev(cmd, o)
		},
	}
	cmd.Flags().IntVarP(&o.Port, "port", "p", 4222, "port to listen on")
	cmd.Flags().StringVar(&o.StoreDir, "store", "", "JetStream store directory (default $XDG_DATA_HOME/durablefuture/dev)")
	cmd.Flags().BoolVar(&o.Examples, "examples", false, "also run the example scenarios' workers")
	cmd.Flags().StringVar(&o.MetricsAddr, "metrics-addr", "", "with --examples, serve the workers' Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; default off; docs/observability.md)")
	addSyncFlag(cmd, &o.Sync)
	cmd.Flags().StringVar(&o.Retention, "retention", "", "delete closed runs (history, state, index entries) once they closed longer ago than `AGE` (7d, 24h); default: keep them (docs/operations.md)")
	return cmd
}

// addSyncFlag adds --sync, the fsync mode of an embedded server.
func addSyncFlag(cmd *cobra.Command, sync *string) {
	cmd.Flags().StringVar(sync, "sync", string(devserver.SyncInterval),
		"when the embedded server fsyncs: always (every write, before its ack) or interval (every 2m, NATS's default)")
}

// durability says in one line what a fsync mode guarantees.
func durability(s devserver.Sync) string {
	if s == devserver.SyncAlways {
		return "fsync every write"
	}
	return fmt.Sprintf("fsync every %s: an acknowledged write can be lost on power failure",
		strings.TrimSuffix(devserver.SyncEvery.String(), "0s"))
}

func defaultStoreDir() (string, error) {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home directory for the store (pass --store): %w", err)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "durablefuture", "dev"), nil
}

func runDev(cmd *cobra.Command, o *devOptions) error {
	if o.Port <= 0 || o.Port > 65535 {
		return usageError("--port %d: use 1-65535", o.Port)
	}
	if o.MetricsAddr != "" && !o.Examples {
		return usageError("--metrics-addr serves the metrics of the example workers: add --examples (a worker of your own sets worker.Options.Observer: docs/observability.md)")
	}
	var retention time.Duration
	if o.Retention != "" {
		cutoff, err := parseTimeFlag("--retention", o.Retention, time.Unix(0, 0))
		if err != nil || !cutoff.Before(time.Unix(0, 0)) {
			return usageError("--retention %q: use a positive duration such as 7d or 24h", o.Retention)
		}
		retention = time.Unix(0, 0).Sub(cutoff)
	}
	dir := o.StoreDir
	if dir == "" {
		var err error
		if dir, err = defaultStoreDir(); err != nil {
			return usageError("%v", err)
		}
	}
	mode, err := devserver.ParseSync(o.Sync)
	if err != nil {
		return usageError("--%v", err)
	}
	ios := o.app.IO
	st := ios.ErrStyles()
	srv, err := devserver.Start(devserver.Options{Port: o.Port, StoreDir: dir, Sync: mode})
	if errors.Is(err, devserver.ErrPortInUse) {
		return &ExitError{Code: ExitServer, Err: fmt.Errorf("port %d is in use (another dfctl dev or nats-server?): stop it or pass --port N", o.Port)}
	}
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	defer srv.Stop()
	url := natsurl.Redact(srv.URL())
	fmt.Fprintf(ios.ErrOut, "%s NATS with JetStream listening on %s\n", st.ok.Render("●"), st.bold.Render(url))
	fmt.Fprintf(ios.ErrOut, "  store: %s (kept across restarts)\n", dir)
	hint := ""
	if srv.Sync() != devserver.SyncAlways {
		hint = " (--sync always: fsync every write)"
	}
	fmt.Fprintf(ios.ErrOut, "  durability: %s%s\n", durability(srv.Sync()), hint)

	// The installation exists from the start, so that read-only commands
	// (list, describe, tui) find it before anything ran.
	nc, err := srv.Connect()
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	defer nc.Close()
	ctx, cancel := o.app.requestContext(cmd)
	c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: o.app.Prefix, Partitions: o.app.Partitions})
	cancel()
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	defer c.Close()

	logger := slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if retention > 0 {
		sweep, stopSweep := context.WithCancel(cmd.Context())
		swept := make(chan struct{})
		go func() {
			defer close(swept)
			c.Store().RunRetention(sweep, retention, 0, logger)
		}()
		defer func() { stopSweep(); <-swept }()
		fmt.Fprintf(ios.ErrOut, "  retention: closed runs are deleted %s after they close\n", retention)
	}
	var stop func() error
	if o.Examples {
		wopts := worker.Options{Logger: logger}
		if o.MetricsAddr != "" {
			obs, err := metrics.New(metrics.Options{})
			if err != nil {
				return err
			}
			msrv, err := metrics.Serve(o.MetricsAddr)
			if err != nil {
				return &ExitError{Code: ExitServer, Err: fmt.Errorf("--metrics-addr %s: %w", o.MetricsAddr, err)}
			}
			defer msrv.Close()
			wopts.Observer = obs
			fmt.Fprintf(ios.ErrOut, "  metrics: %s\n", msrv.URL())
		}
		w, err := exampleWorkerWith(c, wopts)
		if err != nil {
			return err
		}
		stop = runWorker(w)
		names := ""
		for _, sc := range scenarios.All() {
			names += " " + sc.Name
		}
		fmt.Fprintf(ios.ErrOut, "  example workers running on task queue %q; scenarios:%s\n", engine.DefaultTaskQueue, names)
	}
	server := ""
	if url != "nats://127.0.0.1:4222" {
		server = " -s " + url
	}
	execute := "execute TYPE --input JSON..."
	if o.Examples {
		execute = `execute OrderWorkflow --id order-1 --input '"alice"' --input '"widget-1000"' --input 99.5 --input 2`
	}
	fmt.Fprintf(ios.ErrOut, "\nNext, in another terminal:\n  dfctl%s %s\n  dfctl%s list\n  dfctl%s show ID --follow\nCtrl-C stops the server.\n", server, execute, server, server)

	<-cmd.Context().Done()
	fmt.Fprintln(ios.ErrOut, "\nShutting down...")
	if stop != nil {
		if err := stop(); err != nil {
			fmt.Fprintf(ios.ErrOut, "worker: %v\n", err)
		}
	}
	return nil
}
