package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// Page sizes, in records: the first page is small so that a run opens at
// once; the rest load in the background in bigger pages.
const (
	firstPage = 300
	nextPage  = 2000
)

// retryAfter is how long a failed read waits before it tries again (the
// connection reconnects by itself meanwhile).
const retryAfter = 2 * time.Second

var loadGen atomic.Int64

// Messages of a run view; gen ties a reply to the load that asked for it,
// so replies for a view that was left or refreshed are dropped.
type (
	runInfoMsg struct {
		gen  int64
		info *engine.RunInfo
		err  error
	}
	pageMsg struct {
		gen   int64
		recs  []history.Record
		limit int
		err   error
	}
	countMsg struct {
		gen int64
		n   uint64
	}
	pageRetryMsg struct{ gen int64 }
	followMsg    struct {
		gen  int64
		recs []history.Record
		err  error
		ch   <-chan followMsg
	}
	followRetryMsg struct{ gen int64 }
)

// RunView is one run: a header, the event log and the detail pane of the
// selected event, or the timeline (t). The log is read in pages and drawn
// a screenful at a time, so a run of 100,000 events opens as fast as a small
// one.
type RunView struct {
	ctx *Context
	src Source

	ID, RunID string
	info      *engine.RunInfo
	log       runLog
	rows      []logRow

	gen     int64
	loading bool
	total   uint64 // records in the log when it was opened (0: unknown)

	cursor, top int

	follow, paused bool
	followStop     context.CancelFunc

	detailFocus bool
	detailTop   int
	detailKey   [3]int
	detailLines []string

	timeline     *Timeline
	showTimeline bool

	width, height          int
	logW, logH, detW, detH int
	headerH                int
	side                   bool
}

// NewRunView opens a run (runID "": the latest run of the workflow ID).
func NewRunView(ctx *Context, src Source, id, runID string) *RunView {
	v := &RunView{ctx: ctx, src: src, ID: id, RunID: runID, detailKey: [3]int{-1, -1, -1}}
	v.timeline = NewTimeline(ctx, v)
	return v
}

// Init starts loading: the run's state, then its log page by page.
func (v *RunView) Init() tea.Cmd {
	v.gen = loadGen.Add(1)
	v.loading = true
	return v.describe()
}

func (v *RunView) describe() tea.Cmd {
	gen, src, id, runID := v.gen, v.src, v.ID, v.RunID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, err := src.Describe(ctx, id, runID)
		return runInfoMsg{gen: gen, info: info, err: err}
	}
}

func (v *RunView) readPage(limit int) tea.Cmd {
	gen, src, id, runID, after := v.gen, v.src, v.ID, v.RunID, v.log.lastStreamSeq
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		recs, err := src.ReadPage(ctx, id, runID, after, limit)
		return pageMsg{gen: gen, recs: recs, limit: limit, err: err}
	}
}

func (v *RunView) count() tea.Cmd {
	gen, src, id, runID := v.gen, v.src, v.ID, v.RunID
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, _ := src.CountRecords(ctx, id, runID)
		return countMsg{gen: gen, n: n}
	}
}

// Close stops following.
func (v *RunView) Close() {
	if v.followStop != nil {
		v.followStop()
		v.followStop = nil
	}
}

// Refresh reads the run's state again and whatever was appended since.
func (v *RunView) Refresh() tea.Cmd {
	if v.loading || v.RunID == "" {
		return v.describe()
	}
	v.loading = true
	return tea.Batch(v.describe(), v.readPage(nextPage))
}

// Following reports the follow badge: off, on, or paused by scrolling up.
func (v *RunView) Following() (on, paused bool) { return v.follow, v.paused }

// Info is the run's state as last read, or nil.
func (v *RunView) Info() *engine.RunInfo { return v.info }

