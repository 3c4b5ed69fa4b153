// Package tui is dfctl's interactive history inspector (`dfctl tui`): the
// runs list, a run's event log with its detail pane, the timeline and
// follow mode. Each view is a component (a model, its keys from the one
// KeyMap, SetSize); they share a Context with the styles, the clock and the
// screen size. Everything is read through a Source.
//
// It builds on pkg/engine and pkg/history and must never be imported by
// them or by pkg/sdk.
package tui

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/durablefuture/durablefuture/internal/runlist"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// Options configure the inspector.
type Options struct {
	Source Source
	// WorkflowID opens that workflow's run (RunID, or the latest) at once.
	WorkflowID, RunID string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NoColor draws without colour (NO_COLOR, --color never); bold and
	// faint text stay.
	NoColor bool
	// Profile is the colour profile to draw with when NoColor is false
	// (--color always); colorprofile.Unknown (the default) lets the program
	// detect it from the terminal and the environment.
	Profile colorprofile.Profile
	// Copy puts text on the clipboard (default: OSC 52 to Output).
	Copy func(text string) error
	// Output is the terminal (for OSC 52).
	Output io.Writer
	// WebURL is the base address of dfctl web ("" if unknown): Y copies
	// the link to the selected run's page.
	WebURL string
	// ListInterval is how often the runs list is read again (default 2s;
	// longer when reading it is slow).
	ListInterval time.Duration
}

// Messages of the root model.
type (
	runsMsg struct {
		runs []engine.RunInfo
		err  error
		took time.Duration
	}
	runsTickMsg struct{}
	statusMsg   struct {
		text string
		err  bool
		// keep: an error the next good read must not clear (a replay
		// check's mismatch is not a connection error).
		keep bool
	}
)

// Model is the inspector: the runs list, with a run view over it once one
// is opened.
type Model struct {
	ctx  *Context
	opts Options
	list *RunList
	run  *RunView
	// stack holds the runs left by opening a child or parent (o); back
	// returns to them.
	stack []*RunView
	help  help.Model
	// prompt, when set, confirms an action and has the keys.
	prompt *Prompt
	// palette, when set, lists the actions (:) and has the keys.
	palette *Palette

	showHelp   bool
	status     string
	statusErr  bool
	statusKeep bool
	listing    bool
	lostConn   bool
	interval   time.Duration
}

// New returns the inspector's model.
func New(o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ListInterval <= 0 {
		o.ListInterval = 2 * time.Second
	}
	if o.Copy == nil {
		out := o.Output
		o.Copy = func(text string) error {
			if out == nil {
				return fmt.Errorf("no terminal to copy to")
			}
			_, err := osc52.New(text).WriteTo(out)
			return err
		}
	}
	// Dark until the terminal answers the program's question
	// (BackgroundColorMsg).
	ctx := &Context{Styles: stylesFor(true, o.NoColor), Dark: true, NoColor: o.NoColor, Keys: DefaultKeyMap(), Now: o.Now, Width: 80, Height: 24}
	m := &Model{ctx: ctx, opts: o, list: NewRunList(ctx), interval: o.ListInterval}
	m.setHelpStyles()
	if o.WorkflowID != "" {
		m.run = NewRunView(ctx, o.Source, o.WorkflowID, o.RunID)
	}
	m.layout()
	return m
}

// setHelpStyles draws the footer and its keys with the inspector's styles.
func (m *Model) setHelpStyles() {
	st := m.ctx.Styles
	h := help.New()
	h.SetWidth(m.help.Width())
	h.Styles.ShortKey = st.Bold
	h.Styles.FullKey = st.Bold
	h.Styles.ShortDesc = st.Faint
	h.Styles.FullDesc = st.Faint
	h.Styles.ShortSeparator = st.Faint
	h.Styles.FullSeparator = st.Faint
	h.Styles.Ellipsis = st.Faint
	m.help = h
}

