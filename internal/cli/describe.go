package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/spf13/cobra"
)

type describeOptions struct {
	app *App

	ID     string
	RunID  string
	WebURL string
}

func newDescribeCmd(app *App) *cobra.Command {
	o := &describeOptions{app: app}
	cmd := &cobra.Command{
		Use:   "describe ID [--run R]",
		Short: "Show a workflow run's state and what it waits for",
		Long: `Show the state of the latest run of workflow ID (or of run R): type, task
queue, status, times, result or failure, why it is blocked if it is, and
what it waits for, folded from its history: each open activity (attempt
n/max, last failure, next retry, last stored heartbeat), open timers, open
children and the signals received. A failed, canceled, terminated or timed
out run shows its failure first. A running run whose task queue has no live
worker (workers announce themselves every 10s) is flagged.

With -o json, prints the run state object: workflow_id, run_id, type,
task_queue, status (running, completed, failed, canceled, terminated,
timed_out, continued_as_new), start_time, close_time, last_event_seq (the
history's last event), result when completed, failure (message, type,
details, cause) when it did not complete, blocked when no worker can run it,
and:
  pending_activities  [{name, seq, activity_id, task_queue, attempt,
                       maximum_attempts (0: unlimited), scheduled_at,
                       last_failure, last_failed_at, next_attempt_at,
                       state (scheduled, backing_off), last_heartbeat_at,
                       heartbeat_details}]
  pending_timers      [{seq, fire_at, duration}]
  pending_children    [{seq, workflow_id, run_id, type, started}]
  signals_received    count, and signals_by_name
  task_queue_workers  live workers of the task queue that run workflows
                      (running runs only)
  warnings            what keeps the run from going on, in words
  web_url             the run's page in dfctl web, with --web-url or
                      $DFCTL_WEB_URL (the address dfctl web printed)

last_heartbeat_at is when the activity's latest heartbeat details were
stored (at most every second); a heartbeat without details keeps the task
alive but is not stored anywhere, so it is not shown.`,
		Example: `  dfctl describe order-1
  dfctl describe order-1 -o json | jq '.pending_activities[] | {name, attempt, last_failure}'
  dfctl describe order-1 --run 01JF...
  DFCTL_WEB_URL=http://127.0.0.1:8080 dfctl describe order-1   # with a link to its page`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			return runDescribe(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.RunID, "run", "r", "", "run ID (default: the latest run)")
	cmd.Flags().StringVar(&o.WebURL, "web-url", "", "address of dfctl web, to print the run's page (default $"+webURLEnv+")")
	return cmd
}

// validateID checks a workflow ID given as an argument.
func validateID(id string) error {
	if err := history.ValidateWorkflowID(id); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// runDescription is describe's JSON object: the run's index entry and what
// its history says it waits for.
type runDescription struct {
	*engine.RunInfo
	PendingActivities []pendingActivity      `json:"pending_activities"`
	PendingTimers     []history.PendingTimer `json:"pending_timers"`
	PendingChildren   []history.PendingChild `json:"pending_children"`
	SignalsReceived   int                    `json:"signals_received"`
	SignalsByName     map[string]int         `json:"signals_by_name,omitempty"`
	CancelRequested   bool                   `json:"cancel_requested,omitempty"`
	// TaskQueueWorkers is set for a running run only.
	TaskQueueWorkers *int     `json:"task_queue_workers,omitempty"`
	Warnings         []string `json:"warnings,omitempty"`
	// WebURL is the run's page in dfctl web (--web-url, $DFCTL_WEB_URL).
	WebURL string `json:"web_url,omitempty"`
}

// pendingActivity is an open activity with what the heartbeats bucket
// adds to its history.
type pendingActivity struct {
	history.PendingActivity
	State            string          `json:"state"`
	LastHeartbeatAt  *time.Time      `json:"last_heartbeat_at"`
	HeartbeatDetails json.RawMessage `json:"heartbeat_details"`
}

// Activity states in describe.
const (
	activityScheduled  = "scheduled"   // running, or waiting for a worker
	activityBackingOff = "backing_off" // a failed attempt, the next is due at next_attempt_at
)

func runDescribe(cmd *cobra.Command, o *describeOptions) error {
	if err := validateID(o.ID); err != nil {
		return err
	}
	base, err := webBase(o.WebURL)
	if err != nil {
		return err
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	d, err := describeRun(ctx, c.Store(), o.ID, o.RunID, o.app.IO.now())
	if err != nil {
		return err
	}
	d.WebURL = webLink(base, d.WorkflowID, d.RunID)
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, d)
	case outJSONL:
		return writeJSONL(ios.Out, d)
	}
	writeDescription(ios, d)
	return nil
}

// describeRun reads the run's state, folds its history into what it waits
// for and checks that workers are there to do it.
func describeRun(ctx context.Context, s *engine.Store, id, runID string, now time.Time) (*runDescription, error) {
	ri, err := s.Describe(ctx, id, runID)
	if err != nil {
		return nil, err
	}
	d := &runDescription{RunInfo: ri}
	// Tolerant: a run blocked by a record that does not decode still
	// shows what its readable records say.
	recs, _, err := s.HistoryTolerant(ctx, ri.WorkflowID, ri.RunID)
	if err != nil && !errors.Is(err, engine.ErrWorkflowNotFound) {
		return nil, err
	}
	p := history.PendingOf(history.Flatten(recs))
	if p.LastEventSeq > 0 {
		// The runs index is written at start and close: the history has
		// the real last event of a running run.
		d.LastEventSeq = p.LastEventSeq
	}
	if d.Failure == nil && p.Failure != nil && ri.Status.IsClosed() {
		d.Failure = p.Failure
	}
	d.PendingTimers, d.PendingChildren = p.Timers, p.Children
	d.SignalsReceived, d.SignalsByName, d.CancelRequested = p.SignalsReceived, p.SignalsByName, p.CancelRequested
	d.PendingActivities = make([]pendingActivity, 0, len(p.Activities))
	for _, a := range p.Activities {
		pa := pendingActivity{PendingActivity: a, State: activityScheduled}
		if a.NextAttemptAt != nil && a.NextAttemptAt.After(now) {
			pa.State = activityBackingOff
		}
		if !ri.Status.IsClosed() {
			details, at, ok, err := s.ActivityHeartbeat(ctx, ri.RunID, a.Seq)
			if err != nil {
				return nil, err
			}
			if ok {
				pa.LastHeartbeatAt, pa.HeartbeatDetails = &at, details
			}
		}
		d.PendingActivities = append(d.PendingActivities, pa)
	}
	if ri.Status.IsClosed() {
		return d, nil
	}
	if strings.Contains(ri.Blocked, engine.ErrUnknownWorkflowType.Error()) {
		d.Warnings = append(d.Warnings, fmt.Sprintf("no worker of task queue %s registers workflow %s: start a worker that registers it on task queue %s, or start the run on the task queue of a worker that does (dfctl start --task-queue)",
			ri.TaskQueue, ri.Type, ri.TaskQueue))
	}
	workers := map[string][]engine.WorkerPresence{}
	live := func(q string) ([]engine.WorkerPresence, error) {
		if ws, ok := workers[q]; ok {
			return ws, nil
		}
		ws, err := s.Workers(ctx, q)
		workers[q] = ws
		return ws, err
	}
	ws, err := live(ri.TaskQueue)
	if err != nil {
		return nil, err
	}
	n, registers := 0, 0
	for _, w := range ws {
		if len(w.Workflows) > 0 {
			n++
		}
		if slices.Contains(w.Workflows, ri.Type) {
			registers++
		}
	}
	d.TaskQueueWorkers = &n
	switch {
	case n == 0:
		d.Warnings = append(d.Warnings, fmt.Sprintf("no live worker runs workflows on task queue %s (none announced itself in the last minute): start one that registers %s on that queue", ri.TaskQueue, ri.Type))
	case registers == 0 && ri.Type != "" && !strings.Contains(ri.Blocked, engine.ErrUnknownWorkflowType.Error()):
		d.Warnings = append(d.Warnings, fmt.Sprintf("%d live worker(s) on task queue %s, but none registers workflow %s", n, ri.TaskQueue, ri.Type))
	}
	for _, a := range p.Activities {
		q := a.TaskQueue
		if q == "" {
			q = ri.TaskQueue
		}
		ws, err := live(q)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ws, func(w engine.WorkerPresence) bool { return slices.Contains(w.Activities, a.Name) }) {
			d.Warnings = append(d.Warnings, fmt.Sprintf("no live worker on task queue %s registers activity %s (event %d)", q, a.Name, a.Seq))
		}
	}
	return d, nil
}

