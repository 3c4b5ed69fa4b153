package cli

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/examples/scenarios/saga"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// completionTimeout bounds a completion's talk with the server: a shell
// waits on it, so with no server it gives up quickly and offers nothing.
const completionTimeout = time.Second

// completionListLimit is how many runs a completion reads from the index.
const completionListLimit = 200

// idCommands take a workflow ID as their first argument (by command path).
var idCommands = []string{
	"dfctl describe", "dfctl show", "dfctl result", "dfctl query", "dfctl cancel",
	"dfctl terminate", "dfctl reset", "dfctl replay", "dfctl tui", "dfctl stack",
}

// multiIDCommands take any number of workflow IDs.
var multiIDCommands = []string{"dfctl delete"}

// typeCommands take a workflow type as their first argument.
var typeCommands = []string{"dfctl start", "dfctl execute"}

// queueCommands take a task queue as their first argument.
var queueCommands = []string{"dfctl task-queue describe"}

// exampleSignals are the signals the example workflows wait for, offered
// even before any run of them received one.
var exampleSignals = map[string][]string{
	engine.FunctionName(approval.ExpenseApprovalWorkflow): {approval.SignalName},
	engine.FunctionName(saga.TripBookingWorkflow):         {saga.PaymentSignal},
}

// setupCompletion makes 'dfctl completion SHELL' visible and gives the
// commands of the tree dynamic completions read from the server: workflow
// IDs, types, task queues, signal names and statuses. A command that set
// its own completion keeps it.
func setupCompletion(root *cobra.Command, app *App) {
	root.CompletionOptions.HiddenDefaultCmd = false
	// The completion command writes its script to the streams it finds
	// when it is made: make it with dfctl's.
	if app.IO != nil {
		root.SetOut(app.IO.Out)
		root.SetErr(app.IO.ErrOut)
	}
	root.InitDefaultCompletionCmd()
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		if cmd.ValidArgsFunction == nil && len(cmd.ValidArgs) == 0 {
			switch {
			case path == "dfctl signal":
				cmd.ValidArgsFunction = app.completeSignalArgs
			case slices.Contains(idCommands, path):
				cmd.ValidArgsFunction = app.completeFirstArg(app.completeWorkflowIDs)
			case slices.Contains(multiIDCommands, path):
				cmd.ValidArgsFunction = app.completeMoreIDs
			case slices.Contains(typeCommands, path):
				cmd.ValidArgsFunction = app.completeFirstArg(app.completeTypes)
			case slices.Contains(queueCommands, path):
				cmd.ValidArgsFunction = app.completeFirstArg(app.completeTaskQueues)
			}
		}
		registerFlagCompletion(cmd, "task-queue", app.completeTaskQueues)
		registerFlagCompletion(cmd, "type", app.completeTypes)
		registerFlagCompletion(cmd, "status", completeStatuses)
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// registerFlagCompletion registers f for cmd's own flag name, unless the
// command has no such flag or already completes it.
func registerFlagCompletion(cmd *cobra.Command, name string, f cobra.CompletionFunc) {
	if cmd.LocalFlags().Lookup(name) == nil {
		return
	}
	if _, ok := cmd.GetFlagCompletionFunc(name); ok {
		return
	}
	_ = cmd.RegisterFlagCompletionFunc(name, f)
}

// completeFirstArg completes the first argument with f and offers nothing
// after it.
func (a *App) completeFirstArg(f cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return f(cmd, args, toComplete)
	}
}

// candidates collects completions that start with prefix, each once (by
// the text before its description).
type candidates struct {
	prefix string
	seen   map[string]bool
	out    []cobra.Completion
}

func newCandidates(prefix string) *candidates {
	return &candidates{prefix: prefix, seen: map[string]bool{}}
}

func (cs *candidates) add(c cobra.Completion) {
	key, _, _ := strings.Cut(c, "\t")
	if key == "" || cs.seen[key] || !strings.HasPrefix(key, cs.prefix) {
		return
	}
	cs.seen[key] = true
	cs.out = append(cs.out, c)
}

// completeMoreIDs offers the workflow IDs not given yet.
func (a *App) completeMoreIDs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ids, dir := a.completeWorkflowIDs(cmd, args, toComplete)
	return slices.DeleteFunc(ids, func(c cobra.Completion) bool {
		id, _, _ := strings.Cut(c, "\t")
		return slices.Contains(args, id)
	}), dir
}

// withRuns lists the newest runs that match f and hands each to pick; on
// any error (no server, no installation, a timeout) it offers nothing,
// silently. more, if not nil, adds candidates from elsewhere.
func (a *App) withRuns(cmd *cobra.Command, toComplete string, f engine.ListFilter, pick func(engine.RunInfo) []cobra.Completion, more func(context.Context, *client.Client, *candidates)) ([]cobra.Completion, cobra.ShellCompDirective) {
	cs := newCandidates(toComplete)
	a.withCompletionClient(cmd, func(ctx context.Context, c *client.Client) {
		if more != nil {
			more(ctx, c, cs)
		}
		f.Limit = completionListLimit
		runs, err := c.ListWorkflows(ctx, f)
		if err != nil {
			return
		}
		for _, ri := range runs {
			for _, s := range pick(ri) {
				cs.add(s)
			}
		}
	})
	return cs.out, cobra.ShellCompDirectiveNoFileComp
}

