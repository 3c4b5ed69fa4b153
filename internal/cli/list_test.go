package cli_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

// listJSON is a page of list -o json: the array on stdout, the total and
// the next cursor from the footer on stderr.
type listJSON struct {
	Runs  []engine.RunInfo
	Total int
	Next  *string
}

var footerRE = regexp.MustCompile(`^([\d,]+) of ([\d,]+) runs?(?: \(next page: --after (\S+)\))?$`)

func decodeList(t *testing.T, r result) listJSON {
	t.Helper()
	p := listJSON{Runs: decode[[]engine.RunInfo](t, r.out)}
	next := ""
	p.Next = &next
	footer := strings.TrimSpace(r.errOut)
	if footer == "No workflows found." {
		return p
	}
	m := footerRE.FindStringSubmatch(footer)
	if m == nil {
		t.Fatalf("list footer %q", footer)
	}
	p.Total, _ = strconv.Atoi(strings.ReplaceAll(m[2], ",", ""))
	next = m[3]
	return p
}

type countJSON struct {
	Total  int               `json:"total"`
	Groups []engine.RunCount `json:"groups"`
}

type deleteJSON struct {
	DryRun      bool `json:"dry_run"`
	Matched     int  `json:"matched"`
	Deleted     int  `json:"deleted"`
	KeptRunning int  `json:"kept_running"`
	Runs        []struct {
		WorkflowID string `json:"workflow_id"`
		Status     string `json:"status"`
	} `json:"runs"`
	Failed []struct{} `json:"failed"`
}

