package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/spf13/cobra"
)

type startOptions struct {
	app *App

	Type      string
	ID        string
	TaskQueue string
	Inputs    []string
	// WaitTimeout bounds execute's wait (0: until the run closes).
	WaitTimeout time.Duration
}

func addStartFlags(cmd *cobra.Command, o *startOptions) {
	cmd.Flags().StringVar(&o.ID, "id", "", "workflow ID (default: a new UUID)")
	cmd.Flags().StringVarP(&o.TaskQueue, "task-queue", "q", engine.DefaultTaskQueue, "task queue of the workflow worker")
	cmd.Flags().StringArrayVarP(&o.Inputs, "input", "i", nil, "one workflow argument as a JSON value (repeat for each argument, in order)")
}

func newStartCmd(app *App) *cobra.Command {
	o := &startOptions{app: app}
	cmd := &cobra.Command{
		Use:   "start TYPE [--id ID] [--task-queue Q] [--input JSON]...",
		Short: "Start a workflow and print its workflow and run IDs",
		Long: `Start a run of the workflow type TYPE and print its workflow ID and run ID
without waiting for it (see execute). Each --input is one argument, as a JSON
value: quote strings, --input '"cust-1"' --input 99.5 --input '{"k":1}'.

With -o json, prints the run's state object (workflow_id, run_id, type,
task_queue, status, start_time).`,
		Example: `  dfctl start OrderWorkflow --id order-42 --input '"cust-1"' --input '"prod-9"' --input 99.5 --input 2

  # the run IDs for a script
  dfctl start OrderWorkflow --input '"c"' --input '"p"' --input 1 --input 1 -o json | jq -r .run_id`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Type = args[0]
			return runStart(cmd, o)
		},
	}
	addStartFlags(cmd, o)
	return cmd
}

// input is the JSON array of the --input values, checked one by one.
func (o *startOptions) input() (json.RawMessage, error) {
	args := make([]json.RawMessage, len(o.Inputs))
	for i, in := range o.Inputs {
		if !json.Valid([]byte(in)) {
			var v any
			err := json.Unmarshal([]byte(in), &v)
			return nil, usageError("--input #%d (%s) is not valid JSON: %v; each --input is one JSON value, so quote strings: --input '\"text\"'",
				i+1, history.Truncate(in, 40), err)
		}
		args[i] = json.RawMessage(in)
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, usageError("--input: %v", err)
	}
	return b, nil
}

func (o *startOptions) validate() error {
	if o.ID != "" {
		if err := history.ValidateWorkflowID(o.ID); err != nil {
			return usageError("--id: %v", err)
		}
	}
	if err := engine.ValidateTaskQueue(o.TaskQueue); err != nil {
		return usageError("--task-queue: %v", err)
	}
	if o.Type == "" {
		return usageError("workflow type is empty")
	}
	return nil
}

// start starts the run and returns its state.
func (o *startOptions) start(cmd *cobra.Command) (*client.Client, *engine.RunInfo, error) {
	if err := o.validate(); err != nil {
		return nil, nil, err
	}
	input, err := o.input()
	if err != nil {
		return nil, nil, err
	}
	c, err := o.app.Client(cmd)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	ri, err := c.Store().StartWorkflow(ctx, engine.StartRequest{WorkflowID: o.ID, TaskQueue: o.TaskQueue, Type: o.Type, Input: input})
	if err != nil {
		return nil, nil, err
	}
	return c, ri, nil
}

func runStart(cmd *cobra.Command, o *startOptions) error {
	_, ri, err := o.start(cmd)
	if err != nil {
		return err
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, ri)
	case outJSONL:
		return writeJSONL(ios.Out, ri)
	}
	if !ios.OutTTY {
		fmt.Fprintf(ios.Out, "%s\t%s\n", ri.WorkflowID, ri.RunID)
		return nil
	}
	st := ios.OutStyles()
	fmt.Fprintf(ios.Out, "%s %s\n%s %s\n", st.faint.Render("Workflow ID:"), st.bold.Render(ri.WorkflowID), st.faint.Render("Run ID:     "), ri.RunID)
	fmt.Fprintf(ios.ErrOut, "Follow it with: dfctl show %s --follow\n", shellQuote(ri.WorkflowID))
	return nil
}

