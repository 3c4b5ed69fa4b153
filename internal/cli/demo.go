package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

type demoOptions struct {
	app *App

	Scenario string
	List     bool
	Sync     string
	// Web serves the run's page instead of printing its events (web.go).
	Web     bool
	WebAddr string
}

func newDemoCmd(app *App) *cobra.Command {
	o := &demoOptions{app: app}
	cmd := &cobra.Command{
		Use:   "demo [SCENARIO] [--list]",
		Short: "Run an example workflow end to end in one process",
		Long: `Run an example scenario in one process: an embedded NATS server in a
temporary directory (removed afterwards), the example workers, and the
workflow, printing its events as they are recorded and then its result.

Without SCENARIO runs ` + scenarios.DefaultName + `; --list shows them all.
With --web it serves the run's page (as dfctl web, on --addr) instead of
printing its events, with a "crash the worker" button: the worker is
killed in the middle of a run, a new one starts and the run resumes from
its history. It serves until ctrl-c.
Exits 0 when the workflow completed, 1 when it failed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Scenario = scenarios.DefaultName
			if len(args) == 1 {
				o.Scenario = args[0]
			}
			return runDemo(cmd, o)
		},
	}
	cmd.Flags().BoolVarP(&o.List, "list", "l", false, "list the scenarios")
	cmd.Flags().BoolVar(&o.Web, "web", false, "follow the run in the browser (dfctl web), with a button that crashes the worker")
	cmd.Flags().StringVar(&o.WebAddr, "addr", "127.0.0.1:8080", "with --web: listen on `HOST:PORT`")
	addSyncFlag(cmd, &o.Sync)
	return cmd
}

func runDemo(cmd *cobra.Command, o *demoOptions) error {
	ios := o.app.IO
	if o.List {
		all := scenarios.All()
		switch o.app.Output {
		case outJSON, outJSONL:
			type item struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			}
			items := []item{}
			for _, sc := range all {
				items = append(items, item{sc.Name, sc.Description})
			}
			if o.app.Output == outJSON {
				return writeJSON(ios.Out, items)
			}
			for _, it := range items {
				if err := writeJSONL(ios.Out, it); err != nil {
					return err
				}
			}
			return nil
		}
		var w io.Writer = ios.Out
		var tw *tabwriter.Writer
		if ios.OutTTY {
			tw = tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
			w = tw
		}
		for _, sc := range all {
			name := sc.Name
			if sc.Name == scenarios.DefaultName && ios.OutTTY {
				name += " (default)"
			}
			fmt.Fprintf(w, "%s\t%s\n", name, sc.Description)
		}
		if tw != nil {
			return tw.Flush()
		}
		return nil
	}
	sc, err := scenarios.Get(o.Scenario)
	if err != nil {
		return usageError("%v; dfctl demo --list shows them", err)
	}
	mode, err := devserver.ParseSync(o.Sync)
	if err != nil {
		return usageError("--%v", err)
	}
	est := ios.ErrStyles()
	dir, err := os.MkdirTemp("", "dfctl-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := devserver.Start(devserver.Options{StoreDir: dir, InProcessOnly: true, Sync: mode})
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	defer srv.Stop()
	nc, err := srv.Connect()
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	defer nc.Close()
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: o.app.Prefix, Partitions: o.app.Partitions})
	if err != nil {
		return &ExitError{Code: ExitServer, Err: err}
	}
	// Worker logs would interleave with the table; keep only errors.
	logger := slog.New(slog.NewTextHandler(ios.ErrOut, &slog.HandlerOptions{Level: slog.LevelError}))
	if o.Web {
		return demoWeb(cmd, o, srv, c, sc, logger)
	}
	w, err := exampleWorker(c, logger)
	if err != nil {
		return err
	}
	stop := runWorker(w)
	defer stop()

	fmt.Fprintf(ios.ErrOut, "%s %s: %s\n", est.info.Render("▶"), est.bold.Render(sc.Name), sc.Description)
	fmt.Fprintf(ios.ErrOut, "  %s\n  %s\n\n", est.faint.Render("embedded NATS server in "+dir+", example workers in this process"),
		est.faint.Render("durability: "+durability(srv.Sync())))
	run, err := sc.Start(ctx, c, client.StartOptions{ID: "demo-" + sc.Name})
	if err != nil {
		return err
	}
	started := time.Now()
	table := &eventTable{w: ios.Out, st: ios.OutStyles(), aligned: true}
	var onEvent func(history.Event)
	switch o.app.Output {
	case outText:
		onEvent = table.row
	case outJSONL:
		onEvent = func(ev history.Event) { _ = writeJSONL(ios.Out, ev) }
	}
	ri, err := watchRun(cmd.Context(), c, run.ID(), run.RunID(), onEvent, blockedReporter(ios))
	if err != nil {
		return err
	}
	if o.app.Output == outJSON {
		return reportClosed(o.app, ri, false)
	}
	// A demo succeeds when its run ends as the scenario is designed to end
	// (the saga is cancelled on purpose).
	asDesigned := sc.Expected(string(ri.Status))
	if o.app.Output == outJSONL {
		if !asDesigned {
			return &ExitError{Code: ExitRunFailed, Silent: true}
		}
		return nil
	}
	ost := ios.OutStyles()
	fmt.Fprintln(ios.Out)
	if ri.Status == engine.StatusCompleted {
		fmt.Fprintf(ios.Out, "%s %s\n", ost.ok.Render("✓ completed"), ost.faint.Render("in "+shortDuration(time.Since(started))))
		fmt.Fprintln(ios.Out, ost.bold.Render("Result:"))
		fmt.Fprintln(ios.Out, prettyJSON(ri.Result))
	} else if asDesigned {
		fmt.Fprintf(ios.Out, "%s %s %s\n", ost.warn.Render("⊘ "+string(ri.Status)), history.FailureText(ri.Failure),
			ost.faint.Render("(as this scenario is designed to end)"))
	} else {
		fmt.Fprintf(ios.Out, "%s %s\n", ost.bad.Render("✗ "+string(ri.Status)), history.FailureText(ri.Failure))
	}
	fmt.Fprintf(ios.ErrOut, "\n%s\n  dfctl dev --examples            %s\n  dfctl demo --list               %s\n",
		est.bold.Render("Next:"),
		est.faint.Render("# a server with these workers, to start workflows yourself"),
		est.faint.Render("# the other scenarios"))
	if !asDesigned {
		return &ExitError{Code: ExitRunFailed, Silent: true}
	}
	return nil
}