// HandleMsg handles the view's replies (whatever the screen shows).
func (v *RunView) HandleMsg(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runInfoMsg:
		if msg.gen != v.gen {
			return nil
		}
		if msg.err != nil {
			err := reportErr(fmt.Errorf("describe %s: %w", v.ID, msg.err))
			if errors.Is(msg.err, engine.ErrWorkflowNotFound) || errors.Is(msg.err, engine.ErrInvalidArgument) {
				v.loading = false
				return err // asking again will not help
			}
			return tea.Batch(err, tea.Tick(retryAfter, func(time.Time) tea.Msg { return pageRetryMsg{gen: msg.gen} }))
		}
		first := v.info == nil
		v.info = msg.info
		if v.RunID == "" {
			v.RunID = msg.info.RunID
		}
		if first {
			return tea.Batch(v.readPage(firstPage), v.count())
		}
	case countMsg:
		if msg.gen == v.gen {
			v.total = msg.n
		}
	case pageRetryMsg:
		if msg.gen != v.gen {
			return nil
		}
		if v.info == nil {
			return v.describe()
		}
		return v.readPage(nextPage)
	case pageMsg:
		if msg.gen != v.gen {
			return nil
		}
		if msg.err != nil {
			return tea.Batch(reportErr(msg.err),
				tea.Tick(retryAfter, func(time.Time) tea.Msg { return pageRetryMsg{gen: msg.gen} }))
		}
		v.append(msg.recs)
		if len(msg.recs) >= msg.limit {
			return v.readPage(nextPage)
		}
		v.loading = false
		if v.follow && v.followStop == nil {
			return v.startFollow()
		}
	case followMsg:
		if msg.gen != v.gen || !v.follow {
			return nil
		}
		v.append(msg.recs)
		if msg.err != nil {
			v.Close()
			return tea.Batch(reportErr(msg.err),
				tea.Tick(retryAfter, func(time.Time) tea.Msg { return followRetryMsg{gen: msg.gen} }))
		}
		return waitFollow(msg.ch)
	case followRetryMsg:
		if msg.gen == v.gen && v.follow && v.followStop == nil && !v.loading {
			return v.startFollow()
		}
	}
	return nil
}

func reportErr(err error) tea.Cmd {
	return func() tea.Msg { return statusMsg{text: err.Error(), err: true} }
}

// append adds records to the log, updates the header from closing events
// and, when following, keeps the cursor on the newest event.
func (v *RunView) append(recs []history.Record) {
	before := len(v.log.events)
	if !v.log.add(recs) {
		return
	}
	for _, ev := range v.log.events[before:] {
		v.applyToInfo(ev)
	}
	v.rows = v.log.rows(v.rows)
	v.detailKey = [3]int{-1, -1, -1}
	if v.follow && !v.paused {
		v.cursor = len(v.rows) - 1
	}
	v.clamp()
}

// applyToInfo keeps the header current while events arrive.
func (v *RunView) applyToInfo(ev history.Event) {
	if v.info == nil {
		if ev.Type != history.WorkflowStarted {
			return
		}
		ri := engine.RunInfoFromHistory([]history.Event{ev})
		v.info = &ri
	}
	if ev.Seq > v.info.LastEventSeq {
		v.info.LastEventSeq = ev.Seq
	}
	if v.info.Status.IsClosed() || !ev.Type.IsClosing() {
		return
	}
	// The engine says what a closing event means for the run.
	closed := engine.RunInfoFromHistory([]history.Event{ev})
	v.info.Status, v.info.Result, v.info.Failure = closed.Status, closed.Result, closed.Failure
	v.info.CloseTime, v.info.Blocked = closed.CloseTime, ""
}

// ToggleFollow turns follow mode on (from the last event read) or off.
func (v *RunView) ToggleFollow() tea.Cmd {
	if v.follow {
		v.follow, v.paused = false, false
		v.Close()
		return nil
	}
	v.follow, v.paused = true, false
	v.cursor = len(v.rows) - 1
	v.clamp()
	if v.loading || v.RunID == "" {
		return nil // starts when the last page is in
	}
	return v.startFollow()
}

