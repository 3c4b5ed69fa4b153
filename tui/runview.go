package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
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

	gen       int64
	loading   bool
	described bool
	total     uint64 // records in the log when it was opened (0: unknown)

	cursor, top int

	follow, paused bool
	followStop     context.CancelFunc

	detailFocus bool
	detailTop   int
	detailKey   [3]int
	detailLines []string

	timeline     *Timeline
	showTimeline bool

	// pending is what the run waits for, folded from the pendingN events
	// read so far; heartbeats the pending activities' last heartbeats.
	pending    *history.Pending
	pendingN   int
	heartbeats map[int64]time.Time
	// toEnd puts the cursor on the last event as pages arrive (a closed
	// run that failed: its closing event has the failure), until the user
	// moves it.
	toEnd, userMoved bool
	// zoom gives the whole view to the detail pane (Z).
	zoom bool
	// stack, when set, is what the detail pane shows instead of the
	// selected event: where the run's code waits (S).
	stack      []string
	stackTitle string

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
		first := !v.described
		v.described = true
		v.info = msg.info
		// The runs index is written after the closing event: a describe
		// may lag the log, and what the log says wins.
		if !v.info.Status.IsClosed() {
			for i := len(v.log.events) - 1; i >= 0; i-- {
				if ev := v.log.events[i]; ev.Type.IsClosing() {
					v.applyToInfo(ev)
					break
				}
			}
		}
		if v.RunID == "" {
			v.RunID = msg.info.RunID
		}
		if first {
			// A running run is watched as it goes; a failed one opens on
			// the event that says why.
			if !msg.info.Status.IsClosed() {
				v.follow, v.paused = true, false
			} else if msg.info.Status != engine.StatusCompleted {
				v.toEnd = true
			}
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
			return tea.Batch(v.startFollow(), v.readHeartbeats())
		}
		return v.readHeartbeats()
	case heartbeatMsg:
		if msg.gen == v.gen {
			v.heartbeats = msg.beats
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
	case stackMsg:
		v.setStack(msg)
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
	if at, ok := v.startTime(); ok && v.resetFrom() != nil {
		v.log.resetAt = at // what the runs index says beats the first event after the kept ones
	}
	v.rows = v.log.rows(v.rows)
	v.detailKey = [3]int{-1, -1, -1}
	if v.follow && !v.paused || v.toEnd && !v.userMoved {
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
	v.detailKey = [3]int{-1, -1, -1}
	v.layout(max(v.headerH, 4))
}

// cardLimit is how many lines the card may take: a quarter of the view,
// at least five (a failure's message and its cause wrap; the log needs the
// rest).
func (v *RunView) cardLimit() int { return max(5, (v.height-3)/4) }

// layout splits the view below a header of headerH lines (the card makes
// it taller or shorter as the run goes on). The log takes what the detail
// pane leaves: its summary column is the one that grows with the
// terminal.
func (v *RunView) layout(headerH int) {
	w, h := v.width, v.height
	v.headerH = headerH
	body := max(h-v.headerH, 4)
	v.side = w >= 120
	switch {
	case v.zoom:
		v.logW, v.detW = w, w
		v.logH, v.detH = 0, h
	case v.side:
		v.detW = min(max(w/3, 40), 80)
		v.logW = w - v.detW - 1
		v.logH, v.detH = body, body
	default:
		v.logW, v.detW = w, w
		v.logH = max(body*3/5, 3)
		v.detH = body - v.logH
	}
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
	km, ok := msg.(tea.KeyPressMsg)
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
	if key.Matches(km, keys.Zoom) {
		v.SetZoom(!v.zoom)
		return nil
	}
	if key.Matches(km, keys.Stack) {
		if v.stack != nil {
			v.CloseStack()
			return nil
		}
		return v.askStack()
	}
	if key.Matches(km, keys.FocusDetail) && !v.zoom {
		v.detailFocus = !v.detailFocus
		return nil
	}
	if v.detailFocus || v.zoom {
		// A page here is a whole pane (Move steps half of what it is given).
		v.detailTop, _ = keys.Move(km, v.detailTop, len(v.detailLines), 2*max(v.detH-2, 1))
		v.detailTop = max(min(v.detailTop, len(v.detailLines)-1), 0)
		return nil
	}
	prev := v.cursor
	if c, moved := keys.Move(km, v.cursor, len(v.rows), v.logRows()); moved {
		v.cursor, v.userMoved = c, true
		v.CloseStack()
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

// resetFrom is the run this one was reset from (dfctl reset, z), if it
// was.
func (v *RunView) resetFrom() *history.RunRef {
	if len(v.log.events) == 0 {
		return nil
	}
	return v.log.events[0].ResetFrom
}

// startTime is when the run started: for a reset run, the reset, not the
// time of its first event (the old run's start). The runs index has it
// for the latest run; else the first event after the kept ones tells
// (known is false before there is one).
func (v *RunView) startTime() (at time.Time, known bool) {
	ri := v.info
	rf := v.resetFrom()
	if ri == nil {
		return time.Time{}, false
	}
	if rf == nil {
		return ri.StartTime, !ri.StartTime.IsZero()
	}
	if ri.StartTime.After(v.log.events[0].Time) {
		return ri.StartTime, true
	}
	for _, ev := range v.log.events {
		if ev.Seq > rf.Seq {
			return ev.Time, true
		}
	}
	return time.Time{}, false
}

// offset is an event's time in the log's TIME column: from the start of
// the run, or for a reset run's events after the kept ones, from the reset.
func (v *RunView) offset(start time.Time, ev *history.Event) string {
	if rf := v.resetFrom(); rf != nil && ev.Seq > rf.Seq && v.info != nil {
		if at, ok := v.startTime(); ok {
			return history.Offset(at, ev.Time)
		}
	}
	return history.Offset(start, ev.Time)
}

// SetZoom gives the whole view to the detail pane, or gives the log its
// place back.
func (v *RunView) SetZoom(on bool) {
	v.zoom = on
	v.detailKey = [3]int{-1, -1, -1}
	v.layout(v.headerH)
}

// Zoomed reports whether the detail pane has the whole view.
func (v *RunView) Zoomed() bool { return v.zoom }

// CloseStack shows the selected event again in place of the stack.
func (v *RunView) CloseStack() {
	if v.stack != nil {
		v.stack = nil
		v.detailKey = [3]int{-1, -1, -1}
	}
}

// StackShown reports whether the detail pane shows the stack.
func (v *RunView) StackShown() bool { return v.stack != nil }

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
		if it.kind == history.GroupChild {
			if c := v.log.group(it).Child(); c != nil {
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
	if v.zoom && !v.showTimeline {
		if v.detH != v.height || v.detW != v.width {
			v.layout(v.headerH)
		}
		return v.detailView()
	}
	header := v.headerView()
	if h := strings.Count(header, "\n") + 1; h != v.headerH {
		v.layout(h)
	}
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
		return padLines([]string{st.Bold.Render(v.ID), st.Faint.Render(what)}, v.width, 4)
	}
	lines := []string{
		st.Bold.Render(ri.WorkflowID) + st.Faint.Render("  run ") + ri.RunID,
		st.Faint.Render("type ") + ri.Type + "  " + statusText(st, ri) + st.Faint.Render("  queue ") + ri.TaskQueue,
	}
	// A reset run's own start is the reset: its first events, and the
	// start event's time, are the old run's.
	start, known := v.startTime()
	times := st.Faint.Render("started ") + st.Faint.Render("unknown")
	dur := "-"
	if known {
		times = st.Faint.Render("started ") + start.UTC().Format("2006-01-02 15:04:05") + st.Faint.Render(" ("+relTime(now, start)+")")
		end := now
		if ri.CloseTime != nil {
			end = *ri.CloseTime
		}
		dur = shortDuration(end.Sub(start))
	}
	if ri.CloseTime != nil {
		times += st.Faint.Render("  closed ") + ri.CloseTime.UTC().Format("15:04:05")
	}
	times += st.Faint.Render("  duration ") + dur
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
	if rf := v.resetFrom(); rf != nil {
		from := ""
		if len(v.log.events) > 0 {
			// No hyphens: the text wraps at them.
			from = " " + v.log.events[0].Time.UTC().Format("Jan 2 15:04:05")
		}
		text := fmt.Sprintf("from run %s at event %d; events 1-%d are that run's, timed from its start%s; later ones from the reset",
			rf.RunID, rf.Seq, rf.Seq, from)
		for i, l := range strings.Split(ansi.Wrap(text, max(v.width-cardLabelW, 10), ""), "\n") {
			lab := strings.Repeat(" ", cardLabelW)
			if i == 0 {
				lab = st.Info.Render(fit("reset:", cardLabelW))
			}
			lines = append(lines, lab+st.Faint.Render(l))
		}
	}
	card := v.cardLines(v.cardLimit())
	if len(card) == 0 {
		card = []string{""}
	}
	lines = append(lines, card...)
	return padLines(lines, v.width, len(lines))
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
			at = v.offset(start, ev)
			// Under its activity, "activity" goes without saying.
			label = toneStyle(st, history.EventTone(ev.Type)).Render(fit("└ "+strings.TrimPrefix(history.Label(ev.Type), "activity "), labelW))
			summary = history.Summary(*ev)
		case it.grouped():
			g := v.log.group(it)
			mark = "▸"
			if it.expanded {
				mark = "▾"
			}
			ev := g.First()
			seq = fmt.Sprintf("%*d", seqW-2, ev.Seq)
			at = v.offset(start, ev)
			label = toneStyle(st, g.Tone()).Render(fit(g.Label(), labelW))
			summary = g.summary(now)
		default:
			ev := &v.log.events[it.events[0]]
			mark = " "
			seq = fmt.Sprintf("%*d", seqW-2, ev.Seq)
			at = v.offset(start, ev)
			label = toneStyle(st, history.EventTone(ev.Type)).Render(fit(history.Label(ev.Type), labelW))
			summary = history.Summary(*ev)
		}
		line := cur + mark + " " + seq + "  " + fit(at, timeW) + "  " + label + "  " + summary
		line = fit(line, v.logW)
		if i == v.cursor {
			line = highlight(st.Selected, line)
		}
		lines = append(lines, line)
	}
	return padLines(lines, v.logW, v.logH)
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
	what := it.kind.String() + " " + evs[0].Name
	if it.kind == history.GroupTimer {
		what = fmt.Sprintf("%s %d", it.kind, evs[0].Seq)
	}
	return evs, what + " · " + plural(len(evs), "event"), [3]int{r.item, -1, len(evs)}
}

func (v *RunView) detailView() string {
	st := v.ctx.Styles
	evs, title, k := v.selectedEvents()
	w := v.detW
	if v.stack != nil {
		title, k = v.stackTitle, [3]int{-2, len(v.stack), len(v.stack[len(v.stack)-1])}
	}
	if k != v.detailKey {
		v.detailKey = k
		v.detailTop = 0
		v.detailLines = nil
		switch {
		case v.stack != nil:
			v.detailLines = strings.Split(ansi.Wrap(strings.Join(v.stack, "\n"), max(w-1, 1), ""), "\n")
		case evs != nil:
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
	switch {
	case v.zoom:
		focus = " (Z or esc: back)"
	case v.detailFocus:
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
