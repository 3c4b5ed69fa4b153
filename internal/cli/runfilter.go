package cli

import (
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/spf13/pflag"
)

// runFilter is the selection of "every matching run" that dfctl replay and
// dfctl export share: the latest run of each workflow ID with this type,
// status and start time.
type runFilter struct {
	Type          string
	Status        string
	StartedAfter  string
	StartedBefore string
}

func (f *runFilter) addFlags(fs *pflag.FlagSet, verb string) {
	fs.StringVar(&f.Type, "type", "", verb+" every run of this workflow type")
	fs.StringVar(&f.Status, "status", "", verb+" every run in this status, or any (default: running)")
	fs.StringVar(&f.StartedAfter, "started-after", "", "only runs started at or after `TIME` (RFC 3339, or a duration such as 24h: that long ago)")
	fs.StringVar(&f.StartedBefore, "started-before", "", "only runs started before `TIME` (RFC 3339, or a duration: that long ago)")
}

// set reports whether any filter flag was given.
func (f *runFilter) set() bool {
	return f.Type != "" || f.Status != "" || f.StartedAfter != "" || f.StartedBefore != ""
}

// listFilter validates the flags and returns the index query; the status
// defaults to running, the runs new code must take over.
func (f *runFilter) listFilter(now time.Time) (engine.ListFilter, error) {
	if f.Status == "" {
		f.Status = string(engine.StatusRunning)
	}
	lf := engine.ListFilter{Type: f.Type}
	if f.Status != "any" {
		if err := validateStatus(f.Status); err != nil {
			return engine.ListFilter{}, err
		}
		lf.Status = engine.Status(f.Status)
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
	if err != nil || d < 0 {
		return time.Time{}, usageError("%s %q: use an RFC 3339 time (2026-01-02T15:04:05Z) or a positive duration (24h, 90m)", name, v)
	}
	return now.Add(-d), nil
}
