package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/replayer"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
)

// jsonFiles lists the names of the *.json files in dir.
func jsonFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	testsrv.Must(t, err)
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}

type exportSummary struct {
	Dir      string `json:"dir"`
	Exported int    `json:"exported"`
	Failed   int    `json:"failed"`
	Files    []struct {
		File       string `json:"file"`
		WorkflowID string `json:"workflow_id"`
		RunID      string `json:"run_id"`
	} `json:"files"`
}

type dirReplay struct {
	Results []struct {
		verdict
		File string `json:"file"`
	} `json:"results"`
	Summary struct {
		Histories    int            `json:"histories"`
		Compatible   int            `json:"compatible"`
		Incompatible int            `json:"incompatible"`
		NotChecked   int            `json:"not_checked"`
		Codes        map[string]int `json:"codes"`
	} `json:"summary"`
}

// dfctl export writes one history file per matching run, the filters narrow
// the set, and the files replay through dfctl replay --dir and
// replayer.ReplayDir.
func TestExportReplayDir(t *testing.T) {
	e, c := newReplayEnv(t)
	ids := []string{"greet-1", "greet-2", "order/1 ü"} // the last is not a plain token
	for _, id := range ids {
		expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", id, "--input", `"Ann"`), 0)
	}
	ri, err := c.Describe(testsrv.Context(t, 5*time.Second), "order/1 ü", "")
	testsrv.Must(t, err)
	cut := ri.StartTime.Add(time.Millisecond)
	// The next run must start after the cut: wait for the clock to pass it.
	testsrv.WaitFor(t, testsrv.Context(t, 5*time.Second), "the clock past the cut", func() bool {
		return time.Now().After(cut.Add(time.Millisecond))
	})
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet-late", "--input", `"Bo"`), 0)
	for _, id := range []string{"wait-1", "wait-2"} {
		expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", id), 0)
	}

	dir := filepath.Join(t.TempDir(), "histories") // created by export
	r := e.run(t, false, "export", "--type", "GreetWorkflow", "--status", "completed", "--dir", dir)
	expectCode(t, r, 0)
	if !strings.HasPrefix(r.out, "exported 4 runs to "+dir+" in ") || r.errOut != "" {
		t.Fatalf("export:\n%s\n%s", r.out, r.errOut)
	}
	names := jsonFiles(t, dir)
	if len(names) != 4 {
		t.Fatalf("export wrote %v, want 4 files", names)
	}
	for _, n := range names {
		tok, runID, ok := strings.Cut(strings.TrimSuffix(n, ".json"), "__")
		id, err := history.DecodeID(tok)
		if !ok || err != nil || (!slices.Contains(ids, id) && id != "greet-late") || strings.ContainsAny(n, `/\:*?"<>| `) {
			t.Fatalf("file name %q", n)
		}
		// The same file dfctl show -o json writes.
		data, err := os.ReadFile(filepath.Join(dir, n))
		testsrv.Must(t, err)
		if show := e.run(t, false, "show", id, "-o", "json"); show.out != string(data) {
			t.Fatalf("%s differs from dfctl show -o json:\n%s\n%s", n, data, show.out)
		}
		f, err := history.DecodeFile(strings.NewReader(string(data)))
		testsrv.Must(t, err)
		if f.Version != history.FileVersion || f.WorkflowID != id || f.RunID != runID {
			t.Fatalf("%s: version %d, %q %q", n, f.Version, f.WorkflowID, f.RunID)
		}
	}

	// They round-trip through a worker and through the offline replayer.
	r = e.run(t, false, "replay", "--dir", dir)
	expectCode(t, r, 0)
	if r.out != "replayed 4 histories: 4 compatible, 0 incompatible\n" {
		t.Fatalf("replay --dir:\n%s\n%s", r.out, r.errOut)
	}
	r = e.run(t, false, "replay", "--dir", dir, "--parallel", "2", "-o", "json")
	expectCode(t, r, 0)
	if got := decode[dirReplay](t, r.out); got.Summary.Histories != 4 || got.Summary.Compatible != 4 || len(got.Results) != 4 ||
		got.Results[0].File == "" || !got.Results[0].Deterministic || got.Results[0].Worker != "base" {
		t.Fatalf("replay --dir -o json: %s", r.out)
	}
	// On a terminal, a progress line on stderr (none above: not a TTY).
	r = e.run(t, true, "replay", "--dir", dir)
	expectCode(t, r, 0)
	if !strings.Contains(r.errOut, "replaying 4/4") || !strings.Contains(r.out, "replayed 4 histories") {
		t.Fatalf("replay --dir on a terminal:\n%s\n%s", r.out, r.errOut)
	}
	r = e.run(t, true, "export", "--status", "completed", "--dir", dir)
	expectCode(t, r, 0)
	if !strings.Contains(r.errOut, "exporting 4/4") || len(jsonFiles(t, dir)) != 4 {
		t.Fatalf("export on a terminal:\n%s\n%s", r.out, r.errOut)
	}
	rp := replayer.New()
	testsrv.Must(t, rp.RegisterWorkflow(GreetWorkflow))
	res, err := rp.ReplayDir(dir)
	if err != nil || len(res) != 4 {
		t.Fatalf("ReplayDir: %d results, %v", len(res), err)
	}

	// Filters: type (status defaults to running), start times.
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--type", "WaitForSignal"}, 2},
		{[]string{"--status", "running"}, 2},
		{[]string{"--status", "completed"}, 4},
		{[]string{"--status", "any"}, 6},
		{[]string{"--status", "completed", "--started-after", cut.Format(time.RFC3339Nano)}, 1},
		{[]string{"--status", "completed", "--started-before", cut.Format(time.RFC3339Nano)}, 3},
		{[]string{"--status", "completed", "--started-after", "1h"}, 4},
		{[]string{"--status", "completed", "--started-before", "1h"}, 0},
		{[]string{"--type", "Nothing"}, 0},
	} {
		d := t.TempDir()
		r := e.run(t, false, append([]string{"export", "--dir", d, "-o", "json"}, tc.args...)...)
		expectCode(t, r, 0)
		sum := decode[exportSummary](t, r.out)
		if sum.Exported != tc.want || len(sum.Files) != tc.want || len(jsonFiles(t, d)) != tc.want || sum.Dir != d {
			t.Errorf("export %q: %s, want %d files", tc.args, r.out, tc.want)
		}
		if tc.want > 0 && (sum.Files[0].File == "" || sum.Files[0].RunID == "") {
			t.Errorf("export %q -o json: %s", tc.args, r.out)
		}
		// replay takes the same filters.
		r = e.run(t, false, append([]string{"replay"}, tc.args...)...)
		expectCode(t, r, 0)
		if !strings.Contains(r.out, "replayed "+map[bool]string{true: "1 run", false: ""}[tc.want == 1]) {
			t.Errorf("replay %q:\n%s", tc.args, r.out)
		}
	}

	// A directory that cannot be written, bad flags.
	notDir := filepath.Join(t.TempDir(), "file")
	testsrv.Must(t, os.WriteFile(notDir, nil, 0o644))
	r = e.run(t, false, "export", "--status", "completed", "--dir", filepath.Join(notDir, "sub"))
	expectCode(t, r, 2)
	if !strings.Contains(r.errOut, "cannot create") {
		t.Fatalf("unwritable dir: %s", r.errOut)
	}
	for _, args := range [][]string{
		{"export", "--type", "GreetWorkflow"},
		{"export", "--dir", t.TempDir(), "--started-after", "yesterday"},
		{"export", "--dir", t.TempDir(), "--started-after", "1h", "--started-before", "2h"},
		{"export", "--dir", t.TempDir(), "--status", "bogus"},
		{"export", "--dir", t.TempDir(), "--parallel", "0"},
		{"replay", "--dir", t.TempDir()}, // no history files: a gate that checks nothing
		{"replay", "--dir", dir, "--type", "GreetWorkflow"},
		{"replay", "--dir", filepath.Join(t.TempDir(), "missing")},
	} {
		if r := e.run(t, false, args...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, r.code, r.errOut)
		}
	}
}