// withCompletionClient dials the server with the global flags, bounded by
// completionTimeout, and runs f. It does not touch the App's client: the
// completion must not leave a connection or an error behind.
func (a *App) withCompletionClient(cmd *cobra.Command, f func(context.Context, *client.Client)) {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, completionTimeout)
	defer cancel()
	url, opts, err := a.natsOptions(cmd)
	if err != nil {
		return
	}
	// No reconnecting: the shell is waiting.
	opts = append(opts, nats.Timeout(completionTimeout), nats.NoReconnect(), nats.Name("dfctl-completion"))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return
	}
	defer nc.Close()
	c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: a.Prefix, ConnectTimeout: completionTimeout, OpenExisting: true})
	if err != nil {
		return
	}
	defer c.Close()
	f(ctx, c)
}

// completeWorkflowIDs offers the IDs of the newest runs, with their type
// and status as description.
func (a *App) completeWorkflowIDs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	// The index selects by prefix: the newest runs of other IDs do not
	// hide the one being typed.
	return a.withRuns(cmd, toComplete, engine.ListFilter{IDPrefix: toComplete}, func(ri engine.RunInfo) []cobra.Completion {
		return []cobra.Completion{cobra.CompletionWithDesc(ri.WorkflowID, ri.Type+" "+string(ri.Status))}
	}, nil)
}

// completeTypes offers the workflow types the live workers registered,
// then those of the newest runs.
func (a *App) completeTypes(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.withRuns(cmd, toComplete, engine.ListFilter{}, func(ri engine.RunInfo) []cobra.Completion {
		return []cobra.Completion{ri.Type}
	}, func(ctx context.Context, c *client.Client, cs *candidates) {
		ws, _ := c.Store().Workers(ctx, "")
		for _, w := range ws {
			for _, t := range w.Workflows {
				cs.add(t)
			}
		}
	})
}

// completeTaskQueues offers the task queues workers served, those of the
// newest runs, and the default one.
func (a *App) completeTaskQueues(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	out, dir := a.withRuns(cmd, toComplete, engine.ListFilter{}, func(ri engine.RunInfo) []cobra.Completion {
		return []cobra.Completion{ri.TaskQueue}
	}, func(ctx context.Context, c *client.Client, cs *candidates) {
		qs, _ := c.Store().TaskQueues(ctx)
		for _, q := range qs {
			cs.add(q)
		}
	})
	if !slices.Contains(out, engine.DefaultTaskQueue) && strings.HasPrefix(engine.DefaultTaskQueue, toComplete) {
		out = append(out, engine.DefaultTaskQueue)
	}
	return out, dir
}

// completeStatuses offers the run statuses the flag's help names (blocked,
// continued_as_new and any are taken by some commands only), or the six
// plain ones.
func completeStatuses(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	all := []string{
		string(engine.StatusRunning), "blocked", string(engine.StatusCompleted), string(engine.StatusFailed),
		string(engine.StatusCanceled), string(engine.StatusTerminated), string(engine.StatusTimedOut),
		string(engine.StatusContinuedAsNew), "any",
	}
	var statuses []string
	if f := cmd.Flags().Lookup("status"); f != nil {
		words := strings.FieldsFunc(f.Usage, func(r rune) bool { return r != '_' && !unicode.IsLetter(r) })
		for _, s := range all {
			if slices.Contains(words, s) {
				statuses = append(statuses, s)
			}
		}
	}
	if len(statuses) == 0 {
		statuses = []string{
			string(engine.StatusRunning), string(engine.StatusCompleted), string(engine.StatusFailed),
			string(engine.StatusCanceled), string(engine.StatusTerminated), string(engine.StatusTimedOut),
		}
	}
	var out []cobra.Completion
	for _, s := range statuses {
		if strings.HasPrefix(s, toComplete) {
			out = append(out, s)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// signalHistories is how many runs of the same type completeSignalNames
// reads for the signals they received.
const signalHistories = 10

// completeSignalArgs completes signal's ID, then the signal name; with
// --type (a batch signal: no ID) the name comes first.
func (a *App) completeSignalArgs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	typ := ""
	if f := cmd.Flags().Lookup("type"); f != nil && f.Changed {
		typ = f.Value.String()
	}
	switch {
	case typ != "" && len(args) == 0:
		return a.completeSignalNames(cmd, "", typ, toComplete)
	case typ == "" && len(args) == 0:
		return a.completeWorkflowIDs(cmd, args, toComplete)
	case typ == "" && len(args) == 1:
		return a.completeSignalNames(cmd, args[0], "", toComplete)
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeSignalNames offers the signal names the run of id (if not ""),
// and the newest runs of its type (or of typ), have received (from their
// histories), and the names the example workflows wait for.
func (a *App) completeSignalNames(cmd *cobra.Command, id, typ, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cs := newCandidates(toComplete)
	add := cs.add
	a.withCompletionClient(cmd, func(ctx context.Context, c *client.Client) {
		var ids []string
		if id != "" {
			ri, err := c.Describe(ctx, id, "")
			if err != nil {
				return
			}
			typ = ri.Type
			ids = append(ids, id)
		}
		for _, n := range exampleSignals[typ] {
			add(n)
		}
		if runs, err := c.ListWorkflows(ctx, engine.ListFilter{Type: typ, Limit: signalHistories}); err == nil {
			for _, r := range runs {
				if r.WorkflowID != id {
					ids = append(ids, r.WorkflowID)
				}
			}
		}
		for _, wid := range ids {
			evs, err := c.History(ctx, wid, "")
			if err != nil {
				return // out of time: offer what was found
			}
			for _, ev := range evs {
				if ev.Type == history.SignalReceived {
					add(ev.Name)
				}
			}
		}
	})
	return cs.out, cobra.ShellCompDirectiveNoFileComp
}