// writeDescription writes describe's text: key and value per line; on a
// terminal aligned and coloured, otherwise tab-separated for scripts.
func writeDescription(ios *IOStreams, d *runDescription) {
	ri := d.RunInfo
	st := ios.OutStyles()
	now := ios.now()
	line := func(k, v string) {
		if ios.OutTTY {
			fmt.Fprintf(ios.Out, "%s %s\n", st.faint.Render(fmt.Sprintf("%-12s", k+":")), v)
		} else {
			fmt.Fprintf(ios.Out, "%s\t%s\n", strings.ToLower(strings.ReplaceAll(k, " ", "_")), v)
		}
	}
	at := func(t time.Time) string {
		if !ios.OutTTY {
			return t.UTC().Format(time.RFC3339)
		}
		if t.After(now) {
			return t.UTC().Format(time.DateTime) + " (in " + shortDuration(t.Sub(now)) + ")"
		}
		return history.RelativeTime(now, t)
	}
	// Why it ended comes first: it is what one runs describe for.
	if ri.Failure != nil && ri.Status.IsClosed() && ri.Status != engine.StatusCompleted {
		line("Failure", st.bad.Render(history.FailureText(ri.Failure)))
		for f := ri.Failure.Cause; f != nil; f = f.Cause {
			line("Caused by", st.bad.Render(history.FailureText(f)))
		}
	}
	line("Workflow ID", ri.WorkflowID)
	line("Run ID", ri.RunID)
	if d.WebURL != "" {
		line("Web", d.WebURL)
	}
	line("Type", ri.Type)
	line("Task queue", ri.TaskQueue)
	line("Status", statusText(st, ri.Status, ios.OutTTY))
	line("Started", timeText(ios, ri.StartTime))
	if ri.CloseTime != nil {
		line("Closed", timeText(ios, *ri.CloseTime))
	}
	line("Duration", runDuration(ios, ri))
	line("Last event", fmt.Sprint(ri.LastEventSeq))
	if d.TaskQueueWorkers != nil {
		w := fmt.Sprint(*d.TaskQueueWorkers)
		if *d.TaskQueueWorkers == 0 {
			w = st.warn.Render(w)
		}
		line("Workers", w)
	}
	if ri.Blocked != "" {
		line("Blocked", st.warn.Render(ri.Blocked))
	}
	if ri.Status == engine.StatusCompleted {
		if ios.OutTTY {
			line("Result", indentRest(prettyJSON(ri.Result), 13))
		} else {
			line("Result", history.CompactJSON(ri.Result))
		}
	}
	for _, w := range d.Warnings {
		line("Warning", st.warn.Render(w))
	}
	if ri.Status.IsClosed() {
		return
	}
	for _, a := range d.PendingActivities {
		maxAtt := "unlimited"
		if a.MaximumAttempts > 0 {
			maxAtt = fmt.Sprint(a.MaximumAttempts)
		}
		s := fmt.Sprintf("%s (event %d) attempt %d/%s", a.Name, a.Seq, a.Attempt, maxAtt)
		if a.NextAttemptAt != nil && a.State == activityBackingOff {
			s += ", next attempt " + at(*a.NextAttemptAt)
		}
		if a.LastFailure != nil {
			s += ", last failure: " + history.Truncate(history.FailureText(a.LastFailure), 120)
		}
		if a.LastHeartbeatAt != nil {
			s += fmt.Sprintf(", heartbeat %s: %s", at(*a.LastHeartbeatAt), history.Truncate(history.CompactJSON(a.HeartbeatDetails), 80))
		}
		line("Activity", s)
	}
	for _, t := range d.PendingTimers {
		s := fmt.Sprintf("event %d", t.Seq)
		if t.FireAt != nil {
			s += ", fires " + at(*t.FireAt)
		}
		line("Timer", s)
	}
	for _, c := range d.PendingChildren {
		s := fmt.Sprintf("%s %s (run %s)", c.Type, c.WorkflowID, c.RunID)
		if !c.Started {
			s += ", not started yet"
		}
		line("Child", s)
	}
	if d.SignalsReceived > 0 {
		names := make([]string, 0, len(d.SignalsByName))
		for n, k := range d.SignalsByName {
			names = append(names, fmt.Sprintf("%s: %d", n, k))
		}
		slices.Sort(names)
		line("Signals", fmt.Sprintf("%d received (%s)", d.SignalsReceived, strings.Join(names, ", ")))
	}
	if d.CancelRequested {
		line("Cancel", "requested: the code is expected to clean up and return")
	}
	switch {
	case ri.Blocked != "":
	case ri.LastEventSeq <= 1:
		line("Waiting", "for its first workflow task: no worker has run its code yet")
	case len(d.PendingActivities)+len(d.PendingTimers)+len(d.PendingChildren) == 0:
		line("Waiting", "for a signal or a condition in the code, no activity, timer or child: dfctl stack "+shellQuote(ri.WorkflowID)+" shows where the code waits")
	default:
		line("Hint", "dfctl stack "+shellQuote(ri.WorkflowID)+" shows where the code waits")
	}
}

// indentRest indents every line of s but the first by n spaces.
func indentRest(s string, n int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}

// shellQuote quotes s for a shell when it needs it.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
