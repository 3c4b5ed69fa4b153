// Command examples runs the example scenarios against a DurableFuture server:
// their workers, their client, or both.
//
//	go run ./cmd/dfctl dev                                   # a development server
//	go run ./examples/cmd --list                             # the scenarios
//	go run ./examples/cmd --scenario order-retries --worker  # workers for one scenario
//	go run ./examples/cmd --scenario order-retries --client  # start one run, print its result
//
// Workflows and activities may also be served by separate processes
// (--workflow-worker, --activity-worker), as many of each as you like.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/failure"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/nats-io/nats.go"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a run did not complete, or the server could not be used
	exitUsage   = 2
	defaultURL  = "nats://127.0.0.1:4222"
	allScenario = "all"
)

type config struct {
	list           bool
	server         string
	scenario       string
	taskQueue      string
	id             string
	timeout        time.Duration
	showHistory    bool
	client         bool
	workflowWorker bool
	activityWorker bool
	worker         bool
}

func main() {
	// SIGINT or SIGTERM stops the workers gracefully (tasks in hand finish)
	// and a waiting client.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	if cfg.list {
		listScenarios(stdout)
		return exitOK
	}
	scs, err := selectScenarios(cfg.scenario)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitUsage
	}

	c, err := client.Dial(ctx, client.Options{
		URL:            cfg.server,
		ConnectTimeout: 5 * time.Second,
		NatsOptions:    natsOptions(cfg, stderr),
	})
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		fmt.Fprintf(stderr, "hint: start a development server in another terminal with `go run ./cmd/dfctl dev`,\n"+
			"      or point --server (or $NATS_URL) at a running one.\n")
		return exitFailed
	}
	defer c.Close()

	if cfg.client {
		return runClients(ctx, c, cfg, scs, stdout, stderr)
	}
	return runWorker(ctx, c, cfg, scs, stderr)
}

func parseFlags(args []string, stderr io.Writer) (config, int) {
	var cfg config
	fs := flag.NewFlagSet("examples", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := os.Getenv("NATS_URL")
	if server == "" {
		server = defaultURL
	}
	scenario := os.Getenv("EXAMPLE_SCENARIO")
	if scenario == "" {
		scenario = scenarios.DefaultName
	}
	fs.BoolVar(&cfg.list, "list", false, "list the scenarios and exit")
	fs.BoolVar(&cfg.list, "list-examples", false, "same as --list")
	fs.StringVar(&cfg.server, "server", server, "NATS server URL (env NATS_URL)")
	fs.StringVar(&cfg.scenario, "scenario", scenario, `scenario to run (env EXAMPLE_SCENARIO); "all" for every one`)
	fs.StringVar(&cfg.taskQueue, "task-queue", "default", "task queue of the workflows and activities")
	fs.StringVar(&cfg.id, "id", "", "workflow ID for --client (default: the scenario name and a random suffix)")
	fs.DurationVar(&cfg.timeout, "timeout", time.Minute, "how long --client waits for the result")
	fs.BoolVar(&cfg.showHistory, "history", true, "with --client, print the run's event log after the result")
	fs.BoolVar(&cfg.client, "client", false, "start one run of the scenario and print its result")
	fs.BoolVar(&cfg.workflowWorker, "workflow-worker", false, "serve the scenario's workflows until interrupted")
	fs.BoolVar(&cfg.activityWorker, "activity-worker", false, "serve the scenario's activities until interrupted")
	fs.BoolVar(&cfg.worker, "worker", false, "serve the scenario's workflows and activities until interrupted")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./examples/cmd --list\n"+
			"       go run ./examples/cmd [--scenario NAME] (--client | --worker | --workflow-worker | --activity-worker) [flags]\n\n"+
			"Runs the example scenarios against a DurableFuture server\n"+
			"(start one with `go run ./cmd/dfctl dev`).\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nScenarios:\n")
		listScenarios(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, exitOK
		}
		return cfg, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "error: unexpected arguments %q (the scenario is chosen with --scenario)\n", fs.Args())
		return cfg, exitUsage
	}
	if cfg.list {
		return cfg, -1
	}
	modes := 0
	for _, m := range []bool{cfg.client, cfg.workflowWorker, cfg.activityWorker, cfg.worker} {
		if m {
			modes++
		}
	}
	if modes != 1 {
		fmt.Fprintf(stderr, "error: choose exactly one of --client, --worker, --workflow-worker, --activity-worker (or --list)\n")
		fmt.Fprintf(stderr, "run `go run ./examples/cmd --help` for the flags\n")
		return cfg, exitUsage
	}
	if cfg.timeout <= 0 {
		fmt.Fprintf(stderr, "error: --timeout must be positive\n")
		return cfg, exitUsage
	}
	return cfg, -1
}

func natsOptions(cfg config, stderr io.Writer) []nats.Option {
	if cfg.client {
		return nil
	}
	// Workers outlive a server restart: reconnect for as long as it takes.
	return []nats.Option{
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				fmt.Fprintf(stderr, "disconnected from %s: %v (reconnecting)\n", natsurl.Redact(cfg.server), natsurl.RedactErr(err, cfg.server))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			fmt.Fprintf(stderr, "reconnected to %s\n", natsurl.Redact(nc.ConnectedUrl()))
		}),
	}
}