// setBackground takes the terminal's answer to the background colour
// question: the styles and the inputs suit a dark or a light background.
func (m *Model) setBackground(dark bool) {
	m.ctx.Dark = dark
	m.ctx.Styles = stylesFor(dark, m.ctx.NoColor)
	m.setHelpStyles()
	m.list.input.SetStyles(inputStyles(dark))
	if m.prompt != nil {
		for i := range m.prompt.inputs {
			m.prompt.inputs[i].SetStyles(inputStyles(dark))
		}
	}
	if m.palette != nil {
		m.palette.input.SetStyles(inputStyles(dark))
	}
}

// Init starts reading the runs list (and the run given in Options) and
// asks the terminal for its background colour (only the inspector asks:
// no other dfctl command sends the terminal a question).
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.listRuns(), tea.RequestBackgroundColor}
	if m.run != nil {
		cmds = append(cmds, m.run.Init())
	}
	return tea.Batch(cmds...)
}

func (m *Model) listRuns() tea.Cmd {
	if m.listing {
		return nil
	}
	m.listing = true
	src, now := m.opts.Source, time.Now
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		t0 := now()
		runs, err := src.ListRuns(ctx)
		return runsMsg{runs: runs, err: err, took: now().Sub(t0)}
	}
}

func (m *Model) layout() {
	body := max(m.ctx.Height-3, 1)
	m.list.SetSize(m.ctx.Width, body)
	if m.run != nil {
		m.run.SetSize(m.ctx.Width, body)
	}
	m.help.SetWidth(m.ctx.Width)
	if m.prompt != nil {
		m.prompt.SetSize(m.ctx.Width)
	}
	if m.palette != nil {
		m.palette.SetSize(m.ctx.Width)
	}
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.ctx.Width, m.ctx.Height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tea.BackgroundColorMsg:
		m.setBackground(msg.IsDark())
		return m, nil
	case runsMsg:
		m.listing = false
		if msg.err != nil {
			m.setStatus("runs: "+msg.err.Error(), true)
		} else {
			m.list.SetRuns(msg.runs)
			m.clearError()
			// Reading 10,000 runs takes a while: poll less often then.
			m.interval = max(m.opts.ListInterval, 10*msg.took)
		}
		return m, tea.Tick(m.interval, func(time.Time) tea.Msg { return runsTickMsg{} })
	case runsTickMsg:
		m.checkConnection()
		if m.run != nil {
			// The list is hidden: read it again when it shows. Heartbeats
			// are not events: ask for them again.
			return m, tea.Batch(m.run.readHeartbeats(),
				tea.Tick(m.interval, func(time.Time) tea.Msg { return runsTickMsg{} }))
		}
		return m, m.listRuns()
	case statusMsg:
		m.setStatus(msg.text, msg.err)
		m.statusKeep = msg.keep
		return m, nil
	case resetDoneMsg:
		return m, m.resetDone(msg)
	case actionDoneMsg:
		if msg.err != nil {
			m.setStatus(msg.err.Error(), true)
			return m, nil
		}
		m.setStatus(msg.text, false)
		if m.run != nil {
			return m, m.run.Refresh()
		}
		return m, m.listRuns()
	case runInfoMsg, pageMsg, countMsg, pageRetryMsg, followMsg, followRetryMsg, heartbeatMsg, stackMsg:
		if m.run == nil {
			return m, nil
		}
		if ok := msgOK(msg); ok {
			m.clearError()
		}
		return m, m.run.HandleMsg(msg)
	case tea.KeyPressMsg:
		if runes := []rune(msg.Text); len(runes) > 1 && msg.Mod&^tea.ModShift == 0 {
			// Keys typed faster than they are read may arrive as one
			// message ("/ab"): handle them one by one, as typed.
			var cmds []tea.Cmd
			for _, r := range runes {
				cmds = append(cmds, m.handleKey(tea.KeyPressMsg{Code: r, Text: string(r)}))
			}
			return m, tea.Batch(cmds...)
		}
		return m, m.handleKey(msg)
	case tea.PasteMsg:
		// Pasted text goes to the input that has the keys, if any.
		switch {
		case m.prompt != nil:
			cmd, _ := m.prompt.Update(msg)
			return m, cmd
		case m.palette != nil:
			cmd, _, _ := m.palette.Update(msg)
			return m, cmd
		case m.run == nil && m.list.Filtering():
			return m, m.list.Update(msg)
		}
	}
	return m, nil
}

