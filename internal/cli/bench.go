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
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/nats-io/nats.go"
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

// BenchShape is the input of BenchShapeWorkflow: the shape that --activities,
// --parallel, --payload and --timers ask for.
type BenchShape struct {
	N          int    `json:"n"`
	Activities int    `json:"activities"`
	Parallel   int    `json:"parallel"`
	Timer      bool   `json:"timer,omitempty"`
	Payload    string `json:"payload,omitempty"`
}

// BenchShapeWorkflow runs shape.Activities steps one after the other, each
// step shape.Parallel activities at once, after a 1 ms timer when
// shape.Timer. The payload is only the workflow's input.
func BenchShapeWorkflow(ctx workflow.Context, shape BenchShape) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	if shape.Timer {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
	}
	n := shape.N
	futures := make([]workflow.Future, max(1, shape.Parallel))
	for range shape.Activities {
		for j := range futures {
			futures[j] = workflow.ExecuteActivity(ctx, BenchActivity, n+j)
		}
		var out int
		for _, f := range futures {
			if err := f.Get(ctx, &out); err != nil {
				return 0, err
			}
		}
		n = out
	}
	return n, nil
}

type benchOptions struct {
	app *App

	Workflows   int
	Concurrency int
	CPUProfile  string
	Sync        string
	Activities  int
	Parallel    int
	Payload     int
	Timers      bool
	Stats       bool
}

// shaped says whether the workflow is not the default one-activity one.
func (o *benchOptions) shaped() bool {
	return o.Activities != 1 || o.Parallel != 1 || o.Payload > 0 || o.Timers
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
	// Partitions is the installation's number of history and task streams.
	Partitions int `json:"partitions"`
	// Sync is the server's fsync mode: "always", "interval" or "unknown"
	// (an external server whose mode --sync did not state).
	Sync       string `json:"sync"`
	Durability string `json:"durability"`

	// The workflow's shape: activities one after the other, each that
	// many at once, the input's payload size and whether a timer runs.
	Activities       int     `json:"activities"`
	Parallel         int     `json:"parallel"`
	PayloadBytes     int     `json:"payload_bytes"`
	Timers           bool    `json:"timers"`
	ActivitiesPerSec float64 `json:"activities_per_sec"`
	// CPUMsPerWorkflow is this process's user+system CPU time over the
	// timed part, per completed workflow (with an embedded server, the
	// server's work is included).
	CPUMsPerWorkflow float64     `json:"cpu_ms_per_workflow"`
	GoVersion        string      `json:"go_version"`
	NATSServer       string      `json:"nats_server_version"`
	NATSGo           string      `json:"nats_go_version"`
	Stats            *benchStats `json:"stats,omitempty"`
}

// benchStats are the messages and bytes per completed workflow over the
// timed part (--stats).
type benchStats struct {
	// Source: "server" (the embedded server's counters, every client) or
	// "connections" (an external server: the statistics of this process's
	// client and worker connections only).
	Source              string  `json:"source"`
	ClientToServerMsgs  float64 `json:"client_to_server_msgs_per_workflow"`
	ClientToServerBytes float64 `json:"client_to_server_bytes_per_workflow"`
	ServerToClientMsgs  float64 `json:"server_to_client_msgs_per_workflow"`
	ServerToClientBytes float64 `json:"server_to_client_bytes_per_workflow"`
	MsgsPerWorkflow     float64 `json:"msgs_per_workflow"`
}

// wireCounters are message and byte counts, client to server (in) and
// server to client (out).
type wireCounters struct{ inMsgs, inBytes, outMsgs, outBytes int64 }

func (a wireCounters) sub(b wireCounters) wireCounters {
	return wireCounters{a.inMsgs - b.inMsgs, a.inBytes - b.inBytes, a.outMsgs - b.outMsgs, a.outBytes - b.outBytes}
}

