package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/durablefuture/durablefuture/internal/runlist"
	"github.com/durablefuture/durablefuture/pkg/engine"
)

// RunList is the opening screen: the latest run of every workflow ID,
// newest first, filtered by text and status. It renders only the rows that
// fit, so a store with 10,000 runs costs what a screenful costs.
type RunList struct {
	ctx *Context

	runs    []engine.RunInfo
	visible []int // indices into runs that pass the filter
	loaded  bool

	input     textinput.Model
	filtering bool   // the filter input has the keys
	text      string // text filter (ID or type substring)
	status    string // status filter, a runlist.Statuses key

	cursor, top   int
	width, height int
}

// NewRunList returns an empty runs list.
func NewRunList(ctx *Context) *RunList {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "ID or type, status:failed"
	in.SetStyles(inputStyles(ctx.Dark))
	return &RunList{ctx: ctx, input: in}
}

// SetSize sets the list's area.
func (l *RunList) SetSize(w, h int) {
	l.width, l.height = w, h
	l.input.SetWidth(max(w-2, 1))
	l.clamp()
}

// SetRuns replaces the runs, keeping the cursor on the same workflow ID.
func (l *RunList) SetRuns(runs []engine.RunInfo) {
	selected := ""
	if r := l.Selected(); r != nil {
		selected = r.WorkflowID
	}
	l.runs, l.loaded = runs, true
	l.applyFilter()
	if selected != "" {
		for i, idx := range l.visible {
			if l.runs[idx].WorkflowID == selected {
				l.cursor = i
				break
			}
		}
	}
	l.clamp()
}

// Selected is the run under the cursor, or nil.
func (l *RunList) Selected() *engine.RunInfo {
	if l.cursor < 0 || l.cursor >= len(l.visible) {
		return nil
	}
	return &l.runs[l.visible[l.cursor]]
}

// Filtering reports whether the filter input has the keys.
func (l *RunList) Filtering() bool { return l.filtering }

// Count is how many runs pass the filter, and how many there are.
func (l *RunList) Count() (shown, total int) { return len(l.visible), len(l.runs) }

func (l *RunList) applyFilter() {
	f := runlist.ParseFilter(l.text, l.status)
	l.visible = l.visible[:0]
	for i := range l.runs {
		if f.Matches(&l.runs[i]) {
			l.visible = append(l.visible, i)
		}
	}
}

func (l *RunList) clamp() {
	n := len(l.visible)
	l.cursor = max(min(l.cursor, n-1), 0)
	rows := l.rows()
	if l.cursor < l.top {
		l.top = l.cursor
	}
	if l.cursor >= l.top+rows {
		l.top = l.cursor - rows + 1
	}
	l.top = max(min(l.top, n-rows), 0)
}

// rows is how many runs fit below the column header (and the filter line).
func (l *RunList) rows() int {
	h := l.height - 1
	if l.filtering || l.text != "" || l.status != "" {
		h--
	}
	return max(h, 1)
}

// Update handles a key (or, while filtering, pasted text); the root model
// has taken the global keys already.
func (l *RunList) Update(msg tea.Msg) tea.Cmd {
	km, isKey := msg.(tea.KeyPressMsg)
	keys := l.ctx.Keys
	if l.filtering {
		switch {
		case isKey && km.String() == "enter":
			l.filtering = false
			l.input.Blur()
			return nil
		case isKey && km.String() == "esc":
			l.filtering = false
			l.input.Blur()
			l.input.SetValue("")
			l.text = ""
			l.applyFilter()
			l.clamp()
			return nil
		}
		var cmd tea.Cmd
		l.input, cmd = l.input.Update(msg)
		l.text = l.input.Value()
		l.applyFilter()
		l.cursor, l.top = 0, 0
		l.clamp()
		return cmd
	}
	if !isKey {
		return nil
	}
	if c, moved := keys.Move(km, l.cursor, len(l.visible), l.rows()); moved {
		l.cursor = c
		l.clamp()
		return nil
	}
	switch {
	case key.Matches(km, keys.Filter):
		// A fresh filter: what was typed before is not added to.
		l.filtering = true
		l.input.SetValue("")
		l.text = ""
		l.applyFilter()
		l.cursor, l.top = 0, 0
		l.clamp()
		return l.input.Focus()
	case key.Matches(km, keys.StatusFilter):
		l.status = runlist.Statuses[km.Code-'0'].Key
		l.applyFilter()
		l.cursor, l.top = 0, 0
	default:
		return nil
	}
	l.clamp()
	return nil
}

// ClearFilter drops the text and status filters; it reports whether there
// was one (Esc clears a filter before it leaves).
func (l *RunList) ClearFilter() bool {
	if l.text == "" && l.status == "" {
		return false
	}
	l.text, l.status = "", ""
	l.input.SetValue("")
	l.applyFilter()
	l.clamp()
	return true
}

// Title is the list's part of the title bar.
func (l *RunList) Title() string {
	shown, total := l.Count()
	if !l.loaded {
		return "runs (loading…)"
	}
	if shown == total {
		return fmt.Sprintf("runs (%d)", total)
	}
	return fmt.Sprintf("runs (%d of %d)", shown, total)
}

// View draws the list in exactly width x height cells.
func (l *RunList) View() string {
	st := l.ctx.Styles
	now := l.ctx.Now()
	var lines []string
	if l.filtering {
		lines = append(lines, l.input.View())
	} else if l.text != "" || l.status != "" {
		f := "filter:"
		if l.text != "" {
			f += " " + l.text
		}
		if l.status != "" {
			f += " status:" + l.status
		}
		lines = append(lines, st.Info.Render(f)+st.Faint.Render("  (esc clears)"))
	}
	// Fixed columns; ID and type share what is left.
	const statusW, startedW, durW = 13, 9, 9
	queueW := 12
	if l.width < 90 {
		queueW = 8
	}
	rest := l.width - 2 - statusW - startedW - durW - queueW - 5
	idW := max(rest*11/20, 8)
	typeW := max(rest-idW, 6)
	row := func(cur, id, typ, status, started, dur, queue string) string {
		return cur + " " + fit(id, idW) + " " + fit(typ, typeW) + " " + fit(status, statusW) + " " +
			fit(started, startedW) + " " + fit(dur, durW) + " " + fit(queue, queueW)
	}
	lines = append(lines, st.Header.Render(row(" ", "WORKFLOW ID", "TYPE", "STATUS", "STARTED", "DURATION", "TASK QUEUE")))
	if l.loaded && len(l.visible) == 0 {
		msg := "No workflows yet: start one with `dfctl start TYPE`."
		if len(l.runs) > 0 {
			msg = "No runs match the filter (esc clears it)."
		}
		lines = append(lines, "", "  "+st.Faint.Render(msg))
	}
	end := min(l.top+l.rows(), len(l.visible))
	for i := l.top; i < end; i++ {
		r := &l.runs[l.visible[i]]
		cur := " "
		if i == l.cursor {
			cur = st.Cursor.Render("›")
		}
		line := row(cur, r.WorkflowID, r.Type, statusText(st, r), relTime(now, r.StartTime), runlist.Duration(now, r), r.TaskQueue)
		if i == l.cursor {
			line = highlight(st.Selected, line)
		}
		lines = append(lines, line)
	}
	return padLines(lines, l.width, l.height)
}