// msgOK reports whether a reply from the server succeeded (so a stale
// connection error can leave the status line).
func msgOK(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case runInfoMsg:
		return msg.err == nil
	case pageMsg:
		return msg.err == nil
	case followMsg:
		return msg.err == nil
	}
	return false
}

// checkConnection puts a lost connection on the status line, and takes it
// off when the connection is back.
func (m *Model) checkConnection() {
	cs, ok := m.opts.Source.(ConnectionState)
	if !ok {
		return
	}
	if up, why := cs.Connected(); !up {
		m.setStatus(why, true)
		m.lostConn = true
	} else if m.lostConn {
		m.lostConn = false
		m.clearError()
	}
}

func (m *Model) setStatus(text string, isErr bool) {
	m.status, m.statusErr, m.statusKeep = text, isErr, false
}

func (m *Model) clearError() {
	if m.statusErr && !m.statusKeep {
		m.status, m.statusErr = "", false
	}
}

func (m *Model) handleKey(km tea.KeyPressMsg) tea.Cmd {
	keys := m.ctx.Keys
	if key.Matches(km, keys.ForceQuit) {
		m.closeAll()
		return tea.Quit
	}
	if m.prompt != nil {
		cmd, done := m.prompt.Update(km)
		if done {
			m.prompt = nil
		}
		return cmd
	}
	if m.palette != nil {
		cmd, chosen, done := m.palette.Update(km)
		if done {
			m.palette = nil
		}
		if chosen != nil {
			return m.handleKey(*chosen)
		}
		return cmd
	}
	if m.run == nil && m.list.Filtering() {
		return m.list.Update(km)
	}
	if m.showHelp {
		if key.Matches(km, keys.Help, keys.Back, keys.Quit) {
			m.showHelp = false
		}
		return nil
	}
	switch {
	case key.Matches(km, keys.Help):
		m.showHelp = true
		return nil
	case key.Matches(km, keys.Palette):
		m.palette = NewPalette(m.ctx, m.paletteEntries())
		m.palette.SetSize(m.ctx.Width)
		return nil
	case key.Matches(km, keys.Back, keys.Quit):
		switch {
		case m.run != nil && m.run.Zoomed() && !m.run.showTimeline:
			m.run.SetZoom(false)
		case m.run != nil && m.run.StackShown() && !m.run.showTimeline:
			m.run.CloseStack()
		case m.run != nil && m.run.showTimeline:
			m.run.showTimeline = false
		case m.run != nil:
			m.closeRun()
			m.status, m.statusErr = "", false
			if m.run != nil {
				cmd := m.run.Refresh()
				// Back at a running parent: follow it again, as it
				// opened.
				if ri := m.run.Info(); ri != nil && !ri.Status.IsClosed() {
					if on, _ := m.run.Following(); !on {
						cmd = tea.Batch(cmd, m.run.ToggleFollow())
					}
				}
				return cmd
			}
			return m.listRuns()
		case key.Matches(km, keys.Back):
			m.list.ClearFilter()
		default:
			return tea.Quit
		}
		return nil
	case key.Matches(km, keys.Refresh):
		if m.run != nil {
			m.setStatus("refreshing…", false)
			return m.run.Refresh()
		}
		return m.listRuns()
	case key.Matches(km, keys.Copy):
		return m.copyID()
	case key.Matches(km, keys.CopyLink):
		return m.copyLink()
	case key.Matches(km, keys.Signal):
		return m.ask(actionSignal)
	case key.Matches(km, keys.Cancel):
		return m.ask(actionCancel)
	case key.Matches(km, keys.Terminate):
		return m.ask(actionTerminate)
	case key.Matches(km, keys.Replay):
		return m.replay()
	case key.Matches(km, keys.Reset):
		return m.askReset()
	case m.run == nil && key.Matches(km, keys.Zoom, keys.Stack, keys.Follow):
		m.setStatus("open a run first (enter)", false)
		return nil
	case m.run != nil && key.Matches(km, keys.Related):
		ref := m.run.related()
		if ref == nil {
			m.setStatus("no child workflow here and no parent", false)
			return nil
		}
		m.run.Close()
		m.run.follow, m.run.paused = false, false
		m.stack = append(m.stack, m.run)
		m.run = NewRunView(m.ctx, m.opts.Source, ref.WorkflowID, ref.RunID)
		m.layout()
		return m.run.Init()
	}
	if m.run != nil {
		return m.run.Update(km)
	}
	if key.Matches(km, keys.Open) {
		if r := m.list.Selected(); r != nil {
			m.run = NewRunView(m.ctx, m.opts.Source, r.WorkflowID, r.RunID)
			m.layout()
			m.status, m.statusErr = "", false
			return m.run.Init()
		}
		return nil
	}
	return m.list.Update(km)
}