// An incompatible worker makes dfctl replay --dir exit 1, naming each
// failing file, its run and the code; a file that cannot be read is "not
// checked".
func TestReplayDirIncompatible(t *testing.T) {
	e, c := newReplayEnv(t)
	ctx := testsrv.Context(t, 60*time.Second)
	versioned := func(identity string, fn any) func() {
		return testsrv.RunWorker(t, c, worker.Options{Identity: identity, TaskQueues: []string{"versioned"}}, func(w *worker.Worker) {
			testsrv.Must(t, w.RegisterWorkflowWithOptions(fn, worker.RegisterOptions{Name: "Versioned"}))
			testsrv.Must(t, w.RegisterActivity(Hello))
			testsrv.Must(t, w.RegisterActivity(Declined))
		})
	}
	stopV1 := versioned("v1", VersionedV1)
	for _, id := range []string{"ver-1", "ver-2"} {
		expectCode(t, e.run(t, false, "start", "Versioned", "--id", id, "--task-queue", "versioned"), 0)
		waitForEvent(t, c, id, history.ActivityCompleted)
	}
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet-1", "--input", `"Ann"`), 0)
	dir := t.TempDir()
	expectCode(t, e.run(t, false, "export", "--type", "Versioned", "--dir", dir), 0)
	expectCode(t, e.run(t, false, "export", "--status", "completed", "--dir", dir), 0)
	if n := len(jsonFiles(t, dir)); n != 3 {
		t.Fatalf("%d files", n)
	}
	r := e.run(t, false, "replay", "--dir", dir)
	expectCode(t, r, 0)

	// Deploy V2.
	stopV1()
	versioned("v2", VersionedV2)
	testsrv.WaitFor(t, ctx, "the v2 worker to answer", func() bool {
		res, err := c.Store().ReplayRun(ctx, "ver-1", "")
		return err == nil && res.Worker == "v2"
	})
	r = e.run(t, false, "replay", "--dir", dir)
	expectCode(t, r, 1)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 || lines[2] != "replayed 3 histories: 1 compatible, 2 incompatible (DF1001 x2)" {
		t.Fatalf("replay --dir:\n%s", r.out)
	}
	for _, l := range lines[:2] {
		f := strings.Split(l, "\t")
		if len(f) != 3 || !strings.HasPrefix(filepath.Base(f[0]), "ver-") || f[1] == "" ||
			!strings.HasPrefix(f[2], "mismatch: DF1001") || !strings.Contains(f[2], "run "+f[1]) {
			t.Fatalf("failure line %q", l)
		}
	}
	t.Logf("dfctl replay --dir:\n%s", r.out)

	testsrv.Must(t, os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{"), 0o644))
	r = e.run(t, false, "replay", "--dir", dir, "-o", "json")
	expectCode(t, r, 1)
	got := decode[dirReplay](t, r.out)
	s := got.Summary
	if s.Histories != 4 || s.Compatible != 1 || s.Incompatible != 2 || s.NotChecked != 1 || s.Codes[engine.CodeCommandMismatch] != 2 || len(got.Results) != 4 {
		t.Fatalf("replay --dir -o json: %s", r.out)
	}
	if b := got.Results[0]; !strings.HasSuffix(b.File, "broken.json") || b.Error == "" {
		t.Fatalf("broken file: %+v", b)
	}
	// Only the unreadable file: exit 2, as replay --file.
	for _, id := range []string{"greet-1", "ver-1", "ver-2"} {
		paths, _ := filepath.Glob(filepath.Join(dir, id+"__*.json"))
		for _, p := range paths {
			testsrv.Must(t, os.Remove(p))
		}
	}
	r = e.run(t, false, "replay", "--dir", dir)
	expectCode(t, r, 2)
	if !strings.Contains(r.out, "replayed 1 history: 0 compatible, 0 incompatible, 1 not checked") || !strings.Contains(r.errOut, "broken.json") {
		t.Fatalf("replay --dir, broken file only:\n%s\n%s", r.out, r.errOut)
	}
}

// A workflow ID too long for a file name once encoded gets a name cut to
// fit, unique by a hash, and still replays.
func TestExportLongID(t *testing.T) {
	e, _ := newReplayEnv(t)
	long := strings.Repeat("ü", history.MaxWorkflowIDLen/2) // 200 bytes, base64-encoded in names
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", long, "--input", `"Ann"`), 0)
	dir := t.TempDir()
	expectCode(t, e.run(t, false, "export", "--status", "completed", "--dir", dir), 0)
	names := jsonFiles(t, dir)
	if len(names) != 1 || len(names[0]) > 255 || !strings.HasPrefix(names[0], "=") || !strings.Contains(names[0], "~") {
		t.Fatalf("file names %q", names)
	}
	r := e.run(t, false, "replay", "--dir", dir, "-o", "json")
	expectCode(t, r, 0)
	if got := decode[dirReplay](t, r.out); len(got.Results) != 1 || got.Results[0].WorkflowID != long {
		t.Fatalf("replay --dir: %s", r.out)
	}
}
