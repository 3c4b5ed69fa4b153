package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/cobra"
)

type stackOptions struct {
	app *App

	ID    string
	RunID string
}

func newStackCmd(app *App) *cobra.Command {
	o := &stackOptions{app: app}
	cmd := &cobra.Command{
		Use:   "stack ID [--run R]",
		Short: "Show where the code of a running workflow waits",
		Long: `Show where each workflow goroutine of the latest run of workflow ID (or of
run R) waits: the workflow call it is blocked in (workflow.Sleep,
Future.Get, Channel.Receive, Selector.Select, ...), what that call waits
for (an activity, a timer, a child, a signal channel) and the line of your
code that made it. It also lists the run's signal channels with the signals
received that the code has not taken yet.

A live worker of the run's task queue answers, like a query (the built-in
query __stack), from the run it holds or after replaying its history;
nothing is written. The answer is awaited for 5s, or for --timeout.

With -o json, prints {workflow_id, run_id, type, last_event_seq, closed,
stopped, coroutines: [{name, state (blocked, done, not_started, abandoned),
blocked_in, waiting_for, function, file, line, frames: [{function, file,
line}]}], signal_channels: [{name, buffered}]}.

Exit codes:
  0  the stacks are printed on stdout
  3  no worker of the run's task queue answered in time (is one running?),
     or the server failed the request
  2  the worker that answered does not register the run's workflow type
  4  no such workflow or run`,
		Example: `  dfctl stack order-1
  dfctl stack order-1 -o json | jq '.coroutines[] | {name, blocked_in, file, line}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runStack(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	return cmd
}

func runStack(cmd *cobra.Command, o *stackOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	raw, err := queryRun(cmd, o.app, o.ID, o.RunID, engine.StackQuery, nil)
	if err != nil {
		return err
	}
	var ws engine.WorkflowStack
	if err := json.Unmarshal(raw, &ws); err != nil {
		return fmt.Errorf("stack of workflow %q: the worker's answer does not decode (an older worker?): %w", o.ID, err)
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, ws)
	case outJSONL:
		return writeJSONL(ios.Out, ws)
	}
	st := ios.OutStyles()
	fmt.Fprintf(ios.Out, "%s %s (run %s), after event %d\n", st.bold.Render(ws.Type), ws.WorkflowID, ws.RunID, ws.LastEventSeq)
	if ws.Stopped != "" {
		fmt.Fprintf(ios.Out, "%s %s\n", st.warn.Render("stopped:"), ws.Stopped)
	}
	if ws.Closed {
		fmt.Fprintln(ios.Out, "The run is closed: no code waits.")
	}
	for _, co := range ws.Coroutines {
		if co.State != "blocked" {
			fmt.Fprintf(ios.Out, "\n%s  %s\n", st.key.Render(co.Name), st.faint.Render(co.State))
			continue
		}
		fmt.Fprintf(ios.Out, "\n%s  blocked in %s", st.key.Render(co.Name), st.info.Render(co.BlockedIn))
		if co.WaitingFor != "" {
			fmt.Fprintf(ios.Out, " on %s", co.WaitingFor)
		}
		fmt.Fprintln(ios.Out)
		for _, f := range co.Frames {
			file := f.File
			if ios.OutTTY {
				file = filepath.Base(file)
			}
			fmt.Fprintf(ios.Out, "    %s\n        %s:%d\n", f.Function, file, f.Line)
		}
	}
	if len(ws.SignalChannels) > 0 {
		fmt.Fprintln(ios.Out)
		for _, ch := range ws.SignalChannels {
			fmt.Fprintf(ios.Out, "signal channel %q: %d received, not taken yet\n", ch.Name, ch.Buffered)
		}
	}
	return nil
}