// ask opens the confirmation of an action on the run on show, or the one
// under the cursor in the list.
func (m *Model) ask(act action) tea.Cmd {
	var ri *engine.RunInfo
	id, runID := "", ""
	if m.run != nil {
		ri, id, runID = m.run.Info(), m.run.ID, m.run.RunID
	} else if ri = m.list.Selected(); ri != nil {
		id, runID = ri.WorkflowID, ri.RunID
	}
	if ri == nil {
		return nil
	}
	if ri.Status.IsClosed() {
		m.setStatus(fmt.Sprintf("%s is %s: there is nothing to %s", id, ri.Status, act.verb()), false)
		return nil
	}
	m.prompt = NewPrompt(m.ctx, m.opts.Source, act, id, runID)
	m.prompt.SetSize(m.ctx.Width)
	m.showHelp = false
	return textinput.Blink
}

// replay asks a live worker to replay the run on show (or the one under
// the cursor in the list) against the code it runs now; the verdict goes
// to the status line.
func (m *Model) replay() tea.Cmd {
	id, runID := "", ""
	if m.run != nil {
		id, runID = m.run.ID, m.run.RunID
	} else if ri := m.list.Selected(); ri != nil {
		id, runID = ri.WorkflowID, ri.RunID
	}
	if id == "" {
		return nil
	}
	m.setStatus("replay check of "+id+": asking a worker of its task queue…", false)
	src := m.opts.Source
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := src.ReplayRun(ctx, id, runID)
		switch {
		case err != nil:
			return statusMsg{text: "replay check of " + id + ": " + oneLine(err.Error()), err: true, keep: true}
		case !res.Deterministic:
			what := "not deterministic"
			if res.Mismatch != nil {
				what = history.FailureText(res.Mismatch)
				if res.Mismatch.Type == "NonDeterminismError" {
					what = res.Mismatch.Message
				}
			}
			return statusMsg{text: "replay check of " + id + ": " + oneLine(what), err: true, keep: true}
		}
		text := "replay check of " + id + ": deterministic"
		if res.Worker != "" {
			text += " (worker " + res.Worker + ")"
		}
		return statusMsg{text: text}
	}
}

// askReset opens the confirmation of a reset of the run on show to the
// selected event.
func (m *Model) askReset() tea.Cmd {
	if m.run == nil {
		m.setStatus("open a run and select the event to reset it to (z)", false)
		return nil
	}
	ri := m.run.Info()
	ev, ok := m.run.selectedEvent()
	if ri == nil || !ok {
		m.setStatus("no event to reset to yet", false)
		return nil
	}
	m.prompt = NewResetPrompt(m.ctx, m.opts.Source, m.run.ID, ri.RunID, ev, !ri.Status.IsClosed())
	m.prompt.SetSize(m.ctx.Width)
	m.showHelp = false
	return textinput.Blink
}