func newBenchCmd(app *App) *cobra.Command {
	o := &benchOptions{app: app}
	cmd := &cobra.Command{
		Use:   "bench [--workflows N] [--concurrency C] [--activities K] [--parallel P] [--payload BYTES] [--timers] [--stats] [--sync always|interval] [--server URL]",
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

--activities K runs K activities one after the other in each workflow,
--parallel P runs each of them as P activities at once (K*P per
workflow), --payload BYTES gives the workflow an input of that size (the
activities do not carry it), --timers makes each workflow sleep on a 1 ms
durable timer first. With the defaults (1, 1, 0, off) the workflow is the
one-activity BenchWorkflow.

--stats prints the messages and bytes per workflow, client to server and
server to client, over the timed part: from the embedded server's
counters (every connection), or, with an external server, from this
process's client and worker connections (other clients not counted).

The figures include the CPU time (user + system) of this process per
workflow (the embedded server's work included), the Go, nats-server and
nats.go versions, and the fsync mode. On a terminal, a progress bar is
drawn on stderr.

-o json prints {"workflows", "concurrency", "completed", "failed",
"workflows_per_sec", "p50_ms", "p99_ms", "seconds", "server", "sync"
(always, interval or unknown), "durability", "activities", "parallel",
"payload_bytes", "timers", "activities_per_sec", "cpu_ms_per_workflow",
"go_version", "nats_server_version", "nats_go_version", and with --stats
"stats": {"source" (server or connections),
"client_to_server_msgs_per_workflow", "client_to_server_bytes_per_workflow",
"server_to_client_msgs_per_workflow", "server_to_client_bytes_per_workflow",
"msgs_per_workflow"}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd, o)
		},
	}
	cmd.Flags().IntVarP(&o.Workflows, "workflows", "n", 2000, "number of workflows")
	cmd.Flags().IntVarP(&o.Concurrency, "concurrency", "c", 100, "workflows in flight at once")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the timed part to this file (go tool pprof)")
	cmd.Flags().IntVar(&o.Activities, "activities", 1, "activities one after the other in each workflow")
	cmd.Flags().IntVar(&o.Parallel, "parallel", 1, "activities at once in each step")
	cmd.Flags().IntVar(&o.Payload, "payload", 0, "bytes of workflow input")
	cmd.Flags().BoolVar(&o.Timers, "timers", false, "each workflow sleeps on a 1 ms durable timer first")
	cmd.Flags().BoolVar(&o.Stats, "stats", false, "print messages and bytes per workflow")
	addSyncFlag(cmd, &o.Sync)
	return cmd
}

