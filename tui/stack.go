package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/durablefuture/durablefuture/pkg/engine"
)

// stackMsg is a worker's answer to where a run's code waits (S), or why
// there is none.
type stackMsg struct {
	gen int64
	ws  *engine.WorkflowStack
	err error
}

// askStack asks a live worker where the run's workflow goroutines wait
// (the built-in query engine.StackQuery, as dfctl stack).
func (v *RunView) askStack() tea.Cmd {
	gen, src, id, runID := v.gen, v.src, v.ID, v.RunID
	v.stack, v.stackTitle = []string{"asking a worker of the run's task queue…"}, "stack"
	v.detailKey = [3]int{-1, -1, -1}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), engine.DefaultQueryTimeout)
		defer cancel()
		ws, err := src.Stack(ctx, id, runID)
		return stackMsg{gen: gen, ws: ws, err: err}
	}
}

// setStack shows a worker's answer in the detail pane.
func (v *RunView) setStack(msg stackMsg) {
	if msg.gen != v.gen || v.stack == nil {
		return // the view was left, refreshed, or the stack closed
	}
	st := v.ctx.Styles
	v.detailKey = [3]int{-1, -1, -1}
	if msg.err != nil {
		v.stackTitle = "stack: no answer"
		v.stack = []string{st.Error.Render(oneLine(msg.err.Error())), "", st.Faint.Render("S or esc: back to the event")}
		return
	}
	ws := msg.ws
	v.stackTitle = fmt.Sprintf("stack · after event %d", ws.LastEventSeq)
	lines := []string{st.Bold.Render(ws.Type) + " " + ws.WorkflowID}
	if ws.Stopped != "" {
		lines = append(lines, st.Blocked.Render("stopped: ")+ws.Stopped)
	}
	if ws.Closed {
		lines = append(lines, "The run is closed: no code waits.")
	}
	for _, co := range ws.Coroutines {
		lines = append(lines, "")
		if co.State != "blocked" {
			lines = append(lines, st.Bold.Render(co.Name)+"  "+st.Faint.Render(co.State))
			continue
		}
		l := st.Bold.Render(co.Name) + "  blocked in " + st.Info.Render(co.BlockedIn)
		if co.WaitingFor != "" {
			l += " on " + co.WaitingFor
		}
		lines = append(lines, l)
		for _, f := range co.Frames {
			lines = append(lines, "  "+f.Function, st.Faint.Render(fmt.Sprintf("    %s:%d", filepath.Base(f.File), f.Line)))
		}
	}
	if len(ws.SignalChannels) > 0 {
		lines = append(lines, "")
		for _, ch := range ws.SignalChannels {
			lines = append(lines, fmt.Sprintf("signal channel %q: %d received, not taken yet", ch.Name, ch.Buffered))
		}
	}
	lines = append(lines, "", st.Faint.Render("asked at "+v.ctx.Now().UTC().Format(time.TimeOnly)+"; S again: back to the event"))
	v.stack = lines
}
