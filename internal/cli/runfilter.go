package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/pflag"
)

// runFilter is the selection of "every matching run" that dfctl list,
// count, delete, replay, export and the batch actions share: the latest run
// of each workflow ID with this type, status, task queue, ID prefix, start
// and close time.
type runFilter struct {
	Type          string
	Status        string
	StartedAfter  string
	StartedBefore string
	TaskQueue     string
	IDPrefix      string
	ClosedAfter   string
	ClosedBefore  string
}

// statusWords lists the values --status takes.
const statusWords = "running, blocked, completed, failed, canceled, terminated, timed_out, continued_as_new or any"

func (f *runFilter) addFlags(fs *pflag.FlagSet, verb string) {
	fs.StringVar(&f.Type, "type", "", verb+" every run of this workflow type")
	fs.StringVar(&f.Status, "status", "", verb+" every run in this status: "+statusWords+" (blocked: running runs no worker can advance; running includes them) (default: running)")
	if fs.Lookup("task-queue") == nil { // replay has its own --task-queue
		fs.StringVar(&f.TaskQueue, "task-queue", "", "only runs of this task `QUEUE`")
	}
	fs.StringVar(&f.IDPrefix, "id-prefix", "", "only workflow IDs that start with `PREFIX`")
	fs.StringVar(&f.StartedAfter, "started-after", "", "only runs started at or after `TIME` (RFC 3339, or a duration such as 24h or 7d: that long ago)")
	fs.StringVar(&f.StartedBefore, "started-before", "", "only runs started before `TIME` (RFC 3339, or a duration: that long ago)")
	fs.StringVar(&f.ClosedAfter, "closed-after", "", "only runs closed at or after `TIME` (RFC 3339, or a duration: that long ago)")
	fs.StringVar(&f.ClosedBefore, "closed-before", "", "only runs closed before `TIME` (RFC 3339, or a duration such as 7d: that long ago)")
}

// set reports whether any filter flag was given.
func (f *runFilter) set() bool {
	return f.Type != "" || f.Status != "" || f.StartedAfter != "" || f.StartedBefore != "" ||
		f.TaskQueue != "" || f.IDPrefix != "" || f.ClosedAfter != "" || f.ClosedBefore != ""
}

// listFilter validates the flags and returns the index query; the status
// defaults to running, the runs new code must take over.
func (f *runFilter) listFilter(now time.Time) (engine.ListFilter, error) {
	if f.Status == "" {
		f.Status = string(engine.StatusRunning)
	}
	lf := engine.ListFilter{Type: f.Type, TaskQueue: f.TaskQueue, IDPrefix: f.IDPrefix}
	if f.Status != "any" {
		if engine.ValidateStatusFilter(engine.Status(f.Status)) != nil {
			return engine.ListFilter{}, usageError("--status %q: use %s", f.Status, statusWords)
		}
		lf.Status = engine.Status(f.Status)
	}
	if f.TaskQueue != "" {
		if err := engine.ValidateTaskQueue(f.TaskQueue); err != nil {
			return engine.ListFilter{}, usageError("--task-queue %q: use 1-100 letters, digits, '-' and '_'", f.TaskQueue)
		}
	}
	var err error
	if lf.StartedAfter, err = parseTimeFlag("--started-after", f.StartedAfter, now); err != nil {
		return lf, err
	}
	if lf.StartedBefore, err = parseTimeFlag("--started-before", f.StartedBefore, now); err != nil {
		return lf, err
	}
	if !lf.StartedAfter.IsZero() && !lf.StartedBefore.IsZero() && !lf.StartedAfter.Before(lf.StartedBefore) {
		return lf, usageError("--started-after must be before --started-before")
	}
	if lf.ClosedAfter, err = parseTimeFlag("--closed-after", f.ClosedAfter, now); err != nil {
		return lf, err
	}
	if lf.ClosedBefore, err = parseTimeFlag("--closed-before", f.ClosedBefore, now); err != nil {
		return lf, err
	}
	if !lf.ClosedAfter.IsZero() && !lf.ClosedBefore.IsZero() && !lf.ClosedAfter.Before(lf.ClosedBefore) {
		return lf, usageError("--closed-after must be before --closed-before")
	}
	if (!lf.ClosedAfter.IsZero() || !lf.ClosedBefore.IsZero()) && lf.Status != "" && !lf.Status.IsClosed() {
		return lf, usageError("--closed-after and --closed-before select closed runs: they do not go with --status %s", lf.Status)
	}
	return lf, nil
}

// describe is the filter in words, for "No runs match (...)".
func (f *runFilter) describe() string {
	parts := []string{"status " + f.Status}
	if f.Type != "" {
		parts = append(parts, "type "+f.Type)
	}
	if f.StartedAfter != "" {
		parts = append(parts, "started after "+f.StartedAfter)
	}
	if f.StartedBefore != "" {
		parts = append(parts, "started before "+f.StartedBefore)
	}
	if f.TaskQueue != "" {
		parts = append(parts, "task queue "+f.TaskQueue)
	}
	if f.IDPrefix != "" {
		parts = append(parts, "ID prefix "+f.IDPrefix)
	}
	if f.ClosedAfter != "" {
		parts = append(parts, "closed after "+f.ClosedAfter)
	}
	if f.ClosedBefore != "" {
		parts = append(parts, "closed before "+f.ClosedBefore)
	}
	return strings.Join(parts, ", ")
}

// parseTimeFlag reads an RFC 3339 time, or a duration counted back from
// now ("" is the zero time: no bound).
func parseTimeFlag(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	}
	if err != nil || d < 0 {
		return time.Time{}, usageError("%s %q: use an RFC 3339 time (2026-01-02T15:04:05Z) or a positive duration (7d, 24h, 90m)", name, v)
	}
	return now.Add(-d), nil
}
