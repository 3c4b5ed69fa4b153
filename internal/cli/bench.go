package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/spf13/cobra"
)

// benchTaskQueue keeps bench runs away from other workers on a shared server.
const benchTaskQueue = "dfctl-bench"

// BenchWorkflow is the one-activity workflow that dfctl bench runs.
func BenchWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var out int
	err := workflow.ExecuteActivity(ctx, BenchActivity, n).Get(ctx, &out)
	return out, err
}

// BenchActivity is BenchWorkflow's activity.
func BenchActivity(ctx context.Context, n int) (int, error) { return n + 1, nil }

type benchOptions struct {
	app *App

	Workflows   int
	Concurrency int
	CPUProfile  string
	Sync        string
}

// benchReport is what -o json prints.
type benchReport struct {
	Workflows       int     `json:"workflows"`
	Concurrency     int     `json:"concurrency"`
	Completed       int     `json:"completed"`
	Failed          int     `json:"failed"`
	WorkflowsPerSec float64 `json:"workflows_per_sec"`
	P50Ms           float64 `json:"p50_ms"`
	P99Ms           float64 `json:"p99_ms"`
	Seconds         float64 `json:"seconds"`
	Server          string  `json:"server"`
	// Sync is the server's fsync mode: "always", "interval" or "unknown"
	// (an external server whose mode --sync did not state).
	Sync       string `json:"sync"`
	Durability string `json:"durability"`
}