func (v *RunView) startFollow() tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	v.followStop = cancel
	ch := make(chan followMsg, 1)
	gen, src, id, runID, after := v.gen, v.src, v.ID, v.RunID, v.log.lastStreamSeq
	go func() {
		defer close(ch)
		var batch []history.Record
		recs := make(chan history.Record)
		errs := make(chan error, 1)
		go func() {
			defer close(recs)
			for rec, err := range src.Follow(ctx, id, runID, after) {
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				select {
				case recs <- rec:
				case <-ctx.Done():
					return
				}
			}
		}()
		// Batch what arrives while the screen is busy, so a fast run does
		// not cost a redraw per record.
		for {
			var out chan followMsg
			if len(batch) > 0 {
				out = ch
			}
			select {
			case rec, ok := <-recs:
				if !ok {
					var err error
					select {
					case err = <-errs:
					default:
					}
					if ctx.Err() == nil && (len(batch) > 0 || err != nil) {
						select {
						case ch <- followMsg{gen: gen, recs: batch, err: err}:
						case <-ctx.Done():
						}
					}
					return
				}
				batch = append(batch, rec)
			case out <- followMsg{gen: gen, recs: batch}:
				batch = nil
			case <-ctx.Done():
				return
			}
		}
	}()
	return waitFollow(ch)
}

func waitFollow(ch <-chan followMsg) tea.Cmd {
	return func() tea.Msg {
		m, ok := <-ch
		if !ok {
			return nil
		}
		m.ch = ch
		return m
	}
}

// SetSize lays the view out: the detail pane beside the log from 120
// columns, below it when narrower.
func (v *RunView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.headerH = 4
	body := max(h-v.headerH, 4)
	v.side = w >= 120
	if v.side {
		v.logW = w * 3 / 5
		v.detW = w - v.logW - 1
		v.logH, v.detH = body, body
	} else {
		v.logW, v.detW = w, w
		v.logH = max(body*3/5, 3)
		v.detH = body - v.logH
	}
	v.detailKey = [3]int{-1, -1, -1}
	v.timeline.SetSize(w, body)
	v.clamp()
}

// logRows is how many log lines fit below its column header.
func (v *RunView) logRows() int { return max(v.logH-1, 1) }

func (v *RunView) clamp() {
	n := len(v.rows)
	v.cursor = max(min(v.cursor, n-1), 0)
	rows := v.logRows()
	if v.cursor < v.top {
		v.top = v.cursor
	}
	if v.cursor >= v.top+rows {
		v.top = v.cursor - rows + 1
	}
	v.top = max(min(v.top, n-rows), 0)
}

// Update handles a key on the log, the detail pane or the timeline.
func (v *RunView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	keys := v.ctx.Keys
	if key.Matches(km, keys.Timeline) {
		v.showTimeline = !v.showTimeline
		return nil
	}
	if key.Matches(km, keys.Follow) {
		return v.ToggleFollow()
	}
	if v.showTimeline {
		v.timeline.Update(km)
		return nil
	}
	if key.Matches(km, keys.FocusDetail) {
		v.detailFocus = !v.detailFocus
		return nil
	}
	if v.detailFocus {
		// A page here is a whole pane (Move steps half of what it is given).
		v.detailTop, _ = keys.Move(km, v.detailTop, len(v.detailLines), 2*max(v.detH-2, 1))
		v.detailTop = max(min(v.detailTop, len(v.detailLines)-1), 0)
		return nil
	}
	prev := v.cursor
	if c, moved := keys.Move(km, v.cursor, len(v.rows), v.logRows()); moved {
		v.cursor = c
	} else if key.Matches(km, keys.Expand) {
		v.toggleExpand()
	} else {
		return nil
	}
	v.clamp()
	if v.follow {
		// Scrolling up pauses follow; reaching the end again resumes it.
		if v.cursor < prev {
			v.paused = true
		} else if v.cursor == len(v.rows)-1 {
			v.paused = false
		}
	}
	return nil
}

