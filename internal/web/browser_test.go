package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/durablefuture/durablefuture/examples/scenarios"
	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/internal/web"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
	"github.com/durablefuture/durablefuture/tui"
)

// The browser tests drive the pages in headless Chromium (the Debian
// package; scripts/test.sh installs it where it can) against an embedded
// server with the example workers. WEB_SCREENSHOTS=DIR saves a screenshot
// of each page there (docs/web holds the README's).

// BrokenWorkflow fails at once: a failed run for the list and its card.
func BrokenWorkflow(ctx workflow.Context, order string) (string, error) {
	return "", fmt.Errorf("order %s: the warehouse is closed", order)
}

// chromium finds the browser, or skips the test saying how to get one.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DF_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("SKIP browser tests: no Chromium found (apt-get install -y chromium, which scripts/test.sh does where it can; or set DF_CHROMIUM=/path/to/chrome)")
	return ""
}

// browser starts one headless Chromium for the test, with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser and binds it to the context it is
	// given: this one, not a deadline's.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return ctx
}

// do runs actions with a deadline, failing the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitText waits until the page's text holds every want. It reads the page
// again and again rather than with one Poll, since a click may navigate
// meanwhile (and a Poll dies with the document it ran in).
func waitText(t *testing.T, ctx context.Context, want ...string) {
	t.Helper()
	var parts []string
	for _, w := range want {
		parts = append(parts, fmt.Sprintf("document.body.innerText.includes(%q)", w))
	}
	js := "!!document.body && " + strings.Join(parts, " && ")
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(rctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
			t.Fatalf("waiting for %q (last error %v); page:\n%s", want, err, text)
		}
		<-tick.C
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WEB_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), img, 0o644); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	c *client.Client
	// ro serves without --actions, rw with, demo as dfctl demo --web
	// does (its crash hook counts the crashes).
	ro, rw, demo string
	crashes      atomic.Int32
}

func setup(t *testing.T) *fixture {
	t.Helper()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		seen := map[uintptr]bool{}
		reg := func(fn any, r func(any) error) {
			if p := reflect.ValueOf(fn).Pointer(); !seen[p] {
				seen[p] = true
				testsrv.Must(t, r(fn))
			}
		}
		for _, sc := range scenarios.All() {
			for _, fn := range sc.Workflows {
				reg(fn, func(f any) error { return w.RegisterWorkflow(f) })
			}
			for _, fn := range sc.Activities {
				reg(fn, func(f any) error { return w.RegisterActivity(f) })
			}
		}
		testsrv.Must(t, w.RegisterWorkflow(BrokenWorkflow))
	})
	f := &fixture{c: c}
	for _, mode := range []string{"ro", "rw", "demo"} {
		o := web.Options{Source: tui.StoreSource{Store: c.Store()}, Actions: mode != "ro", Heartbeat: time.Second}
		if mode == "demo" {
			o.CrashWorker = func(context.Context) (string, error) { f.crashes.Add(1); return "", nil }
		}
		h, err := web.New(o)
		testsrv.Must(t, err)
		srv := httptest.NewServer(h)
		// Close waits for the requests in progress: end the live streams
		// of the pages still open first.
		t.Cleanup(func() {
			srv.CloseClientConnections()
			srv.Close()
		})
		switch mode {
		case "ro":
			f.ro = srv.URL
		case "rw":
			f.rw = srv.URL
		default:
			f.demo = srv.URL
		}
	}
	return f
}

func (f *fixture) start(t *testing.T, scenario, id string) {
	t.Helper()
	ctx := testsrv.Context(t, 10*time.Second)
	sc, err := scenarios.Get(scenario)
	testsrv.Must(t, err)
	_, err = sc.Start(ctx, f.c, client.StartOptions{ID: id})
	testsrv.Must(t, err)
}

// startApproval starts an expense that waits for its decision signal (an
// hour at most): a run that stays open.
func (f *fixture) startApproval(t *testing.T, id string) {
	t.Helper()
	ctx := testsrv.Context(t, 10*time.Second)
	_, err := f.c.ExecuteWorkflow(ctx, client.StartOptions{ID: id}, approval.ExpenseApprovalWorkflow, "exp-"+id, 1280.0, 3600)
	testsrv.Must(t, err)
}

func (f *fixture) waitStatus(t *testing.T, id string, want engine.Status) {
	t.Helper()
	ctx := testsrv.Context(t, 20*time.Second)
	testsrv.WaitFor(t, ctx, id+" "+string(want), func() bool {
		ri, err := f.c.Store().Describe(ctx, id, "")
		return err == nil && ri.Status == want
	})
}

