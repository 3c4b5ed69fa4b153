package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// ErrActionsOff is what an action gets from a server started without
// --actions.
var ErrActionsOff = errors.New("actions are off: start dfctl web with --actions to signal, cancel, terminate, replay or reset runs")

// handleAction does what a run page's form asks: the same calls as dfctl
// signal, cancel, terminate, replay and reset. Every form carries a
// "confirm" box the user ticks; without it nothing is done. The answer is
// a redirect to the run page (the new run's after a reset) with what
// happened on its status line.
func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	id, runID, action := r.PathValue("id"), r.PathValue("run"), r.PathValue("action")
	back := RunPath(id, runID)
	if !s.o.Actions {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintln(w, ErrActionsOff.Error())
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		redirectMsg(w, r, back, "", action+": tick the confirmation first; nothing was done")
		return
	}
	ctx := r.Context()
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var msg string
	var err error
	switch action {
	case "signal":
		name := strings.TrimSpace(r.PostForm.Get("name"))
		value := strings.TrimSpace(r.PostForm.Get("value"))
		if value == "" {
			value = "null"
		}
		switch {
		case name == "":
			err = errors.New("signal: a name is needed")
		case !json.Valid([]byte(value)):
			err = fmt.Errorf("signal %s: the value is not JSON: %s", name, history.Truncate(value, 60))
		default:
			err = s.o.Source.Signal(ctx, id, runID, name, json.RawMessage(value))
			msg = "signal " + name + " sent to " + id
		}
	case "cancel":
		err = s.o.Source.Cancel(ctx, id, runID, reason)
		msg = "cancel requested for " + id
	case "terminate":
		err = s.o.Source.Terminate(ctx, id, runID, reason)
		msg = "terminated " + id
	case "replay":
		var res *engine.ReplayResult
		res, err = s.o.Source.ReplayRun(ctx, id, runID)
		switch {
		case errors.Is(err, engine.ErrNoWorker):
			err = fmt.Errorf("replay check of %s: no worker of its task queue answered", id)
		case err == nil && res.Deterministic:
			msg = fmt.Sprintf("replay check of %s: deterministic (worker %s)", id, res.Worker)
		case err == nil:
			err = fmt.Errorf("replay check of %s: %s (worker %s)", id, history.FailureText(res.Mismatch), res.Worker)
		}
	case "reset":
		var seq int64
		seq, err = strconv.ParseInt(r.PostForm.Get("event"), 10, 64)
		if err != nil || seq < 1 {
			err = errors.New("reset: choose an event to reset to")
			break
		}
		var res *engine.ResetResult
		res, err = s.o.Source.Reset(ctx, engine.ResetRequest{WorkflowID: id, RunID: runID, ToEvent: seq, Reason: reason,
			ReapplySignals: r.PostForm.Get("reapply") == "yes"})
		if err == nil {
			msg = fmt.Sprintf("reset to event %d as run %s", res.Requested, res.RunID)
			if res.KeptThrough != res.Requested {
				msg += fmt.Sprintf("; kept events 1..%d", res.KeptThrough)
			}
			if res.Reapplied > 0 {
				msg += fmt.Sprintf("; re-applied %d signals", res.Reapplied)
			}
			back = RunPath(id, res.RunID)
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		redirectMsg(w, r, back, "", err.Error())
		return
	}
	redirectMsg(w, r, back, msg, "")
}

func redirectMsg(w http.ResponseWriter, r *http.Request, path, msg, errMsg string) {
	v := url.Values{}
	if msg != "" {
		v.Set("msg", msg)
	}
	if errMsg != "" {
		v.Set("err", errMsg)
	}
	if len(v) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + v.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// handleCrash is the demo's "crash the worker" button.
func (s *Server) handleCrash(w http.ResponseWriter, r *http.Request) {
	if s.o.CrashWorker == nil {
		http.NotFound(w, r)
		return
	}
	back := r.FormValue("back")
	if !strings.HasPrefix(back, "/runs") {
		back = "/runs"
	}
	path, err := s.o.CrashWorker(r.Context())
	if err != nil {
		redirectMsg(w, r, back, "", "crash the worker: "+err.Error())
		return
	}
	if path != "" {
		back = path
	}
	redirectMsg(w, r, back, "the worker was killed in the middle of the run; a new one starts in a few seconds and the run goes on from its history", "")
}