func (v *RunView) toggleExpand() {
	if v.cursor >= len(v.rows) {
		return
	}
	r := v.rows[v.cursor]
	it := &v.log.items[r.item]
	if !it.grouped() {
		return
	}
	it.expanded = !it.expanded
	v.rows = v.log.rows(v.rows)
	// Keep the cursor on the group's own row.
	for i := max(v.cursor-len(it.events), 0); i < len(v.rows); i++ {
		if v.rows[i].item == r.item && v.rows[i].child == -1 {
			v.cursor = i
			break
		}
	}
	v.detailKey = [3]int{-1, -1, -1}
}

// related is the run the selected row points at: a child workflow's run,
// or, elsewhere, the run's parent.
func (v *RunView) related() *history.RunRef {
	if v.cursor < len(v.rows) {
		it := &v.log.items[v.rows[v.cursor].item]
		if it.kind == itemChild {
			if c := v.log.group(it).child(); c != nil {
				return c
			}
		}
	}
	if len(v.log.events) > 0 && v.log.events[0].Parent != nil {
		return v.log.events[0].Parent
	}
	return nil
}

// selectedEvent is the event a reset goes back to: the one on the
// cursor's row (an activity, timer or child workflow row: the event that
// scheduled it), or in the timeline, what schedules the selected bar.
func (v *RunView) selectedEvent() (history.Event, bool) {
	if v.showTimeline {
		acts := v.timeline.activities()
		if v.timeline.cursor >= len(acts) {
			return history.Event{}, false
		}
		return v.log.events[v.log.items[acts[v.timeline.cursor]].events[0]], true
	}
	if v.cursor >= len(v.rows) {
		return history.Event{}, false
	}
	r := v.rows[v.cursor]
	it := &v.log.items[r.item]
	return v.log.events[it.events[max(r.child, 0)]], true
}

// selectItem moves the cursor to an item's row (from the timeline).
func (v *RunView) selectItem(item int) {
	for i, r := range v.rows {
		if r.item == item && r.child == -1 {
			v.cursor = i
			break
		}
	}
	v.clamp()
}

// View draws the header and the log with its detail pane, or the timeline.
func (v *RunView) View() string {
	header := v.headerView()
	if v.showTimeline {
		return header + "\n" + v.timeline.View()
	}
	logView := v.logView()
	detail := v.detailView()
	if v.side {
		sep := strings.TrimSuffix(strings.Repeat(v.ctx.Styles.Border.Render("│")+"\n", v.logH), "\n")
		return header + "\n" + joinColumns(logView, sep, detail)
	}
	return header + "\n" + logView + "\n" + detail
}

// joinColumns puts blocks of equal height side by side.
func joinColumns(blocks ...string) string {
	split := make([][]string, len(blocks))
	n := 0
	for i, b := range blocks {
		split[i] = strings.Split(b, "\n")
		n = max(n, len(split[i]))
	}
	lines := make([]string, n)
	for i := range lines {
		var sb strings.Builder
		for _, b := range split {
			if i < len(b) {
				sb.WriteString(b[i])
			}
		}
		lines[i] = sb.String()
	}
	return strings.Join(lines, "\n")
}

