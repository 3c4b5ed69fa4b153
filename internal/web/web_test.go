package web_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/examples/scenarios/approval"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/internal/web"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/durablefuture/durablefuture/pkg/sdk/worker"
	"github.com/durablefuture/durablefuture/tui"
)

// These tests need no browser: what the server answers.

func serve(t *testing.T, o web.Options) (*httptest.Server, *engine.Store) {
	t.Helper()
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	o.Source = tui.StoreSource{Store: c.Store()}
	h, err := web.New(o)
	testsrv.Must(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, c.Store()
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	testsrv.Must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	testsrv.Must(t, err)
	return resp.StatusCode, string(b)
}

func startRun(t *testing.T, st *engine.Store, id string) *engine.RunInfo {
	t.Helper()
	ri, err := st.StartWorkflow(testsrv.Context(t, 10*time.Second), engine.StartRequest{WorkflowID: id, Type: "Nobody", Input: []byte(`["x"]`)})
	testsrv.Must(t, err)
	return ri
}

func TestPagesAndRefusals(t *testing.T) {
	srv, st := serve(t, web.Options{})
	ri := startRun(t, st, "odd/id é")
	hc := srv.Client()

	code, body := get(t, hc, srv.URL+"/runs")
	if code != 200 || !strings.Contains(body, "odd/id é") || !strings.Contains(body, "runs (1)") {
		t.Fatalf("list: %d\n%s", code, body)
	}
	// An ID with a slash has a URL of its own.
	code, body = get(t, hc, srv.URL+web.RunPath("odd/id é", ""))
	if code != 200 || !strings.Contains(body, ri.RunID) || !strings.Contains(body, "workflow started") {
		t.Fatalf("run page: %d\n%s", code, body)
	}
	code, body = get(t, hc, srv.URL+"/runs/no-such-run")
	if code != 404 || !strings.Contains(body, "not found") {
		t.Fatalf("missing run: %d\n%s", code, body)
	}
	// Without --actions every action is refused and the run is untouched.
	form := url.Values{"confirm": {"yes"}, "reason": {"x"}}
	resp, err := hc.PostForm(srv.URL+web.RunPath(ri.WorkflowID, ri.RunID)+"/terminate", form)
	testsrv.Must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "--actions") {
		t.Fatalf("terminate without --actions: %d %s", resp.StatusCode, b)
	}
	got, err := st.Describe(testsrv.Context(t, 5*time.Second), ri.WorkflowID, "")
	testsrv.Must(t, err)
	if got.Status != engine.StatusRunning {
		t.Fatalf("status %s after a refused terminate", got.Status)
	}
}

func TestActionsNeedConfirmationAndSameOrigin(t *testing.T) {
	srv, st := serve(t, web.Options{Actions: true})
	ri := startRun(t, st, "to-terminate")
	target := srv.URL + web.RunPath(ri.WorkflowID, ri.RunID) + "/terminate"
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(form url.Values, origin string) *http.Response {
		req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
		testsrv.Must(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := hc.Do(req)
		testsrv.Must(t, err)
		resp.Body.Close()
		return resp
	}
	status := func() engine.Status {
		got, err := st.Describe(testsrv.Context(t, 5*time.Second), ri.WorkflowID, "")
		testsrv.Must(t, err)
		return got.Status
	}
	// A page elsewhere cannot post to it.
	if resp := post(url.Values{"confirm": {"yes"}}, "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site terminate: %d", resp.StatusCode)
	}
	// Unconfirmed: nothing done, and the page says why.
	resp := post(url.Values{"reason": {"x"}}, "")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "confirmation") {
		t.Fatalf("unconfirmed terminate: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if s := status(); s != engine.StatusRunning {
		t.Fatalf("status %s after an unconfirmed terminate", s)
	}
	resp = post(url.Values{"confirm": {"yes"}, "reason": {"done with it"}}, "")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "msg=terminated") {
		t.Fatalf("terminate: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if s := status(); s != engine.StatusTerminated {
		t.Fatalf("status %s after terminate", s)
	}
}