// resetDone opens the new run of a reset, followed, in place of the run it
// came from and says where it was reset to.
func (m *Model) resetDone(msg resetDoneMsg) tea.Cmd {
	res := msg.res
	if res == nil {
		m.setStatus(msg.err.Error(), true)
		m.statusKeep = true
		return nil
	}
	text := fmt.Sprintf("reset to event %d as run %s", res.Requested, res.RunID)
	if res.KeptThrough < res.Requested {
		text += fmt.Sprintf("; kept events 1..%d", res.KeptThrough)
	}
	if res.Reapplied > 0 {
		text += "; re-applied " + plural(res.Reapplied, "signal")
	}
	if msg.err != nil {
		m.setStatus(text+": "+msg.err.Error(), true)
		m.statusKeep = true
	} else {
		m.setStatus(text, false)
	}
	switch {
	case m.run == nil:
	case m.run.ID == msg.id:
		m.run.Close()
	default:
		// Another run is on show by now: the new one is a step away.
		return nil
	}
	m.run = NewRunView(m.ctx, m.opts.Source, msg.id, res.RunID)
	m.layout()
	cmd := m.run.Init()
	// The new run goes on from the boundary at once: follow it.
	m.run.ToggleFollow()
	return cmd
}

// closeRun leaves the run on show for the one it was opened from, or the
// list.
func (m *Model) closeRun() {
	if m.run != nil {
		m.run.Close()
		m.run = nil
	}
	if n := len(m.stack); n > 0 {
		m.run, m.stack = m.stack[n-1], m.stack[:n-1]
		m.layout()
	}
}

func (m *Model) closeAll() {
	for m.run != nil {
		m.closeRun()
	}
}

func (m *Model) copyID() tea.Cmd {
	id := ""
	if m.run != nil {
		id = m.run.ID
	} else if r := m.list.Selected(); r != nil {
		id = r.WorkflowID
	}
	if id == "" {
		return nil
	}
	copyFn := m.opts.Copy
	return func() tea.Msg {
		if err := copyFn(id); err != nil {
			return statusMsg{text: "copy: " + err.Error(), err: true}
		}
		return statusMsg{text: "copied " + id}
	}
}

// copyLink copies the link to the run's page in dfctl web (the run on
// show, or the selected workflow's latest run).
func (m *Model) copyLink() tea.Cmd {
	if m.opts.WebURL == "" {
		return func() tea.Msg {
			return statusMsg{text: "no dfctl web address: run dfctl web, then dfctl tui --web-url URL (or set DFCTL_WEB_URL)", err: true}
		}
	}
	link := ""
	if m.run != nil {
		link = m.opts.WebURL + runlist.RunPath(m.run.ID, m.run.RunID)
	} else if r := m.list.Selected(); r != nil {
		link = m.opts.WebURL + runlist.RunPath(r.WorkflowID, r.RunID)
	}
	if link == "" {
		return nil
	}
	copyFn := m.opts.Copy
	return func() tea.Msg {
		if err := copyFn(link); err != nil {
			return statusMsg{text: "copy: " + err.Error(), err: true}
		}
		return statusMsg{text: "copied " + link}
	}
}

