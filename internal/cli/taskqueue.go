package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/spf13/cobra"
)

func newTaskQueueCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "task-queue",
		Aliases: []string{"tq"},
		Short:   "Show the workers and the backlog of task queues",
		Long: `Inspect task queues: which workers serve them and how many tasks wait.

Workers announce themselves in the KV bucket <prefix>_workers when they
start, every 10s while they run, and remove themselves when they stop
gracefully; a worker that died is gone within a minute.`,
		Example: `  dfctl task-queue list
  dfctl task-queue describe default
  dfctl task-queue describe orders -o json`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTaskQueueDescribeCmd(app), newTaskQueueListCmd(app))
	return cmd
}

type taskQueueOptions struct {
	app   *App
	Queue string
}

func newTaskQueueDescribeCmd(app *App) *cobra.Command {
	o := &taskQueueOptions{app: app}
	return &cobra.Command{
		Use:   "describe QUEUE",
		Short: "Show the live workers of a task queue and its backlog",
		Long: `Show the workers serving task queue QUEUE (identity, when they were last
seen, the workflow and activity types they register) and the backlog of its
workflow and activity tasks: tasks waiting to be delivered (pending), tasks
in hand or waiting for a retry back-off (ack_pending), and the time of the
oldest task stored on the queue.

With -o json, prints {task_queue, workers: [{identity, task_queue,
task_queues, workflows, activities, started_at, heartbeat_at, last_seen}],
workflow_tasks and activity_tasks: {consumer, exists, pending, ack_pending,
redelivered, waiting_pulls, oldest_task_at}}.`,
		Example: `  dfctl task-queue describe default
  dfctl task-queue describe default -o json | jq '.workers[].identity'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Queue = args[0]
			return runTaskQueueDescribe(cmd, o)
		},
	}
}

func runTaskQueueDescribe(cmd *cobra.Command, o *taskQueueOptions) error {
	if err := engine.ValidateTaskQueue(o.Queue); err != nil {
		return usageError("%v", err)
	}
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	info, err := c.Store().DescribeTaskQueue(ctx, o.Queue)
	if err != nil {
		return err
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, info)
	case outJSONL:
		return writeJSONL(ios.Out, info)
	}
	st := ios.OutStyles()
	now := ios.now()
	if !ios.OutTTY {
		// Plain: one line per worker and per kind of task, tab-separated.
		for _, w := range info.Workers {
			fmt.Fprintf(ios.Out, "worker\t%s\t%s\t%s\t%s\n", w.Identity, w.LastSeen.Format(time.RFC3339),
				strings.Join(w.Workflows, ","), strings.Join(w.Activities, ","))
		}
		for _, b := range []struct {
			kind string
			b    engine.TaskBacklog
		}{{"workflow_tasks", info.WorkflowTasks}, {"activity_tasks", info.ActivityTasks}} {
			oldest := "-"
			if b.b.OldestTaskAt != nil {
				oldest = b.b.OldestTaskAt.Format(time.RFC3339)
			}
			fmt.Fprintf(ios.Out, "%s\t%d\t%d\t%s\n", b.kind, b.b.Pending, b.b.AckPending, oldest)
		}
		return nil
	}
	fmt.Fprintf(ios.Out, "%s %s\n\n", st.faint.Render("Task queue:"), info.TaskQueue)
	if len(info.Workers) == 0 {
		fmt.Fprintln(ios.Out, st.warn.Render("No live worker: none announced itself on this queue in the last minute."))
	} else {
		rows := make([][]string, 0, len(info.Workers))
		for _, w := range info.Workers {
			rows = append(rows, []string{w.Identity, history.RelativeTime(now, w.LastSeen), shortDuration(now.Sub(w.StartedAt)),
				history.Truncate(listOrDash(w.Workflows), 50), history.Truncate(listOrDash(w.Activities), 50)})
		}
		writeTable(ios.Out, st, []string{"WORKER", "LAST SEEN", "UP", "WORKFLOWS", "ACTIVITIES"}, rows)
	}
	fmt.Fprintln(ios.Out)
	rows := [][]string{}
	for _, b := range []struct {
		kind string
		b    engine.TaskBacklog
	}{{"workflow", info.WorkflowTasks}, {"activity", info.ActivityTasks}} {
		oldest := "-"
		if b.b.OldestTaskAt != nil {
			oldest = shortDuration(now.Sub(*b.b.OldestTaskAt))
		}
		rows = append(rows, []string{b.kind, fmt.Sprint(b.b.Pending), fmt.Sprint(b.b.AckPending), oldest})
	}
	writeTable(ios.Out, st, []string{"TASKS", "WAITING", "IN HAND", "OLDEST"}, rows)
	if len(info.Workers) > 0 {
		fmt.Fprintln(ios.Out, st.faint.Render("\n(-o json lists every workflow and activity type of each worker)"))
	}
	return nil
}

func newTaskQueueListCmd(app *App) *cobra.Command {
	o := &taskQueueOptions{app: app}
	return &cobra.Command{
		Use:   "list",
		Short: "List the task queues with their workers and backlog",
		Long: `List the task queues that have a live worker or were served once (their
consumers exist), with the number of live workers and of waiting tasks.

With -o json, prints a list of the objects task-queue describe prints.`,
		Example: `  dfctl task-queue list
  dfctl task-queue list -o json | jq '.[] | select(.workers == [])'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTaskQueueList(cmd, o)
		},
	}
}

func runTaskQueueList(cmd *cobra.Command, o *taskQueueOptions) error {
	c, err := o.app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := o.app.requestContext(cmd)
	defer cancel()
	s := c.Store()
	queues, err := s.TaskQueues(ctx)
	if err != nil {
		return err
	}
	infos := make([]*engine.TaskQueueInfo, 0, len(queues))
	for _, q := range queues {
		if engine.ValidateTaskQueue(q) != nil {
			continue // a consumer dfctl did not make
		}
		info, err := s.DescribeTaskQueue(ctx, q)
		if err != nil {
			return err
		}
		infos = append(infos, info)
	}
	ios := o.app.IO
	switch o.app.Output {
	case outJSON:
		return writeJSON(ios.Out, infos)
	case outJSONL:
		for _, info := range infos {
			if err := writeJSONL(ios.Out, info); err != nil {
				return err
			}
		}
		return nil
	}
	rows := make([][]string, 0, len(infos))
	for _, info := range infos {
		rows = append(rows, []string{info.TaskQueue, fmt.Sprint(len(info.Workers)),
			fmt.Sprint(info.WorkflowTasks.Pending), fmt.Sprint(info.ActivityTasks.Pending)})
	}
	if !ios.OutTTY {
		for _, r := range rows {
			fmt.Fprintln(ios.Out, strings.Join(r, "\t"))
		}
		return nil
	}
	if len(rows) == 0 {
		fmt.Fprintln(ios.ErrOut, "No task queue: no worker has run on this installation yet.")
		return nil
	}
	writeTable(ios.Out, ios.OutStyles(), []string{"TASK QUEUE", "WORKERS", "WORKFLOW TASKS", "ACTIVITY TASKS"}, rows)
	return nil
}

func listOrDash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}