func TestToken(t *testing.T) {
	srv, _ := serve(t, web.Options{Token: "s3cret"})
	hc := srv.Client()
	if code, _ := get(t, hc, srv.URL+"/runs"); code != http.StatusUnauthorized {
		t.Fatalf("without token: %d", code)
	}
	if code, _ := get(t, hc, srv.URL+"/runs?token=wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/runs", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := hc.Do(req)
	testsrv.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("bearer token: %d", resp.StatusCode)
	}
	// ?token= once sets a cookie; the browser then needs no token.
	jar, err := cookiejar.New(nil)
	testsrv.Must(t, err)
	hc.Jar = jar
	if code, body := get(t, hc, srv.URL+"/runs?token=s3cret"); code != 200 || !strings.Contains(body, "runs (0)") {
		t.Fatalf("token in URL: %d\n%s", code, body)
	}
	if code, _ := get(t, hc, srv.URL+"/runs"); code != 200 {
		t.Fatalf("with the cookie: %d", code)
	}
}

// The live stream sends a record event for each record written after the
// page's, and ends with "closed" when the run closes.
func TestLiveStream(t *testing.T) {
	srv, st := serve(t, web.Options{Heartbeat: 50 * time.Millisecond})
	ri := startRun(t, st, "live-1")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+web.RunPath(ri.WorkflowID, ri.RunID)+"/live?after=0", nil)
	resp, err := srv.Client().Do(req)
	testsrv.Must(t, err)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
		}
		t.Fatalf("stream ended before %q: %v", want, lines.Err())
	}
	next("event: record") // the start record
	testsrv.Must(t, st.TerminateWorkflow(ctx, ri.WorkflowID, ri.RunID, "enough"))
	next("event: record")
	next("event: closed")
	_ = history.WorkflowTerminated
}

// Signal, replay check and reset through the pages' forms, against a
// worker: each does what the CLI's command does and says so.
func TestSignalReplayReset(t *testing.T) {
	s := testsrv.Start(t)
	c := testsrv.Client(t, s)
	testsrv.RunWorker(t, c, worker.Options{}, func(w *worker.Worker) {
		testsrv.Must(t, w.RegisterWorkflow(approval.ExpenseApprovalWorkflow))
		testsrv.Must(t, w.RegisterActivity(approval.RequestApprovalActivity))
		testsrv.Must(t, w.RegisterActivity(approval.RecordDecisionActivity))
	})
	h, err := web.New(web.Options{Source: tui.StoreSource{Store: c.Store()}, Actions: true})
	testsrv.Must(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx := testsrv.Context(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartOptions{ID: "exp-web"}, approval.ExpenseApprovalWorkflow, "exp-web", 10.0, 3600)
	testsrv.Must(t, err)
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	act := func(action string, form url.Values) string {
		t.Helper()
		form.Set("confirm", "yes")
		resp, err := hc.PostForm(srv.URL+web.RunPath(run.ID(), run.RunID())+"/"+action, form)
		testsrv.Must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: status %d", action, resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		testsrv.Must(t, err)
		if e := loc.Query().Get("err"); e != "" {
			t.Fatalf("%s: %s", action, e)
		}
		return loc.String()
	}
	// A value that is not JSON is refused before anything is sent.
	form := url.Values{"confirm": {"yes"}, "name": {approval.SignalName}, "value": {"{ bad"}}
	resp, err := hc.PostForm(srv.URL+web.RunPath(run.ID(), run.RunID())+"/signal", form)
	testsrv.Must(t, err)
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Location"), "not+JSON") {
		t.Fatalf("bad JSON signal: %s", resp.Header.Get("Location"))
	}
	if loc := act("signal", url.Values{"name": {approval.SignalName}, "value": {`{"approved":true,"by":"web"}`}}); !strings.Contains(loc, "signal+decision+sent") {
		t.Fatalf("signal: %s", loc)
	}
	var result approval.Result
	testsrv.Must(t, run.Get(ctx, &result))
	if result.Status != "approved" || result.By != "web" {
		t.Fatalf("result %+v", result)
	}
	if loc := act("replay", url.Values{}); !strings.Contains(loc, "deterministic") {
		t.Fatalf("replay: %s", loc)
	}
	loc := act("reset", url.Values{"event": {"2"}, "reason": {"again"}})
	if !strings.Contains(loc, "/runs/exp-web/") || strings.Contains(loc, run.RunID()) || !strings.Contains(loc, "reset+to+event+2") {
		t.Fatalf("reset went to %s", loc)
	}
	ri, err := c.Store().Describe(ctx, "exp-web", "")
	testsrv.Must(t, err)
	if ri.RunID == run.RunID() || !strings.Contains(loc, ri.RunID) {
		t.Fatalf("latest run %s; reset page %s", ri.RunID, loc)
	}
}