func (v *RunView) headerView() string {
	st := v.ctx.Styles
	now := v.ctx.Now()
	ri := v.info
	if ri == nil {
		what := "loading…"
		if !v.loading {
			what = "no such run (see the status line); esc goes back"
		}
		return padLines([]string{st.Bold.Render(v.ID), st.Faint.Render(what)}, v.width, v.headerH)
	}
	lines := []string{
		st.Bold.Render(ri.WorkflowID) + st.Faint.Render("  run ") + ri.RunID,
		st.Faint.Render("type ") + ri.Type + "  " + statusText(st, ri) + st.Faint.Render("  queue ") + ri.TaskQueue,
	}
	times := st.Faint.Render("started ") + ri.StartTime.UTC().Format("2006-01-02 15:04:05") + st.Faint.Render(" ("+relTime(now, ri.StartTime)+")")
	if ri.CloseTime != nil {
		times += st.Faint.Render("  closed ") + ri.CloseTime.UTC().Format("15:04:05")
	}
	times += st.Faint.Render("  duration ") + runDuration(now, ri)
	events := "  " + plural(len(v.log.events), "event")
	if v.loading && v.total > 0 {
		events += fmt.Sprintf(" (loading %d%%)", min(100, uint64(v.log.records)*100/v.total))
	} else if v.loading {
		events += " (loading…)"
	}
	if len(v.log.events) > 0 && v.log.events[0].Parent != nil {
		events += "  parent " + v.log.events[0].Parent.WorkflowID + " (o)"
	}
	lines = append(lines, times+st.Faint.Render(events))
	switch {
	case ri.Blocked != "" && !ri.Status.IsClosed():
		lines = append(lines, st.Blocked.Render("blocked: ")+oneLine(ri.Blocked))
	case ri.Failure != nil:
		lines = append(lines, st.Failed.Render("failure: ")+oneLine(history.FailureText(ri.Failure)))
	case ri.Status == engine.StatusCompleted:
		lines = append(lines, st.Completed.Render("result: ")+history.CompactJSON(ri.Result))
	default:
		lines = append(lines, "")
	}
	return padLines(lines, v.width, v.headerH)
}

const (
	seqW   = 7
	timeW  = 9
	labelW = 25
)

func (v *RunView) logView() string {
	st := v.ctx.Styles
	now := v.ctx.Now()
	start := v.log.start()
	lines := []string{st.Header.Render(fit(fmt.Sprintf("   %*s  %-*s  %-*s  %s", seqW-2, "SEQ", timeW, "TIME", labelW, "EVENT", "SUMMARY"), v.logW))}
	if len(v.rows) == 0 {
		if v.loading {
			lines = append(lines, st.Faint.Render("  loading events…"))
		} else {
			lines = append(lines, st.Faint.Render("  no events"))
		}
	}
	end := min(v.top+v.logRows(), len(v.rows))
	for i := v.top; i < end; i++ {
		r := v.rows[i]
		it := &v.log.items[r.item]
		cur := " "
		if i == v.cursor {
			cur = st.Cursor.Render("›")
			if v.detailFocus {
				cur = st.Faint.Render("›")
			}
		}
		var mark, seq, at, label, summary string
		switch {
		case r.child >= 0:
			ev := &v.log.events[it.events[r.child]]
			mark = " "
			seq = fmt.Sprintf("%*d", seqW-2, ev.Seq)
			at = history.Offset(start, ev.Time)
			// Under its activity, "activity" goes without saying.
			label = eventStyle(st, ev.Type).Render(fit("└ "+strings.TrimPrefix(history.Label(ev.Type), "activity "), labelW))
			summary = history.Summary(*ev)
		case it.grouped():
			g := v.log.group(it)
			mark = "▸"
			if it.expanded {
				mark = "▾"
			}
			ev := g.scheduled()
			seq = fmt.Sprintf("%*d", seqW-2, ev.Seq)
			at = history.Offset(start, ev.Time)
			label = groupStyle(st, g.state).Render(fit(g.label(), labelW))
			summary = g.summary(now)
		default:
			ev := &v.log.events[it.events[0]]
			mark = " "
			seq = fmt.Sprintf("%*d", seqW-2, ev.Seq)
			at = history.Offset(start, ev.Time)
			label = eventStyle(st, ev.Type).Render(fit(history.Label(ev.Type), labelW))
			summary = history.Summary(*ev)
		}
		line := cur + mark + " " + seq + "  " + fit(at, timeW) + "  " + label + "  " + summary
		line = fit(line, v.logW)
		if i == v.cursor {
			line = st.Selected.Render(line)
		}
		lines = append(lines, line)
	}
	return padLines(lines, v.logW, v.logH)
}