// keys are the bindings of the screen on show, for the footer and ?.
func (m *Model) keys() helpKeys {
	k := m.ctx.Keys
	nav := []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageDown, k.PageUp}
	general := []key.Binding{k.Refresh, k.Copy, k.CopyLink, k.Help, k.Back, k.Quit, k.ForceQuit}
	actions := []key.Binding{k.Signal, k.Cancel, k.Terminate, k.Replay, k.Reset, k.Stack, k.Palette}
	switch {
	case m.prompt != nil:
		confirm := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "confirm"))
		next := key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next field"))
		abort := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "abort"))
		short := []key.Binding{confirm, next, abort}
		if m.prompt.act == actionReset {
			toggle := key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "toggle"))
			short = []key.Binding{confirm, next, toggle, abort}
		}
		return helpKeys{short: short, full: [][]key.Binding{short}}
	case m.palette != nil:
		run := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run"))
		sel := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "select"))
		closeKey := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close"))
		short := []key.Binding{run, sel, closeKey}
		return helpKeys{short: short, full: [][]key.Binding{short}}
	case m.run != nil && m.run.Zoomed() && !m.run.showTimeline:
		back := key.NewBinding(key.WithKeys("Z", "esc"), key.WithHelp("Z/esc", "back"))
		return helpKeys{
			short: []key.Binding{back, k.PageDown, k.PageUp, k.Palette, k.Help},
			full:  [][]key.Binding{nav, {back, k.Stack, k.Follow}, actions, general},
		}
	case m.run != nil && m.run.showTimeline:
		open := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "show in log"))
		tl := key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "event log"))
		return helpKeys{
			short: []key.Binding{open, tl, k.Follow, k.Back, k.Help, k.Copy},
			full:  [][]key.Binding{nav, {open, tl, k.Follow}, actions, general},
		}
	case m.run != nil:
		return helpKeys{
			short: []key.Binding{k.Expand, k.Timeline, k.Follow, k.Zoom, k.Palette, k.Help, k.Back, k.Stack, k.FocusDetail, k.Copy},
			full:  [][]key.Binding{nav, {k.Expand, k.FocusDetail, k.Zoom, k.Timeline, k.Follow, k.Related}, actions, general},
		}
	case m.list.Filtering():
		apply := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply"))
		clear := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear"))
		hint := key.NewBinding(key.WithKeys("status:"), key.WithHelp("status:failed", "by status"))
		return helpKeys{short: []key.Binding{apply, clear, hint}, full: [][]key.Binding{{apply, clear, hint}}}
	}
	return helpKeys{
		short: []key.Binding{k.Open, k.Filter, k.StatusFilter, k.Palette, k.Help, k.Quit, k.Copy, k.Refresh},
		// The list has no events to reset to.
		full: [][]key.Binding{nav, {k.Open, k.Filter, k.StatusFilter, k.Palette}, {k.Signal, k.Cancel, k.Terminate, k.Replay}, general},
	}
}

// paletteEntries are the actions the palette offers on the screen on show.
func (m *Model) paletteEntries() []key.Binding {
	k := m.ctx.Keys
	if m.run == nil {
		return []key.Binding{k.Open, k.Filter, k.Signal, k.Cancel, k.Terminate, k.Replay, k.Copy, k.CopyLink, k.Refresh, k.Help, k.Quit}
	}
	return []key.Binding{k.Signal, k.Cancel, k.Terminate, k.Replay, k.Reset, k.Stack, k.Follow, k.Zoom,
		k.Timeline, k.Related, k.Copy, k.CopyLink, k.Refresh, k.Help, k.Back}
}

// fullHelp lists every key of the screen on show, in columns when they fit.
func (m *Model) fullHelp() []string {
	st := m.ctx.Styles
	var cols []string
	for _, group := range m.keys().FullHelp() {
		kw := 0
		for _, b := range group {
			kw = max(kw, lipgloss.Width(b.Help().Key))
		}
		var lines []string
		for _, b := range group {
			lines = append(lines, st.Bold.Render(fit(b.Help().Key, kw))+"  "+st.Faint.Render(b.Help().Desc))
		}
		cols = append(cols, strings.Join(lines, "\n"))
	}
	// As many columns side by side as fit, the rest below.
	var rows, row []string
	for _, c := range cols {
		if len(row) > 0 && lipgloss.Width(lipgloss.JoinHorizontal(lipgloss.Top, intersperse(append(row, c), "    ")...)) > m.ctx.Width-2 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, intersperse(row, "    ")...))
			row = nil
		}
		row = append(row, c)
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, intersperse(row, "    ")...))
	}
	keys := strings.Join(rows, "\n\n")
	notes := ""
	if m.run == nil {
		notes = "Status keys: 0 all  1 running  2 completed  3 failed  4 canceled  5 terminated  6 timed out  7 blocked.\n" +
			"/ filters by ID or type; status:NAME in the filter selects a status too.\n"
	}
	notes += "? or esc closes this help."
	var out []string
	for _, l := range strings.Split(st.Bold.Render("Keys")+"\n\n"+keys+"\n\n"+st.Faint.Render(notes), "\n") {
		out = append(out, wrapLines(" "+l, m.ctx.Width)...)
	}
	return out
}