func listScenarios(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, sc := range scenarios.All() {
		def := ""
		if sc.Name == scenarios.DefaultName {
			def = " (default)"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", sc.Name, sc.Description, def)
	}
	tw.Flush()
}

func selectScenarios(name string) ([]scenarios.Scenario, error) {
	if name == allScenario {
		return scenarios.All(), nil
	}
	sc, err := scenarios.Get(name)
	if err != nil {
		return nil, err
	}
	return []scenarios.Scenario{sc}, nil
}

func runWorker(ctx context.Context, c *client.Client, cfg config, scs []scenarios.Scenario, stderr io.Writer) int {
	w := worker.New(c, worker.Options{TaskQueues: []string{cfg.taskQueue}})
	var names []string
	for _, sc := range scs {
		names = append(names, sc.Name)
		if cfg.worker || cfg.workflowWorker {
			if err := sc.RegisterWorkflows(w); err != nil {
				fmt.Fprintf(stderr, "error: %v\n", err)
				return exitFailed
			}
		}
		if cfg.worker || cfg.activityWorker {
			if err := sc.RegisterActivities(w); err != nil {
				fmt.Fprintf(stderr, "error: %v\n", err)
				return exitFailed
			}
		}
	}
	kind := "workflow and activity"
	switch {
	case cfg.workflowWorker:
		kind = "workflow"
	case cfg.activityWorker:
		kind = "activity"
	}
	fmt.Fprintf(stderr, "%s worker for %s on task queue %q at %s; Ctrl-C to stop\n", kind, strings.Join(names, ", "), cfg.taskQueue, natsurl.Redact(cfg.server))
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "error: worker: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "worker stopped\n")
	return exitOK
}

func runClients(ctx context.Context, c *client.Client, cfg config, scs []scenarios.Scenario, stdout, stderr io.Writer) int {
	if cfg.id != "" && len(scs) > 1 {
		fmt.Fprintf(stderr, "error: --id names one run; it cannot be used with --scenario all\n")
		return exitUsage
	}
	code := exitOK
	for _, sc := range scs {
		if c := runClient(ctx, c, cfg, sc, stdout, stderr); c != exitOK {
			code = c
		}
		if ctx.Err() != nil {
			break
		}
	}
	return code
}

func runClient(ctx context.Context, c *client.Client, cfg config, sc scenarios.Scenario, stdout, stderr io.Writer) int {
	id := cfg.id
	if id == "" {
		id = sc.Name + "-" + randomSuffix()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	start := time.Now()
	r, err := sc.Start(ctx, c, client.StartOptions{ID: id, TaskQueue: cfg.taskQueue})
	if err != nil {
		fmt.Fprintf(stderr, "error: start %s: %v\n", sc.Name, err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "started %s: workflow %s, run %s, task queue %q\n", sc.Name, r.ID(), r.RunID(), cfg.taskQueue)

	var result any
	err = r.Get(ctx, &result)
	took := time.Since(start).Round(time.Millisecond)
	if cfg.showHistory {
		// Read the log even on failure: it says what happened. A fresh
		// context, so that a timed-out wait still shows how far it got.
		hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
		if evs, herr := c.History(hctx, r.ID(), r.RunID()); herr == nil {
			printHistory(stdout, evs)
		}
		hcancel()
	}
	var wee *failure.WorkflowExecutionError
	switch {
	case err == nil:
		out, _ := json.MarshalIndent(result, "", "  ")
		fmt.Fprintf(stdout, "%s completed in %v, result:\n%s\n", sc.Name, took, out)
		return exitOK
	case errors.As(err, &wee) && sc.Expected(string(wee.Status)):
		fmt.Fprintf(stdout, "%s ended %s in %v, as designed: %v\n", sc.Name, wee.Status, took, err)
		return exitOK
	case errors.As(err, &wee):
		fmt.Fprintf(stderr, "%s: %v\n", sc.Name, err)
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stderr, "%s: no result after %v: is a worker for %q running on task queue %q?\n"+
			"  go run ./examples/cmd --scenario %s --worker --task-queue %s\n"+
			"the run goes on; wait for it with `dfctl result %s --wait`\n",
			sc.Name, cfg.timeout, sc.Name, cfg.taskQueue, sc.Name, cfg.taskQueue, r.ID())
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "%s: interrupted; the run goes on: `dfctl result %s --wait`\n", sc.Name, r.ID())
	default:
		fmt.Fprintf(stderr, "%s: %v\n", sc.Name, err)
	}
	return exitFailed
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// printHistory writes the run's event log as the seed README's table.
func printHistory(w io.Writer, evs []history.Event) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SEQ\tEVENT\tNAME\tATTEMPT\tDETAIL\n")
	for _, ev := range evs {
		attempt := ""
		if ev.Attempt > 0 {
			attempt = fmt.Sprint(ev.Attempt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", ev.Seq, ev.Type, ev.Name, attempt, detail(ev))
	}
	tw.Flush()
}

func detail(ev history.Event) string {
	var s string
	switch {
	case ev.Failure != nil:
		s = ev.Failure.Message
		if ev.Failure.Type != "" {
			s = ev.Failure.Type + ": " + s
		}
		if ev.NextAttemptAt != nil {
			s += fmt.Sprintf(" (retry in %v)", ev.NextAttemptAt.Sub(ev.Time).Round(time.Millisecond))
		}
	case len(ev.Result) > 0:
		s = string(ev.Result)
	case len(ev.Input) > 0:
		s = string(ev.Input)
	}
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}
