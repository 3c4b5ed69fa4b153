package cli

// Batch actions: terminate, cancel, signal and reset given filter flags
// instead of a workflow ID act on every matching run. This file holds what
// they share: the flags, the confirmation, the rate-limited runner, the
// progress line and the summary; and the -o json acknowledgement of the
// single-run actions.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
)

// actionAck is what signal, cancel and terminate print with -o json: the
// server accepted the request for that run (the workflow applies it when it
// next runs). Documented in docs/scripting.md.
type actionAck struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Action     string `json:"action"` // signal, cancel or terminate
	Signal     string `json:"signal,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Accepted   bool   `json:"accepted"`
}

// writeAck prints an acknowledgement with -o json or jsonl; text output
// prints no data (a terminal gets a line on stderr from the command).
func writeAck(app *App, a actionAck) error {
	switch app.Output {
	case outJSON:
		return writeJSON(app.IO.Out, a)
	case outJSONL:
		return writeJSONL(app.IO.Out, a)
	}
	return nil
}

// pinRun returns the run an action on (id, runID) reaches: runID, or the
// latest run of id, so that the action and its acknowledgement name the
// same run.
func pinRun(ctx context.Context, c *client.Client, id, runID string) (string, error) {
	if runID != "" {
		return runID, nil
	}
	ri, err := c.Describe(ctx, id, "")
	if err != nil {
		return "", err
	}
	return ri.RunID, nil
}

// Batch defaults: polite to a shared server, fast enough for thousands.
const (
	defaultBatchRPS         = 50
	defaultBatchConcurrency = 4
	maxBatchConcurrency     = 64
	// batchPreview is how many matching IDs are named before asking.
	batchPreview = 5
)

// batchOptions are the flags of an action on every run a filter matches.
type batchOptions struct {
	filter      runFilter
	Yes         bool
	DryRun      bool
	RPS         float64
	Concurrency int
}

// addFlags adds the filter flags (those of list) and the batch flags;
// verb is the action ("terminate"), past what it makes of a run
// ("terminated").
func (b *batchOptions) addFlags(cmd *cobra.Command, verb string) {
	fs := cmd.Flags()
	b.filter.addFlags(fs, verb)
	fs.BoolVarP(&b.Yes, "yes", "y", false, "with filter flags: "+verb+" the matching runs without asking (required when stdin is not a terminal)")
	fs.BoolVar(&b.DryRun, "dry-run", false, "with filter flags: list the runs that would be affected and change nothing")
	fs.Float64Var(&b.RPS, "rps", defaultBatchRPS, "with filter flags: at most this many requests per second")
	fs.IntVar(&b.Concurrency, "concurrency", defaultBatchConcurrency, "with filter flags: at most this many requests at once")
}

// batchOnlyFlags are the flags that mean nothing without filter flags.
var batchOnlyFlags = []string{"yes", "dry-run", "rps", "concurrency"}

// selected says whether the command acts on a filter (true) or on the one
// workflow ID it was given; both, or neither, is a usage error. single
// names the single-run form for the message ("terminate ID").
func (b *batchOptions) selected(cmd *cobra.Command, hasID bool, single string) (bool, error) {
	filter := b.filter.set()
	switch {
	case hasID && filter:
		return false, usageError("give a workflow ID or filter flags (--type, --status, ...), not both: `dfctl %s` acts on one workflow, filter flags on every matching run", single)
	case !hasID && !filter:
		return false, usageError("give a workflow ID (`dfctl %s`), or filter flags (--type, --status, --started-after, ...) to act on every matching run", single)
	case hasID:
		for _, name := range batchOnlyFlags {
			if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
				return false, usageError("--%s goes with filter flags (--type, --status, ...), not with a workflow ID", name)
			}
		}
		return false, nil
	}
	if f := cmd.Flags().Lookup("run"); f != nil && f.Changed {
		return false, usageError("--run names a run of one workflow ID: it does not go with filter flags (each matching workflow's latest run is used)")
	}
	if b.RPS <= 0 {
		return false, usageError("--rps %g: use a positive number of requests per second", b.RPS)
	}
	if b.Concurrency < 1 || b.Concurrency > maxBatchConcurrency {
		return false, usageError("--concurrency %d: use 1 to %d", b.Concurrency, maxBatchConcurrency)
	}
	return true, nil
}

// batchAction is one action applied to each matching run.
type batchAction struct {
	verb string // terminate
	past string // terminated
	// do acts on one run; its error fails the run, unless skip says the
	// run is to be skipped and why.
	do   func(ctx context.Context, c *client.Client, ri *engine.RunInfo) error
	skip func(err error) (reason string, ok bool)
}

// skipClosed skips a run that closed after it was listed: there is nothing
// left to do to it.
func skipClosed(err error) (string, bool) {
	if errors.Is(err, engine.ErrWorkflowClosed) {
		return err.Error(), true
	}
	return "", false
}

// batchSummary is what a batch action prints (-o json: this object).
// Failed and Skipped list the runs with why; Runs, with --dry-run, the runs
// that would be affected. Documented in docs/scripting.md.
type batchSummary struct {
	Action    string     `json:"action"`
	DryRun    bool       `json:"dry_run"`
	Filter    string     `json:"filter"`
	Matched   int        `json:"matched"`
	Succeeded int        `json:"succeeded"`
	Failed    []batchRun `json:"failed"`
	Skipped   []batchRun `json:"skipped"`
	// NotRun counts the matching runs not attempted (interrupted).
	NotRun int        `json:"not_run"`
	Runs   []batchRun `json:"runs,omitempty"`
}

// batchRun is one run of a summary.
type batchRun struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Type       string `json:"type,omitempty"`
	Status     string `json:"status,omitempty"`
	Error      string `json:"error,omitempty"`  // failed: why
	Reason     string `json:"reason,omitempty"` // skipped: why
}

// outcome of one run of a batch.
type batchOutcome int

const (
	batchNotRun batchOutcome = iota
	batchDone
	batchFailed
	batchSkipped
)

// runBatch resolves the runs b's filter matches, confirms, applies a to
// each at most --rps per second with --concurrency at once, and prints the
// summary. It fails with exit 8 when the action failed for any run.
func runBatch(cmd *cobra.Command, app *App, b *batchOptions, a batchAction) error {
	ios := app.IO
	lf, err := b.filter.listFilter(ios.now())
	if err != nil {
		return err
	}
	filter := b.filter.describe()
	// Batch actions reach existing runs only: no installation is created.
	c, err := app.ReadClient(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := app.requestContext(cmd)
	runs, err := c.ListWorkflows(ctx, lf)
	cancel()
	if err != nil {
		return err
	}
	sum := batchSummary{Action: a.verb, DryRun: b.DryRun, Filter: filter, Matched: len(runs), Failed: []batchRun{}, Skipped: []batchRun{}}
	est := ios.ErrStyles()
	if len(runs) == 0 {
		fmt.Fprintf(ios.ErrOut, "No runs match (%s): nothing to %s.\n", filter, a.verb)
		return writeBatchSummary(app, &sum)
	}
	fmt.Fprintf(ios.ErrOut, "%d %s (%s): %s\n", len(runs), plural(len(runs), "run matches", "runs match"), filter, previewIDs(runs))
	if b.DryRun {
		for i := range runs {
			sum.Runs = append(sum.Runs, batchRun{WorkflowID: runs[i].WorkflowID, RunID: runs[i].RunID, Type: runs[i].Type, Status: string(runs[i].Status)})
		}
		sum.NotRun = len(runs)
		return writeBatchSummary(app, &sum)
	}
	if !b.Yes {
		if !stdinTTY(ios) || !ios.ErrTTY {
			return usageError("%d %s: pass --yes to %s %s (stdin is not a terminal, so dfctl cannot ask for confirmation), or --dry-run to list %s",
				len(runs), plural(len(runs), "run matches", "runs match"), a.verb, plural(len(runs), "it", "them"), plural(len(runs), "it", "them"))
		}
		ok, err := confirm(ios.In, ios.ErrOut, fmt.Sprintf("%s %d %s?", capitalize(a.verb), len(runs), plural(len(runs), "run", "runs")))
		if err != nil {
			return err
		}
		if !ok {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("not confirmed: nothing %s", a.past)}
		}
	}

	outcomes := make([]batchOutcome, len(runs))
	why := make([]string, len(runs))
	prog := &batchProgress{w: ios.ErrOut, on: ios.ErrTTY, verb: a.verb, total: len(runs)}
	limiter := rate.NewLimiter(rate.Limit(b.RPS), 1)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.Concurrency, len(runs)) {
		wg.Go(func() {
			for i := range next {
				outcomes[i], why[i] = applyOne(cmd, app, c, a, &runs[i])
				prog.done(outcomes[i] == batchFailed)
			}
		})
	}
	pctx := cmd.Context()
	for i := range runs {
		if limiter.Wait(pctx) != nil {
			break // interrupted: the rest are not run
		}
		select {
		case next <- i:
		case <-pctx.Done():
		}
		if pctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	prog.clear()

	for i := range runs {
		r := batchRun{WorkflowID: runs[i].WorkflowID, RunID: runs[i].RunID}
		switch outcomes[i] {
		case batchDone:
			sum.Succeeded++
		case batchFailed:
			r.Error = why[i]
			sum.Failed = append(sum.Failed, r)
		case batchSkipped:
			r.Reason = why[i]
			sum.Skipped = append(sum.Skipped, r)
		default:
			sum.NotRun++
		}
	}
	if err := writeBatchSummary(app, &sum); err != nil {
		return err
	}
	switch {
	case pctx.Err() != nil:
		return &ExitError{Code: ExitInterrupt, Err: fmt.Errorf("interrupted: %d of %d runs not %s", sum.NotRun, sum.Matched, a.past)}
	case len(sum.Failed) > 0:
		fmt.Fprintf(ios.ErrOut, "%s %s failed for %d of %d %s\n", est.bad.Render("✗"), a.verb, len(sum.Failed), sum.Matched, plural(sum.Matched, "run", "runs"))
		return &ExitError{Code: ExitBatchFailed, Silent: true, Err: fmt.Errorf("%s failed for %d runs", a.verb, len(sum.Failed))}
	}
	return nil
}

// applyOne applies a to one run, bounded by --timeout.
func applyOne(cmd *cobra.Command, app *App, c *client.Client, a batchAction, ri *engine.RunInfo) (batchOutcome, string) {
	if cmd.Context().Err() != nil {
		return batchNotRun, ""
	}
	ctx, cancel := app.requestContext(cmd)
	defer cancel()
	err := a.do(ctx, c, ri)
	switch {
	case err == nil:
		return batchDone, ""
	case cmd.Context().Err() != nil:
		return batchNotRun, ""
	}
	skip := a.skip
	if skip == nil {
		skip = skipClosed
	}
	if reason, ok := skip(err); ok {
		return batchSkipped, reason
	}
	return batchFailed, err.Error()
}

// writeBatchSummary prints the summary: the object with -o json (one line
// with jsonl); text lists the dry run's runs, or the counts and each failed
// and skipped run with why.
func writeBatchSummary(app *App, s *batchSummary) error {
	ios := app.IO
	switch app.Output {
	case outJSON:
		return writeJSON(ios.Out, s)
	case outJSONL:
		return writeJSONL(ios.Out, s)
	}
	st := ios.OutStyles()
	if s.DryRun {
		if ios.OutTTY {
			rows := make([][]string, len(s.Runs))
			for i, r := range s.Runs {
				rows[i] = []string{r.WorkflowID, r.RunID, r.Type, statusText(st, engine.Status(r.Status), true)}
			}
			if len(rows) > 0 {
				writeTable(ios.Out, st, []string{"WORKFLOW ID", "RUN ID", "TYPE", "STATUS"}, rows)
			}
		} else {
			for _, r := range s.Runs {
				fmt.Fprintf(ios.Out, "%s\t%s\t%s\t%s\n", r.WorkflowID, r.RunID, r.Type, r.Status)
			}
		}
		fmt.Fprintf(ios.ErrOut, "Dry run: %d %s would be affected by %s; nothing changed.\n", s.Matched, plural(s.Matched, "run", "runs"), s.Action)
		return nil
	}
	if ios.OutTTY {
		fmt.Fprintf(ios.Out, "%s %d matched, %s, %s, %s\n", st.bold.Render(s.Action+":"), s.Matched,
			st.ok.Render(fmt.Sprintf("%d done", s.Succeeded)), failedText(st, len(s.Failed)), st.warn.Render(fmt.Sprintf("%d skipped", len(s.Skipped))))
		for _, r := range s.Failed {
			fmt.Fprintf(ios.Out, "  %s %s %s: %s\n", st.bad.Render("failed "), r.WorkflowID, st.faint.Render("run "+r.RunID), r.Error)
		}
		for _, r := range s.Skipped {
			fmt.Fprintf(ios.Out, "  %s %s %s: %s\n", st.warn.Render("skipped"), r.WorkflowID, st.faint.Render("run "+r.RunID), r.Reason)
		}
	} else {
		fmt.Fprintf(ios.Out, "%s\tmatched %d\tdone %d\tfailed %d\tskipped %d\n", s.Action, s.Matched, s.Succeeded, len(s.Failed), len(s.Skipped))
		for _, r := range s.Failed {
			fmt.Fprintf(ios.Out, "failed\t%s\t%s\t%s\n", r.WorkflowID, r.RunID, r.Error)
		}
		for _, r := range s.Skipped {
			fmt.Fprintf(ios.Out, "skipped\t%s\t%s\t%s\n", r.WorkflowID, r.RunID, r.Reason)
		}
	}
	if s.NotRun > 0 {
		fmt.Fprintf(ios.ErrOut, "%d %s not attempted (interrupted)\n", s.NotRun, plural(s.NotRun, "run", "runs"))
	}
	return nil
}

func failedText(st styles, n int) string {
	s := fmt.Sprintf("%d failed", n)
	if n > 0 {
		return st.bad.Render(s)
	}
	return s
}

// previewIDs names the first few runs of a match.
func previewIDs(runs []engine.RunInfo) string {
	ids := make([]string, 0, batchPreview)
	for i := 0; i < len(runs) && i < batchPreview; i++ {
		ids = append(ids, runs[i].WorkflowID)
	}
	s := strings.Join(ids, ", ")
	if n := len(runs) - len(ids); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// stdinTTY says whether stdin is a terminal someone can answer a prompt on.
func stdinTTY(ios *IOStreams) bool {
	f, ok := ios.In.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// confirm asks question on w and reads the answer from in: y or yes
// (any case) is a yes; anything else, or end of input, a no.
func confirm(in io.Reader, w io.Writer, question string) (bool, error) {
	fmt.Fprintf(w, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// batchProgress is the one progress line on a terminal's stderr,
// rewritten as runs are done: "terminate 120/500 (2 failed)". Off when
// stderr is not a terminal.
type batchProgress struct {
	w     io.Writer
	on    bool
	verb  string
	total int

	mu        sync.Mutex
	n, failed int
	shown     bool
}

func (p *batchProgress) done(failed bool) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if failed {
		p.failed++
	}
	line := fmt.Sprintf("%s %d/%d", p.verb, p.n, p.total)
	if p.failed > 0 {
		line += fmt.Sprintf(" (%d failed)", p.failed)
	}
	// \r and erase-line: the same line, rewritten.
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.shown = true
}

// clear erases the progress line before the summary.
func (p *batchProgress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