// eventStyle colours an event type by what it means.
func eventStyle(st Styles, t history.EventType) lipgloss.Style {
	switch t {
	case history.WorkflowCompleted, history.ActivityCompleted:
		return st.Completed
	case history.WorkflowFailed, history.ActivityFailed:
		return st.Failed
	case history.ActivityAttemptFailed, history.WorkflowTaskFailed, history.WorkflowCancelRequested,
		history.WorkflowCanceled, history.WorkflowTerminated, history.ActivityCancelRequested, history.TimerCanceled,
		history.ChildWorkflowCancelRequested:
		return st.Closed
	case history.ChildWorkflowFailed, history.ChildWorkflowStartFailed:
		return st.Failed
	case history.ChildWorkflowCompleted:
		return st.Completed
	case history.WorkflowStarted:
		return st.Bold
	}
	return st.Info
}

func groupStyle(st Styles, s groupState) lipgloss.Style {
	switch s {
	case groupCompleted:
		return st.Completed
	case groupFailed:
		return st.Failed
	case groupRetrying, groupCanceling, groupCanceled:
		return st.Closed
	}
	return st.Running
}

// selectedEvents are the events the detail pane shows, and its title.
func (v *RunView) selectedEvents() ([]history.Event, string, [3]int) {
	if v.cursor >= len(v.rows) {
		return nil, "", [3]int{-1, -1, -1}
	}
	r := v.rows[v.cursor]
	it := &v.log.items[r.item]
	if r.child >= 0 || !it.grouped() {
		c := max(r.child, 0)
		ev := v.log.events[it.events[c]]
		return []history.Event{ev}, fmt.Sprintf("event %d · %s", ev.Seq, history.Label(ev.Type)), [3]int{r.item, c, 1}
	}
	evs := make([]history.Event, len(it.events))
	for i, idx := range it.events {
		evs[i] = v.log.events[idx]
	}
	what := "activity " + evs[0].Name
	switch it.kind {
	case itemTimer:
		what = fmt.Sprintf("timer %d", evs[0].Seq)
	case itemChild:
		what = "child workflow " + evs[0].Name
	}
	return evs, what + " · " + plural(len(evs), "event"), [3]int{r.item, -1, len(evs)}
}

func (v *RunView) detailView() string {
	st := v.ctx.Styles
	evs, title, k := v.selectedEvents()
	w := v.detW
	if k != v.detailKey {
		v.detailKey = k
		v.detailTop = 0
		v.detailLines = nil
		if evs != nil {
			v.detailLines = wrapLines(prettyEvents(st, evs), max(w-1, 1))
		}
	}
	body := max(v.detH-1, 0)
	v.detailTop = max(min(v.detailTop, len(v.detailLines)-body), 0)
	scroll := ""
	if len(v.detailLines) > body {
		scroll = fmt.Sprintf(" %d-%d/%d", v.detailTop+1, min(v.detailTop+body, len(v.detailLines)), len(v.detailLines))
	}
	focus := ""
	if v.detailFocus {
		focus = " (tab: back to log)"
	}
	titleLine := st.Border.Render("─ ") + st.Bold.Render(title) + st.Faint.Render(scroll+focus) + " "
	titleLine += st.Border.Render(strings.Repeat("─", max(w-lipgloss.Width(titleLine), 0)))
	lines := []string{titleLine}
	end := min(v.detailTop+body, len(v.detailLines))
	for _, l := range v.detailLines[v.detailTop:end] {
		lines = append(lines, " "+l)
	}
	return padLines(lines, w, v.detH)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