func newBenchCmd(app *App) *cobra.Command {
	o := &benchOptions{app: app}
	cmd := &cobra.Command{
		Use:   "bench [--workflows N] [--concurrency C] [--sync always|interval] [--server URL]",
		Short: "Measure workflow throughput and latency",
		Long: `Run N one-activity workflows, C in flight at once, and print the throughput
(workflows per second) and the p50 and p99 latency from start to result.

Without --server (or --context), bench runs an embedded NATS server in a
temporary directory (file storage) and the workers in this process; with
one, the server is that one, and the workers still run in this process on
task queue ` + benchTaskQueue + `.

--sync is the embedded server's fsync mode: interval (NATS's default,
every 2 minutes) or always (every write before its acknowledgement, as
production should run). An external server's mode is its sync_interval
setting, which dfctl cannot read: --sync then only records what you say it
is. The mode is printed with the figures.

-o json prints {"workflows", "concurrency", "completed", "failed",
"workflows_per_sec", "p50_ms", "p99_ms", "seconds", "server", "sync"
(always, interval or unknown), "durability"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd, o)
		},
	}
	cmd.Flags().IntVarP(&o.Workflows, "workflows", "n", 2000, "number of workflows")
	cmd.Flags().IntVarP(&o.Concurrency, "concurrency", "c", 100, "workflows in flight at once")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the timed part to this file (go tool pprof)")
	addSyncFlag(cmd, &o.Sync)
	return cmd
}

func runBench(cmd *cobra.Command, o *benchOptions) error {
	if o.Workflows < 1 || o.Concurrency < 1 {
		return usageError("--workflows and --concurrency must be at least 1")
	}
	mode, err := devserver.ParseSync(o.Sync)
	if err != nil {
		return usageError("--%v", err)
	}
	ios := o.app.IO
	external := cmd.Flags().Changed("server") || o.app.ContextName != ""
	var c, wc *client.Client
	server := "embedded"
	syncName, durable := string(mode), ""
	if external {
		var err error
		if c, err = o.app.Client(cmd); err != nil {
			return err
		}
		wc = c
		server = natsurl.Redact(c.Store().NC.ConnectedUrl())
		if cmd.Flags().Changed("sync") {
			durable = durability(mode) + " (as stated with --sync; dfctl cannot read the server's setting)"
		} else {
			syncName = "unknown"
			durable = "unknown: the server's sync_interval setting, which dfctl cannot read (NATS's default fsyncs every 2m); --sync records it"
		}
	} else {
		dir, err := os.MkdirTemp("", "dfctl-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		srv, err := devserver.Start(devserver.Options{StoreDir: dir, InProcessOnly: true, Sync: mode})
		if err != nil {
			return &ExitError{Code: ExitServer, Err: err}
		}
		defer srv.Stop()
		syncName, durable = string(srv.Sync()), durability(srv.Sync())
		// Separate connections for the client and the worker, as in production.
		dial := func() (*client.Client, error) {
			nc, err := srv.Connect()
			if err != nil {
				return nil, err
			}
			ctx, cancel := o.app.requestContext(cmd)
			defer cancel()
			c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: o.app.Prefix})
			if err != nil {
				nc.Close()
				return nil, err
			}
			return c, nil
		}
		if c, err = dial(); err != nil {
			return &ExitError{Code: ExitServer, Err: err}
		}
		defer c.Store().NC.Close()
		if wc, err = dial(); err != nil {
			return &ExitError{Code: ExitServer, Err: err}
		}
		defer wc.Store().NC.Close()
	}

	w := worker.New(wc, worker.Options{
		TaskQueues: []string{benchTaskQueue},
		Logger:     slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err := w.RegisterWorkflow(BenchWorkflow); err != nil {
		return err
	}
	if err := w.RegisterActivity(BenchActivity); err != nil {
		return err
	}
	stop := runWorker(w)
	defer stop()

	var tag [4]byte
	_, _ = rand.Read(tag[:])
	prefix := "bench-" + hex.EncodeToString(tag[:]) + "-"
	ctx := cmd.Context()
	runOne := func(id string, n int) (time.Duration, error) {
		t0 := time.Now()
		input, _ := json.Marshal([]int{n})
		ri, err := c.Store().StartWorkflow(ctx, engine.StartRequest{WorkflowID: id, TaskQueue: benchTaskQueue, Type: "BenchWorkflow", Input: input})
		if err != nil {
			return 0, err
		}
		ri, err = c.WaitClosed(ctx, ri.WorkflowID, ri.RunID)
		if err != nil {
			return 0, err
		}
		if err := engine.ResultError(ri); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	// Warm up: consumers are created and the worker is pulling.
	if _, err := runOne(prefix+"warmup", 0); err != nil {
		return fmt.Errorf("bench: warm-up workflow: %w", err)
	}
	if ios.ErrTTY && o.app.Output == outText {
		fmt.Fprintf(ios.ErrOut, "Running %d workflows, %d in flight (%s server, sync %s)...\n", o.Workflows, o.Concurrency, server, syncName)
	}

	lat := make([]time.Duration, o.Workflows)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return usageError("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	for range min(o.Concurrency, o.Workflows) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.Workflows || ctx.Err() != nil {
					return
				}
				d, err := runOne(fmt.Sprintf("%s%d", prefix, i), i)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					lat[i] = -1
					continue
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	ok := slices.DeleteFunc(lat, func(d time.Duration) bool { return d < 0 })
	slices.Sort(ok)
	rep := benchReport{
		Workflows: o.Workflows, Concurrency: o.Concurrency,
		Completed: len(ok), Failed: int(failed.Load()),
		WorkflowsPerSec: float64(len(ok)) / elapsed.Seconds(),
		P50Ms:           ms(percentile(ok, 50)), P99Ms: ms(percentile(ok, 99)),
		Seconds: elapsed.Seconds(), Server: server, Sync: syncName, Durability: durable,
	}
	switch o.app.Output {
	case outJSON:
		err = writeJSON(ios.Out, rep)
	case outJSONL:
		err = writeJSONL(ios.Out, rep)
	default:
		err = writeBenchText(ios.Out, ios.OutStyles(), rep)
	}
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		return &ExitError{Code: ExitRunFailed, Err: fmt.Errorf("%d of %d workflows failed; first error: %v", rep.Failed, rep.Workflows, firstErr.Load())}
	}
	return nil
}

func writeBenchText(w io.Writer, st styles, r benchReport) error {
	_, err := fmt.Fprintf(w, "%s %d workflows, %d in flight, %s server\n%s %s\n%s %s workflows/s (%.2fs)\n%s p50 %.2f ms, p99 %.2f ms\n%s %d completed, %d failed\n",
		st.faint.Render("bench:     "), r.Workflows, r.Concurrency, r.Server,
		st.faint.Render("durability:"), r.Durability,
		st.faint.Render("throughput:"), st.bold.Render(fmt.Sprintf("%.0f", r.WorkflowsPerSec)), r.Seconds,
		st.faint.Render("latency:   "), r.P50Ms, r.P99Ms,
		st.faint.Render("runs:      "), r.Completed, r.Failed)
	return err
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(i-1, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
