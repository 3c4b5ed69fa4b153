package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// A record that does not decode (anyone allowed to publish on the run's
// subject can write one) does not hide the rest of the history: show
// prints every event it can read, names the bad record on stderr by its
// stream sequence and reason, and exits 6 so a script never takes a
// partial history for the whole one. Before, show printed nothing and
// exited 3.
func TestShowNamesABadRecord(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "garbled"), 0)
	ri := decode[engine.RunInfo](t, e.run(t, false, "describe", "garbled", "-o", "json").out)
	c := testsrv.ClientURL(t, e.url)
	ctx := testsrv.Context(t, 30*time.Second)
	subj, err := c.Store().Log.Subject("garbled", ri.RunID)
	testsrv.Must(t, err)
	ack, err := c.Store().JS.Publish(ctx, subj, []byte("\x00 not a record"))
	testsrv.Must(t, err)
	// A readable close after it, so that --follow ends.
	closing, err := json.Marshal(history.Record{V: 1, Kind: history.KindInput, Events: []history.Event{
		{Seq: 2, Time: time.Now().UTC(), Type: history.WorkflowTerminated, Reason: "by hand"}}})
	testsrv.Must(t, err)
	_, err = c.Store().JS.Publish(ctx, subj, closing)
	testsrv.Must(t, err)
	named := fmt.Sprintf("stream seq %d", ack.Sequence)

	check := func(r result, what string, out ...string) {
		t.Helper()
		expectCode(t, r, cli.ExitBadData)
		for _, s := range out {
			if !strings.Contains(r.out, s) {
				t.Fatalf("%s: stdout lacks %q:\n%s", what, s, r.out)
			}
		}
		if !strings.Contains(r.errOut, named) || !strings.Contains(r.errOut, "invalid character") {
			t.Fatalf("%s: stderr does not name the bad record (%s) and why:\n%s", what, named, r.errOut)
		}
	}
	check(e.run(t, false, "show", "garbled"), "show", "1\t", "WorkflowStarted", "2\t", "WorkflowTerminated")
	check(e.run(t, true, "show", "garbled"), "show on a terminal", "workflow started", "workflow terminated")
	r := e.run(t, false, "show", "garbled", "-o", "json")
	check(r, "show -o json")
	f, err := history.DecodeFile(strings.NewReader(r.out))
	testsrv.Must(t, err)
	if len(f.Events) != 2 || f.Events[0].Type != history.WorkflowStarted || f.Events[1].Type != history.WorkflowTerminated || f.RunID != ri.RunID {
		t.Fatalf("show -o json: %+v", f)
	}
	check(e.run(t, false, "show", "garbled", "-o", "jsonl"), "show -o jsonl", `"type":"WorkflowStarted"`, `"type":"WorkflowTerminated"`)
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check(dfctl(t, fctx, false, "-s", e.url, "show", "garbled", "--follow"), "show --follow", "WorkflowStarted", "WorkflowTerminated")
}