// list pages with a cursor and says "N of M"; count groups by status and
// type; delete removes closed runs only, asks (or wants --yes), and
// summarizes.
func TestListCountDelete(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", fmt.Sprintf("g-%d", i), "--input", `"Ann"`), 0)
	}
	expectCode(t, e.run(t, false, "execute", "ChargeWorkflow", "--id", "c-1"), 1)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "w-1"), 0)

	// Pages of 2 cover the 7 runs exactly once, most recently changed first.
	var ids []string
	args := []string{"list", "--limit", "2", "-o", "json"}
	for pages := 0; ; pages++ {
		r := e.run(t, false, args...)
		expectCode(t, r, 0)
		p := decodeList(t, r)
		if p.Total != 7 || p.Next == nil || len(p.Runs) > 2 {
			t.Fatalf("list page %d: %s", pages, r.out)
		}
		for _, ri := range p.Runs {
			ids = append(ids, ri.WorkflowID)
		}
		if *p.Next == "" {
			break
		}
		args = []string{"list", "--limit", "2", "--after", *p.Next, "-o", "json"}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(ids) != 7 || ids[0] != "w-1" || !slices.Equal(slices.Compact(sorted), []string{"c-1", "g-0", "g-1", "g-2", "g-3", "g-4", "w-1"}) {
		t.Fatalf("pages: %v", ids)
	}

	r := e.run(t, false, "list", "--limit", "0", "-o", "json")
	expectCode(t, r, 0)
	if p := decodeList(t, r); len(p.Runs) != 7 || *p.Next != "" {
		t.Fatalf("list --limit 0: %s", r.out)
	}
	r = e.run(t, false, "list", "--limit", "3")
	expectCode(t, r, 0)
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 3 || !strings.HasPrefix(r.errOut, "3 of 7 runs (next page: --after c") {
		t.Fatalf("list --limit 3: stdout:\n%s\nstderr:\n%s", r.out, r.errOut)
	}
	r = e.run(t, true, "list", "--status", "completed")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "WORKFLOW ID") || strings.TrimSpace(r.errOut) != "5 of 5 runs" {
		t.Fatalf("list on a TTY: stdout:\n%s\nstderr:\n%s", r.out, r.errOut)
	}
	r = e.run(t, false, "list", "--status", "blocked", "-o", "json")
	expectCode(t, r, 0)
	if p := decodeList(t, r); p.Total != 0 || p.Runs == nil || *p.Next != "" {
		t.Fatalf("list --status blocked: %s", r.out)
	}
	r = e.run(t, false, "list", "--id-prefix", "g-", "--task-queue", "default", "-o", "json")
	expectCode(t, r, 0)
	if p := decodeList(t, r); p.Total != 5 || len(p.Runs) != 5 {
		t.Fatalf("list --id-prefix g-: %s", r.out)
	}
	r = e.run(t, false, "list", "--status", "completed", "-o", "jsonl")
	expectCode(t, r, 0)
	if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 5 || decode[engine.RunInfo](t, lines[0]).Status != engine.StatusCompleted {
		t.Fatalf("list -o jsonl:\n%s", r.out)
	}
	expectError(t, e.run(t, false, "list", "-o", "jsonl", "--limit", "3"), 2, "-o jsonl streams every matching run")
	expectError(t, e.run(t, false, "list", "--status", "done"), 2, "blocked")
	expectError(t, e.run(t, false, "list", "--after", "zzz"), 2, "cursor")
	expectError(t, e.run(t, false, "list", "--closed-after", "1x"), 2, "--closed-after")

	r = e.run(t, false, "count", "-o", "json")
	expectCode(t, r, 0)
	cj := decode[countJSON](t, r.out)
	want := []engine.RunCount{
		{Status: engine.StatusRunning, Type: "WaitForSignal", Count: 1},
		{Status: engine.StatusCompleted, Type: "GreetWorkflow", Count: 5},
		{Status: engine.StatusFailed, Type: "ChargeWorkflow", Count: 1},
	}
	if cj.Total != 7 || !slices.Equal(cj.Groups, want) {
		t.Fatalf("count -o json: %s", r.out)
	}
	r = e.run(t, false, "count", "--status", "completed")
	expectCode(t, r, 0)
	if strings.TrimSpace(r.out) != "completed\tGreetWorkflow\t5" || strings.TrimSpace(r.errOut) != "5 runs" {
		t.Fatalf("count --status completed: stdout %q stderr %q", r.out, r.errOut)
	}
	r = e.run(t, true, "count")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "STATUS") || !strings.Contains(r.out, "GreetWorkflow") {
		t.Fatalf("count on a TTY:\n%s", r.out)
	}

	// delete: running runs refused, closed ones on confirmation.
	expectError(t, e.run(t, false, "delete", "w-1"), 2, "running", "terminate or cancel it first")
	expectError(t, e.run(t, false, "delete", "--status", "running"), 2, "closed runs only")
	expectError(t, e.run(t, false, "delete"), 2, "give workflow IDs")
	expectError(t, e.run(t, false, "delete", "g-0", "--status", "completed"), 2, "not both")
	expectError(t, e.run(t, false, "delete", "--status", "completed"), 2, "pass --yes")
	r = e.run(t, false, "delete", "--status", "completed", "--dry-run", "-o", "json")
	expectCode(t, r, 0)
	if d := decode[deleteJSON](t, r.out); !d.DryRun || d.Matched != 5 || d.Deleted != 0 || len(d.Runs) != 5 {
		t.Fatalf("delete --dry-run: %s", r.out)
	}
	r = e.run(t, false, "delete", "--before", "7d", "--yes")
	expectCode(t, r, 0)
	if !strings.Contains(r.errOut, "No closed runs match") {
		t.Fatalf("delete --before 7d: %s", r.errOut)
	}
	r = e.run(t, false, "delete", "--status", "any", "--yes", "-o", "json")
	expectCode(t, r, 0)
	if d := decode[deleteJSON](t, r.out); d.Matched != 6 || d.Deleted != 6 || d.KeptRunning != 1 || len(d.Failed) != 0 {
		t.Fatalf("delete --yes: %s", r.out)
	}
	r = e.run(t, false, "count", "-o", "json")
	expectCode(t, r, 0)
	if cj := decode[countJSON](t, r.out); cj.Total != 1 {
		t.Fatalf("count after delete: %s", r.out)
	}
	expectCode(t, e.run(t, false, "describe", "g-0"), 4)
	expectCode(t, e.run(t, false, "delete", "g-0", "--yes"), 4)
	// The ID is free again.
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "g-0", "--input", `"Bo"`), 0)
}

func TestDevRetentionFlag(t *testing.T) {
	for _, v := range []string{"nope", "0s", "-1h", "2026-01-01T00:00:00Z"} {
		expectError(t, runCtx(t, "dev", "--store", t.TempDir(), "--retention", v), 2, "--retention")
	}
}