func runBench(cmd *cobra.Command, o *benchOptions) error {
	if o.Workflows < 1 || o.Concurrency < 1 {
		return usageError("--workflows and --concurrency must be at least 1")
	}
	if o.Activities < 0 || o.Parallel < 1 || o.Payload < 0 {
		return usageError("--activities and --payload must be at least 0, --parallel at least 1")
	}
	mode, err := devserver.ParseSync(o.Sync)
	if err != nil {
		return usageError("--%v", err)
	}
	ios := o.app.IO
	external := cmd.Flags().Changed("server") || o.app.ContextName != ""
	var c, wc *client.Client
	var srv *devserver.Server
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
		srv, err = devserver.Start(devserver.Options{StoreDir: dir, InProcessOnly: true, Sync: mode})
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
			c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: o.app.Prefix, Partitions: o.app.Partitions})
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
	if err := w.RegisterWorkflow(BenchShapeWorkflow); err != nil {
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
	payload := strings.Repeat("x", o.Payload)
	runOne := func(id string, n int) (time.Duration, error) {
		t0 := time.Now()
		typ, input := "BenchWorkflow", []byte(nil)
		if o.shaped() {
			typ = "BenchShapeWorkflow"
			input, _ = json.Marshal([]BenchShape{{N: n, Activities: o.Activities, Parallel: o.Parallel, Timer: o.Timers, Payload: payload}})
		} else {
			input, _ = json.Marshal([]int{n})
		}
		ri, err := c.Store().StartWorkflow(ctx, engine.StartRequest{WorkflowID: id, TaskQueue: benchTaskQueue, Type: typ, Input: input})
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
	var next, done atomic.Int64
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
	counters := func() wireCounters {
		if srv != nil {
			if v, err := srv.Varz(nil); err == nil {
				return wireCounters{v.InMsgs, v.InBytes, v.OutMsgs, v.OutBytes}
			}
			return wireCounters{}
		}
		var w wireCounters
		for _, nc := range slices.Compact([]*nats.Conn{c.Store().NC, wc.Store().NC}) {
			st := nc.Stats()
			w.inMsgs += int64(st.OutMsgs)
			w.inBytes += int64(st.OutBytes)
			w.outMsgs += int64(st.InMsgs)
			w.outBytes += int64(st.InBytes)
		}
		return w
	}
	wire0, cpu0 := counters(), processCPU()
	start := time.Now()
	stopProgress := func() {}
	if ios.ErrTTY {
		stopProgress = progressBar(ios.ErrOut, o.Workflows, start, &done)
	}
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
				done.Add(1)
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
	cpu, wire := processCPU()-cpu0, counters().sub(wire0)
	stopProgress()
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
		Activities: o.Activities, Parallel: o.Parallel, PayloadBytes: o.Payload, Timers: o.Timers,
		ActivitiesPerSec: float64(len(ok)*o.Activities*o.Parallel) / elapsed.Seconds(),
		GoVersion:        runtime.Version(),
	}
	rep.NATSServer, rep.NATSGo = natsVersions()
	rep.Partitions = c.Store().Partitions()
	if len(ok) > 0 {
		rep.CPUMsPerWorkflow = ms(cpu) / float64(len(ok))
		if o.Stats {
			per := func(n int64) float64 { return float64(n) / float64(len(ok)) }
			st := &benchStats{Source: "server",
				ClientToServerMsgs: per(wire.inMsgs), ClientToServerBytes: per(wire.inBytes),
				ServerToClientMsgs: per(wire.outMsgs), ServerToClientBytes: per(wire.outBytes),
				MsgsPerWorkflow: per(wire.inMsgs + wire.outMsgs)}
			if srv == nil {
				st.Source = "connections"
			}
			rep.Stats = st
		}
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
	parts := ""
	if r.Partitions > 1 {
		parts = fmt.Sprintf(", %d partitions", r.Partitions)
	}
	_, err := fmt.Fprintf(w, "%s %d workflows, %d in flight, %s server%s\n%s %s\n%s %s workflows/s (%.2fs)\n%s p50 %.2f ms, p99 %.2f ms\n%s %d completed, %d failed\n",
		st.faint.Render("bench:     "), r.Workflows, r.Concurrency, r.Server, parts,
		st.faint.Render("durability:"), r.Durability,
		st.faint.Render("throughput:"), st.bold.Render(fmt.Sprintf("%.0f", r.WorkflowsPerSec)), r.Seconds,
		st.faint.Render("latency:   "), r.P50Ms, r.P99Ms,
		st.faint.Render("runs:      "), r.Completed, r.Failed)
	if err != nil {
		return err
	}
	shape := fmt.Sprintf("%d activit%s", r.Activities, map[bool]string{true: "y", false: "ies"}[r.Activities == 1])
	if r.Parallel > 1 {
		shape += fmt.Sprintf(" x %d at once", r.Parallel)
	}
	if r.PayloadBytes > 0 {
		shape += fmt.Sprintf(", %d-byte input", r.PayloadBytes)
	}
	if r.Timers {
		shape += ", a 1 ms timer"
	}
	if _, err := fmt.Fprintf(w, "%s %s per workflow; %.0f activities/s\n%s %.3f ms per workflow (this process, user+system)\n%s sync %s; %s, nats-server %s, nats.go %s\n",
		st.faint.Render("shape:     "), shape, r.ActivitiesPerSec,
		st.faint.Render("cpu:       "), r.CPUMsPerWorkflow,
		st.faint.Render("versions:  "), r.Sync, r.GoVersion, r.NATSServer, r.NATSGo); err != nil {
		return err
	}
	if s := r.Stats; s != nil {
		src := "server counters"
		if s.Source == "connections" {
			src = "this process's connections only"
		}
		_, err = fmt.Fprintf(w, "%s %.2f msgs per workflow (%s): client to server %.2f msgs, %.0f bytes; server to client %.2f msgs, %.0f bytes\n",
			st.faint.Render("wire:      "), s.MsgsPerWorkflow, src, s.ClientToServerMsgs, s.ClientToServerBytes, s.ServerToClientMsgs, s.ServerToClientBytes)
	}
	return err
}

// natsVersions are the nats-server and nats.go module versions this binary
// was built with ("unknown" when the build info does not say).
func natsVersions() (srv, client string) {
	srv, client = "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return srv, client
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		switch d.Path {
		case "github.com/nats-io/nats-server/v2":
			srv = d.Version
		case "github.com/nats-io/nats.go":
			client = d.Version
		}
	}
	return srv, client
}

// progressBar redraws a bar of done/total workflows on w (a terminal) until
// the returned function is called, which clears it.
func progressBar(w io.Writer, total int, start time.Time, done *atomic.Int64) (stop func()) {
	quit, exited := make(chan struct{}), make(chan struct{})
	draw := func() {
		n := int(done.Load())
		const width = 30
		fill := width * n / total
		rate := float64(n) / time.Since(start).Seconds()
		fmt.Fprintf(w, "\r[%s%s] %d/%d workflows, %.0f/s ", strings.Repeat("#", fill), strings.Repeat(" ", width-fill), n, total, rate)
	}
	draw()
	go func() {
		defer close(exited)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() { close(quit); <-exited }
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