// waitPending waits until a run's history shows it waiting on its timer.
func (f *fixture) waitTimer(t *testing.T, id string) {
	t.Helper()
	ctx := testsrv.Context(t, 20*time.Second)
	testsrv.WaitFor(t, ctx, id+" waiting on its timer", func() bool {
		ri, err := f.c.Store().Describe(ctx, id, "")
		if err != nil {
			return false
		}
		evs, err := f.c.Store().Log.Read(ctx, id, ri.RunID)
		if err != nil {
			return false
		}
		for _, ev := range evs {
			if ev.Type == "TimerStarted" {
				return true
			}
		}
		return false
	})
}

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	f := setup(t)
	f.start(t, "order-retries", "order-retries-1")
	f.start(t, "fan-out", "fan-out-1")
	f.startApproval(t, "expense-live")
	f.startApproval(t, "expense-cancel")
	bctx := testsrv.Context(t, 10*time.Second)
	_, err := f.c.ExecuteWorkflow(bctx, client.StartOptions{ID: "order-broken"}, BrokenWorkflow, "o-7")
	testsrv.Must(t, err)
	f.waitStatus(t, "order-retries-1", engine.StatusCompleted)
	f.waitStatus(t, "fan-out-1", engine.StatusCompleted)
	f.waitStatus(t, "order-broken", engine.StatusFailed)
	f.waitTimer(t, "expense-live")
	f.waitTimer(t, "expense-cancel")

	t.Run("list shows the runs and a filter narrows it", func(t *testing.T) {
		do(t, ctx, "open the list", chromedp.Navigate(f.ro+"/runs"))
		waitText(t, ctx, "order-retries-1", "fan-out-1", "order-broken", "expense-live", "✓ completed", "✗ failed", "● running")
		title := eval[string](t, ctx, `document.getElementById("title").innerText`)
		total := eval[int](t, ctx, `document.querySelectorAll("table.runs tbody tr").length`)
		if total < 5 || !strings.HasPrefix(title, fmt.Sprintf("runs (%d)", total)) {
			t.Fatalf("title %q with %d rows", title, total)
		}
		screenshot(t, ctx, "runs")
		// Keyboard: j moves to the first row, j again to the second.
		do(t, ctx, "press j j", chromedp.KeyEvent("j"), chromedp.KeyEvent("j"))
		if got := eval[string](t, ctx, `document.activeElement.innerText`); got != eval[string](t, ctx, `document.querySelectorAll("a[data-row]")[1].innerText`) {
			t.Fatalf("after j j the focus is on %q, want the second row", got)
		}

		do(t, ctx, "filter by text",
			chromedp.SendKeys(chromedp.ID("q"), "order"),
			chromedp.Submit(chromedp.ID("q")))
		waitText(t, ctx, "runs (2 of")
		rows := eval[string](t, ctx, `document.querySelector("table.runs tbody").innerText`)
		if !strings.Contains(rows, "order-retries-1") || !strings.Contains(rows, "order-broken") || strings.Contains(rows, "expense-live") {
			t.Fatalf("filter 'order' shows:\n%s", rows)
		}
		// A status chip narrows further, and keeps the text.
		do(t, ctx, "filter by status", chromedp.Click(chromedp.CSS(`nav.chips a.chip.failed`)))
		waitText(t, ctx, "runs (1 of")
		rows = eval[string](t, ctx, `document.querySelector("table.runs tbody").innerText`)
		if !strings.Contains(rows, "order-broken") || strings.Contains(rows, "order-retries-1") {
			t.Fatalf("filter 'order' + failed shows:\n%s", rows)
		}
	})

	t.Run("run page shows the grouped events, the event JSON and the timeline", func(t *testing.T) {
		do(t, ctx, "open a run", chromedp.Navigate(f.ro+"/runs/order-retries-1"))
		waitText(t, ctx, "workflow started", "activity ✓", "ProcessPaymentActivity ×3 attempts", "workflow completed", "Timeline", "Outcome")
		// The activity's row holds its attempts; selecting it shows them.
		do(t, ctx, "select the payment activity", chromedp.Click(chromedp.CSS(`ol.events a[data-row][href*="event=4"]`)))
		waitText(t, ctx, "activity 4 · 4 events", `"type": "ActivityAttemptFailed"`)
		loc, err := chromedp.Run(ctx, chromedp.Location())
		testsrv.Must(t, err)
		if !strings.Contains(loc, "/runs/order-retries-1/") || !strings.Contains(loc, "event=4") {
			t.Fatalf("selected event URL %s: want /runs/ID/RUN?event=4", loc)
		}
		screenshot(t, ctx, "run")
		// Phone width: the same page, readable.
		do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		wide := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`)
		if wide {
			t.Errorf("the run page scrolls sideways at 390 px")
		}
		screenshot(t, ctx, "run-phone")
		do(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

		// A parent links to its children, a child to its parent.
		do(t, ctx, "open the fan-out", chromedp.Navigate(f.ro+"/runs/fan-out-1"))
		waitText(t, ctx, "child workflow ✓")
		do(t, ctx, "open a child", chromedp.Click(chromedp.CSS(`a.childlink`)))
		waitText(t, ctx, "parent", "fan-out-1")
	})

	t.Run("an open run's page follows new events without a reload", func(t *testing.T) {
		do(t, ctx, "open the live run", chromedp.Navigate(f.ro+"/runs/expense-live"))
		waitText(t, ctx, "timer … pending", "Pending", "LIVE")
		eval[bool](t, ctx, `(window.__sameDocument = true)`)
		screenshot(t, ctx, "run-live")
		sctx := testsrv.Context(t, 10*time.Second)
		// A signal the code does not wait for: a new event, the run stays
		// open (so the page is updated by the record, not by the close).
		testsrv.Must(t, f.c.SignalWorkflow(sctx, "expense-live", "", "note", "call me"))
		waitText(t, ctx, "signal received", `note("call me")`, "signals 1 received")
		if eval[bool](t, ctx, `document.body.innerText.includes("workflow completed")`) {
			t.Fatal("the run completed on a note")
		}
		testsrv.Must(t, f.c.SignalWorkflow(sctx, "expense-live", "", approval.SignalName,
			approval.Decision{Approved: true, By: "dana@example.com"}))
		waitText(t, ctx, "workflow completed", "✓ completed", "Outcome")
		if !eval[bool](t, ctx, `window.__sameDocument === true`) {
			t.Fatal("the page was reloaded: want it updated in place")
		}
	})

	t.Run("actions are refused without --actions", func(t *testing.T) {
		do(t, ctx, "open a running run read-only", chromedp.Navigate(f.ro+"/runs/expense-cancel"))
		waitText(t, ctx, "read-only", "timer … pending")
		if n := eval[int](t, ctx, `document.querySelectorAll("form[action$='/cancel']").length`); n != 0 {
			t.Fatalf("a read-only page offers %d cancel forms", n)
		}
		// A request made anyway is refused.
		status := eval[int](t, ctx, `fetch(location.pathname.replace(/\/$/, "") + "/x/cancel", {method: "POST",
			body: new URLSearchParams({confirm: "yes"})}).then(r => r.status)`)
		if status != 403 {
			t.Fatalf("POST cancel without --actions: status %d, want 403", status)
		}
		ri, err := f.c.Store().Describe(testsrv.Context(t, 5*time.Second), "expense-cancel", "")
		testsrv.Must(t, err)
		if ri.Status != engine.StatusRunning {
			t.Fatalf("expense-cancel is %s after a refused cancel", ri.Status)
		}
	})

	t.Run("a confirmed cancel works with --actions", func(t *testing.T) {
		do(t, ctx, "open a running run with actions", chromedp.Navigate(f.rw+"/runs/expense-cancel"))
		waitText(t, ctx, "actions on", "Actions")
		// Unconfirmed, the browser does not send the form (the box is
		// required); the server refuses one sent anyway.
		status := eval[string](t, ctx, `fetch(document.querySelector("form[action$='/cancel']").action, {method: "POST",
			body: new URLSearchParams({reason: "x"})}).then(r => r.url)`)
		if !strings.Contains(status, "tick+the+confirmation") {
			t.Fatalf("unconfirmed cancel went to %s", status)
		}
		do(t, ctx, "confirm and cancel",
			chromedp.Click(chromedp.CSS(`.actions details:nth-of-type(2) > summary`)),
			chromedp.SendKeys(chromedp.ID("cancel-reason"), "no longer needed"),
			chromedp.Click(chromedp.ID("cancel-confirm")),
			chromedp.Click(chromedp.ID("do-cancel")))
		waitText(t, ctx, "cancel requested for expense-cancel")
		screenshot(t, ctx, "run-actions")
		f.waitStatus(t, "expense-cancel", engine.StatusCanceled)
		waitText(t, ctx, "workflow cancel requested", "⊘ canceled")
		if n := eval[int](t, ctx, `document.querySelectorAll("#crash").length`); n != 0 {
			t.Fatal("a crash button outside the demo")
		}
	})

	t.Run("the demo's crash button calls the demo", func(t *testing.T) {
		do(t, ctx, "open the demo's run", chromedp.Navigate(f.demo+"/runs/order-retries-1"))
		waitText(t, ctx, "Crash the worker")
		do(t, ctx, "crash", chromedp.Click(chromedp.ID("crash")))
		waitText(t, ctx, "the worker was killed")
		if n := f.crashes.Load(); n != 1 {
			t.Fatalf("%d crashes, want 1", n)
		}
		screenshot(t, ctx, "demo")
	})
}