func intersperse(cols []string, sep string) []string {
	var out []string
	for i, c := range cols {
		if i > 0 {
			out = append(out, sep)
		}
		out = append(out, c)
	}
	return out
}

// View is the screen on the alternate screen buffer, the cursor hidden.
func (m *Model) View() tea.View {
	v := tea.NewView(m.screen())
	v.AltScreen = true
	return v
}

// screen draws the screen: title bar, the view, the status line and the
// footer with the main keys.
func (m *Model) screen() string {
	st := m.ctx.Styles
	w := m.ctx.Width
	body := max(m.ctx.Height-3, 1)

	title := st.Title.Render("DurableFuture") + st.Faint.Render(" › ") + m.list.Title()
	badge := ""
	if m.run != nil {
		for _, r := range m.stack {
			title += st.Faint.Render(" › ") + r.ID
		}
		title += st.Faint.Render(" › ") + m.run.ID
		if m.run.showTimeline {
			title += st.Faint.Render(" › ") + "timeline"
		}
		if on, paused := m.run.Following(); on {
			badge = st.Badge.Render(" FOLLOW ")
			if paused {
				badge = st.BadgePaused.Render(" FOLLOW paused · G resumes ")
			}
		}
	}
	titleLine := fit(title, max(w-lipgloss.Width(badge), 0)) + badge

	var content string
	switch {
	case m.showHelp:
		content = padLines(m.fullHelp(), w, body)
	case m.run != nil:
		content = m.run.View()
	default:
		content = m.list.View()
	}

	var overlay string
	switch {
	case m.prompt != nil:
		overlay = m.prompt.View()
	case m.palette != nil:
		// The box's border, padding, input, blank lines and hint take 7.
		overlay = m.palette.View(max(min(body-7, 14), 1))
	}
	if overlay != "" {
		// The prompt or the palette covers the bottom of the view.
		box := strings.Split(overlay, "\n")
		lines := strings.Split(content, "\n")
		if n := len(lines) - len(box); n >= 0 {
			for i, l := range box {
				lines[n+i] = fit(" "+l, w)
			}
			content = strings.Join(lines, "\n")
		}
	}
	status := ""
	if m.status != "" {
		status = st.Info.Render(m.status)
		if m.statusErr {
			status = st.Error.Render("✗ " + m.status)
		}
	}
	footer := m.help.ShortHelpView(m.keys().ShortHelp())
	return titleLine + "\n" + content + "\n" + fit(status, w) + "\n" + fit(footer, w)
}

// Run runs the inspector on a terminal until the user quits or ctx ends.
func Run(ctx context.Context, o Options, progOpts ...tea.ProgramOption) error {
	m := New(o)
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if p := programProfile(o); p != colorprofile.Unknown {
		opts = append(opts, tea.WithColorProfile(p))
	}
	opts = append(opts, progOpts...)
	_, err := tea.NewProgram(m, opts...).Run()
	m.closeAll()
	return err
}

// programProfile is the colour profile Options ask the program to draw
// with: ASCII (no colour) for NoColor, else Profile; Unknown lets the
// program detect it.
func programProfile(o Options) colorprofile.Profile {
	if o.NoColor {
		return colorprofile.ASCII
	}
	return o.Profile
}