func newExecuteCmd(app *App) *cobra.Command {
	o := &startOptions{app: app}
	cmd := &cobra.Command{
		Use:   "execute TYPE [--id ID] [--task-queue Q] [--input JSON]...",
		Short: "Start a workflow, wait for it and print its result",
		Long: `Start a run of the workflow type TYPE, wait for it to close and print its
result. On a terminal the events are printed as they happen. If no worker can
run the workflow (an unknown type, say), the reason is printed to stderr as
soon as it is recorded, and execute keeps waiting (Ctrl-C stops waiting; the
run stays).

--wait-timeout D bounds the wait: when D passes and the run is still
running, execute exits 7, says so on stderr with the command that waits
again (dfctl result ID --wait), and with -o json prints the run state object
as it stands (status running). --timeout bounds each request, not the wait.

Exits 0 when the workflow completed, 1 when it failed, was canceled,
terminated or timed out, 7 when --wait-timeout expired. With -o json, prints
the final run state object.`,
		Example: `  dfctl execute OrderWorkflow --input '"cust-1"' --input '"prod-9"' --input 99.5 --input 2

  # give up waiting after a minute (exit 7); the run keeps going
  dfctl execute ExpenseApprovalWorkflow --id expense-7 --input '"exp-7"' --input 120 --input 3600 --wait-timeout 1m -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Type = args[0]
			return runExecute(cmd, o)
		},
	}
	addStartFlags(cmd, o)
	cmd.Flags().DurationVar(&o.WaitTimeout, "wait-timeout", 0, "stop waiting after `DURATION`: exit 7 if the run is still running (0: wait until it closes)")
	return cmd
}

func runExecute(cmd *cobra.Command, o *startOptions) error {
	if err := checkWaitTimeout(o.WaitTimeout); err != nil {
		return err
	}
	c, ri, err := o.start(cmd)
	if err != nil {
		return err
	}
	ios := o.app.IO
	est := ios.ErrStyles()
	live := ios.OutTTY && o.app.Output == outText
	if ios.ErrTTY || live {
		fmt.Fprintf(ios.ErrOut, "%s %s %s\n", est.faint.Render("Started"), est.bold.Render(ri.WorkflowID), est.faint.Render("run "+ri.RunID))
	}
	table := &eventTable{w: ios.Out, st: ios.OutStyles(), aligned: true}
	var onEvent func(history.Event)
	if live {
		onEvent = table.row
	}
	wctx, wcancel := waitContext(cmd.Context(), o.WaitTimeout)
	defer wcancel()
	final, err := watchRun(wctx, c, ri.WorkflowID, ri.RunID, onEvent, blockedReporter(ios))
	if err != nil {
		if waitExpired(cmd.Context(), wctx) {
			return stillRunning(cmd, o.app, c, ri.WorkflowID, ri.RunID, o.WaitTimeout)
		}
		return err
	}
	return reportClosed(o.app, final, live)
}

// blockedReporter prints why a run cannot progress to stderr, once per reason.
func blockedReporter(ios *IOStreams) func(history.Event) {
	seen := map[string]bool{}
	st := ios.ErrStyles()
	return func(ev history.Event) {
		msg := history.FailureText(ev.Failure)
		if seen[msg] {
			return
		}
		seen[msg] = true
		hint := "the run waits until a worker that can run it picks it up"
		if ev.Failure != nil && ev.Failure.Type == "DecisionTooLarge" {
			hint = "the worker retries it with a growing delay: deploy code that does less in one step, or raise the server's max_payload"
		}
		fmt.Fprintf(ios.ErrOut, "%s %s\n  %s (Ctrl-C stops waiting; the run stays)\n", st.warn.Render("Blocked:"), msg, hint)
		if ev.Failure != nil && ev.Failure.Stack != "" {
			// A panic in workflow code (DF1005): where it happened.
			fmt.Fprintln(ios.ErrOut, st.faint.Render(strings.TrimRight(ev.Failure.Stack, "\n")))
		}
	}
}

// reportClosed prints a closed run's outcome: the result on stdout, a
// failure on stderr with exit status 1.
func reportClosed(app *App, ri *engine.RunInfo, live bool) error {
	ios := app.IO
	var err error
	switch app.Output {
	case outJSON:
		err = writeJSON(ios.Out, ri)
	case outJSONL:
		err = writeJSONL(ios.Out, ri)
	}
	if err != nil {
		return err
	}
	est := ios.ErrStyles()
	if ri.Status == engine.StatusCompleted {
		if app.Output == outText {
			if live {
				fmt.Fprintln(ios.Out)
				fmt.Fprintln(ios.Out, ios.OutStyles().bold.Render("Result:"))
			}
			if ios.OutTTY {
				fmt.Fprintln(ios.Out, prettyJSON(ri.Result))
			} else {
				fmt.Fprintln(ios.Out, history.CompactJSON(ri.Result))
			}
			if ios.ErrTTY {
				fmt.Fprintf(ios.ErrOut, "%s in %s\n", statusText(est, ri.Status, true), runDuration(ios, ri))
			}
		}
		return nil
	}
	fmt.Fprintf(ios.ErrOut, "%s workflow %s %s: %s\n", est.bad.Render("✗"), ri.WorkflowID, ri.Status, history.FailureText(ri.Failure))
	if ri.Failure != nil && ri.Failure.Stack != "" && app.Output == outText {
		fmt.Fprintln(ios.ErrOut, est.faint.Render(ri.Failure.Stack))
	}
	return &ExitError{Code: ExitRunFailed, Silent: true, Err: fmt.Errorf("workflow %s", ri.Status)}
}

// watchRun waits for a run to close, passing each event to onEvent (if not
// nil) as it is appended and each WorkflowTaskFailed to onBlocked. It
// returns the run's final state; every event up to the close has been passed
// on by then.
func watchRun(ctx context.Context, c *client.Client, workflowID, runID string, onEvent, onBlocked func(history.Event)) (*engine.RunInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := c.Store().Log
	subj, err := log.Subject(workflowID, runID)
	if err != nil {
		return nil, usageError("%v", err)
	}
	type closed struct {
		ri  *engine.RunInfo
		err error
	}
	done := make(chan closed, 1)
	go func() {
		ri, err := c.WaitClosed(ctx, workflowID, runID)
		done <- closed{ri, err}
	}()
	var last uint64
	var next string // the run a WorkflowContinuedAsNew of the current run names
	handle := func(rec history.Record) {
		last = rec.StreamSeq
		for _, ev := range rec.Events {
			if onEvent != nil {
				onEvent(ev)
			}
			if ev.Type == history.WorkflowTaskFailed && onBlocked != nil {
				onBlocked(ev)
			}
			if ev.Type == history.WorkflowContinuedAsNew && ev.Next != nil {
				next = ev.Next.RunID
			}
		}
	}
	// catchUp reads what the follow did not deliver of the current run, and
	// then the whole of each run the chain continued in.
	catchUp := func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		for {
			rest, err := log.ReadFrom(rctx, subj, last)
			if err != nil {
				return
			}
			for _, rec := range rest {
				handle(rec)
			}
			if next == "" {
				return
			}
			subj, _ = log.Subject(workflowID, next)
			last, next = 0, ""
		}
	}
	for {
		fctx, fcancel := context.WithCancel(ctx)
		recs := make(chan history.Record)
		followed := make(chan struct{})
		go func(subj string, after uint64) {
			defer close(followed)
			for rec, err := range log.Follow(fctx, subj, after) {
				if err != nil {
					return // the wait below still ends; the catch-up read fills gaps
				}
				select {
				case recs <- rec:
				case <-fctx.Done():
					return
				}
			}
		}(subj, last)
		switched := false
		for !switched {
			select {
			case rec := <-recs:
				handle(rec)
				if next != "" {
					// Continued as new: follow the next run of the chain.
					fcancel()
					<-followed
					subj, _ = log.Subject(workflowID, next)
					last, next, switched = 0, "", true
				}
			case res := <-done:
				fcancel()
				<-followed
				if res.err != nil {
					return nil, res.err
				}
				catchUp()
				return res.ri, nil
			}
		}
	}
}
