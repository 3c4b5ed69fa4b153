package runlist_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/runlist"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		query, status string
		want          runlist.Filter
	}{
		{"", "", runlist.Filter{}},
		{"Order", "", runlist.Filter{Text: "order"}},
		{"  big   Order ", "", runlist.Filter{Text: "big order"}},
		{"status:failed order", "", runlist.Filter{Text: "order", Status: "failed"}},
		{"order STATUS:x", "", runlist.Filter{Text: "order status:x"}}, // the prefix is lower case only
		{"status:Timed-Out", "", runlist.Filter{Status: "timed_out"}},
		{"status:timedout", "", runlist.Filter{Status: "timed_out"}},
		{"order", "running", runlist.Filter{Text: "order", Status: "running"}},
		{"status:failed", "running", runlist.Filter{Status: "failed"}}, // typed wins
		{"status:", "running", runlist.Filter{Status: "running"}},
		{"status:failed status:", "running", runlist.Filter{Status: "running"}}, // the last term wins
	}
	for _, tt := range tests {
		if got := runlist.ParseFilter(tt.query, tt.status); got != tt.want {
			t.Errorf("ParseFilter(%q, %q) = %+v, want %+v", tt.query, tt.status, got, tt.want)
		}
	}
}

func runs() []engine.RunInfo {
	return []engine.RunInfo{
		{WorkflowID: "order-1", Type: "Order", Status: engine.StatusRunning},
		{WorkflowID: "order-2", Type: "Order", Status: engine.StatusRunning, Blocked: "no worker for Order"},
		{WorkflowID: "ship-1", Type: "Ship", Status: engine.StatusFailed},
		{WorkflowID: "x", Type: "OrderRefund", Status: engine.StatusCompleted},
		{WorkflowID: "y", Type: "Ship", Status: engine.StatusTimedOut, Blocked: "stale"}, // closed: not blocked
	}
}

func TestFilterMatchesAndCounts(t *testing.T) {
	tests := []struct {
		f       runlist.Filter
		matches []string
		counts  map[string]int
	}{
		{
			f:       runlist.Filter{},
			matches: []string{"order-1", "order-2", "ship-1", "x", "y"},
			counts:  map[string]int{"": 5, "running": 2, "blocked": 1, "failed": 1, "completed": 1, "timed_out": 1},
		},
		{
			f:       runlist.Filter{Text: "order"},
			matches: []string{"order-1", "order-2", "x"},
			counts:  map[string]int{"": 3, "running": 2, "blocked": 1, "completed": 1},
		},
		{
			f:       runlist.Filter{Text: "order", Status: "blocked"},
			matches: []string{"order-2"},
			counts:  map[string]int{"": 3, "running": 2, "blocked": 1, "completed": 1},
		},
		{
			f:       runlist.Filter{Status: "running"},
			matches: []string{"order-1", "order-2"},
			counts:  map[string]int{"": 5, "running": 2, "blocked": 1, "failed": 1, "completed": 1, "timed_out": 1},
		},
		{
			f:      runlist.Filter{Text: "nothing"},
			counts: map[string]int{},
		},
	}
	for _, tt := range tests {
		rs := runs()
		var got []string
		for i := range rs {
			if tt.f.Matches(&rs[i]) {
				got = append(got, rs[i].WorkflowID)
			}
		}
		if !reflect.DeepEqual(got, tt.matches) {
			t.Errorf("%+v matches %v, want %v", tt.f, got, tt.matches)
		}
		if c := tt.f.Counts(rs); !reflect.DeepEqual(c, tt.counts) {
			t.Errorf("%+v counts %v, want %v", tt.f, c, tt.counts)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		ri   engine.RunInfo
		text string
		tone history.Tone
	}{
		{engine.RunInfo{Status: engine.StatusRunning}, "● running", history.ToneRunning},
		{engine.RunInfo{Status: engine.StatusRunning, Blocked: "no worker"}, "⚠ blocked", history.ToneBlocked},
		{engine.RunInfo{Status: engine.StatusCompleted}, "✓ completed", history.ToneCompleted},
		{engine.RunInfo{Status: engine.StatusFailed, Blocked: "stale"}, "✗ failed", history.ToneFailed},
		{engine.RunInfo{Status: engine.StatusCanceled}, "⊘ canceled", history.ToneClosed},
		{engine.RunInfo{Status: engine.StatusTerminated}, "⊗ terminated", history.ToneClosed},
		{engine.RunInfo{Status: engine.StatusTimedOut}, "◷ timed out", history.ToneClosed},
		{engine.RunInfo{Status: "continued_as_new"}, "continued_as_new", history.ToneClosed},
		{engine.RunInfo{}, "-", history.TonePlain},
	}
	for _, tt := range tests {
		text, tone := runlist.StatusOf(&tt.ri)
		if text != tt.text || tone != tt.tone {
			t.Errorf("StatusOf(%q, blocked %q) = %q %d, want %q %d", tt.ri.Status, tt.ri.Blocked, text, tone, tt.text, tt.tone)
		}
	}
}

func TestDuration(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	closed := t0.Add(90 * time.Second)
	now := t0.Add(time.Hour)
	tests := []struct {
		ri   engine.RunInfo
		want string
	}{
		{engine.RunInfo{}, "-"},
		{engine.RunInfo{StartTime: t0}, "1h0m0s"},
		{engine.RunInfo{StartTime: t0, CloseTime: &closed}, "1m30s"},
	}
	for _, tt := range tests {
		if got := runlist.Duration(now, &tt.ri); got != tt.want {
			t.Errorf("Duration(%v, %v) = %q, want %q", tt.ri.StartTime, tt.ri.CloseTime, got, tt.want)
		}
	}
}
