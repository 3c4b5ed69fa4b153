package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// action is what a prompt asks to confirm.
type action int

const (
	actionSignal action = iota
	actionCancel
	actionTerminate
	actionReset
)

func (a action) verb() string {
	return [...]string{"signal", "cancel", "terminate", "reset"}[a]
}

// actionDoneMsg is the outcome of a confirmed action.
type actionDoneMsg struct {
	text string
	err  error
}

// resetDoneMsg is the outcome of a confirmed reset: the new run (res may
// be set with err when the new run started but re-applying a signal
// failed).
type resetDoneMsg struct {
	id  string
	res *engine.ResetResult
	err error
}

// Prompt asks to confirm an action on a running workflow and for what it
// needs: a reason (cancel, terminate), or a signal's name and JSON input;
// a reset (of any run) asks for a reason and whether to re-apply signals.
type Prompt struct {
	ctx *Context
	src Source

	act       action
	id, runID string
	inputs    []textinput.Model
	focus     int
	err       string
	width     int

	// A reset's event, whether the run is open (it is terminated), and the
	// re-apply signals toggle: a field after the inputs.
	event   history.Event
	open    bool
	reapply bool
}

// NewPrompt returns the confirmation of act on a run.
func NewPrompt(ctx *Context, src Source, act action, id, runID string) *Prompt {
	p := &Prompt{ctx: ctx, src: src, act: act, id: id, runID: runID}
	add := func(prompt, placeholder string) {
		in := textinput.New()
		in.Prompt = prompt
		in.Placeholder = placeholder
		in.CharLimit = 4096
		in.SetStyles(inputStyles(ctx.Dark))
		p.inputs = append(p.inputs, in)
	}
	if act == actionSignal {
		add("signal name: ", "e.g. approve")
		add("input JSON:  ", `e.g. {"approved": true} (empty: null)`)
	} else {
		add("reason: ", "optional, recorded in the history")
	}
	p.inputs[0].Focus()
	return p
}

// NewResetPrompt returns the confirmation of a reset of a run to an event;
// open says the run is still running (the reset terminates it).
func NewResetPrompt(ctx *Context, src Source, id, runID string, ev history.Event, open bool) *Prompt {
	p := NewPrompt(ctx, src, actionReset, id, runID)
	p.event, p.open = ev, open
	return p
}

// fields is how many fields take the focus: the inputs and, for a reset,
// the re-apply toggle.
func (p *Prompt) fields() int {
	if p.act == actionReset {
		return len(p.inputs) + 1
	}
	return len(p.inputs)
}

// onToggle reports whether the focus is on the re-apply toggle.
func (p *Prompt) onToggle() bool { return p.focus >= len(p.inputs) }

// SetSize sets the prompt's width.
func (p *Prompt) SetSize(w int) {
	p.width = w
	for i := range p.inputs {
		// The box's border, padding and margin take 7 cells, the focus
		// mark 2; an input draws one more than its width (the cursor
		// after the text).
		p.inputs[i].SetWidth(max(w-lipgloss.Width(p.inputs[i].Prompt)-10, 10))
	}
}

// Update handles a key (or pasted text): tab moves between fields, enter
// confirms (on the signal's name it moves on), esc aborts. done says the
// prompt is over; cmd carries out a confirmed action.
func (p *Prompt) Update(msg tea.Msg) (cmd tea.Cmd, done bool) {
	km, isKey := msg.(tea.KeyPressMsg)
	if !isKey {
		if _, paste := msg.(tea.PasteMsg); !paste || p.onToggle() {
			return nil, false
		}
		var c tea.Cmd
		p.inputs[p.focus], c = p.inputs[p.focus].Update(msg)
		return c, false
	}
	switch km.String() {
	case "esc":
		return nil, true
	case "tab", "shift+tab", "up", "down":
		p.move(1)
		return nil, false
	case "enter":
		// A signal needs its name and input; a reset confirms from any
		// field.
		if p.act != actionReset && p.focus < p.fields()-1 {
			p.move(1)
			return nil, false
		}
		return p.confirm()
	}
	if p.onToggle() {
		if km.Code == tea.KeySpace || km.String() == "x" {
			p.reapply = !p.reapply
		}
		return nil, false
	}
	var c tea.Cmd
	p.inputs[p.focus], c = p.inputs[p.focus].Update(km)
	return c, false
}

func (p *Prompt) move(d int) {
	if !p.onToggle() {
		p.inputs[p.focus].Blur()
	}
	p.focus = (p.focus + d + p.fields()) % p.fields()
	if !p.onToggle() {
		p.inputs[p.focus].Focus()
	}
}

func (p *Prompt) confirm() (tea.Cmd, bool) {
	src, id, runID, act := p.src, p.id, p.runID, p.act
	if act == actionReset {
		req := engine.ResetRequest{WorkflowID: id, RunID: runID, ToEvent: p.event.Seq,
			Reason: strings.TrimSpace(p.inputs[0].Value()), ReapplySignals: p.reapply}
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := src.Reset(ctx, req)
			if err != nil {
				err = fmt.Errorf("reset %s: %w", id, err)
			}
			return resetDoneMsg{id: id, res: res, err: err}
		}, true
	}
	var do func(ctx context.Context) error
	switch act {
	case actionSignal:
		name := strings.TrimSpace(p.inputs[0].Value())
		if name == "" {
			p.err = "a signal needs a name"
			return nil, false
		}
		raw := strings.TrimSpace(p.inputs[1].Value())
		if raw == "" {
			raw = "null"
		}
		if !json.Valid([]byte(raw)) {
			p.err = "the input is not valid JSON (strings need quotes: \"text\")"
			return nil, false
		}
		do = func(ctx context.Context) error { return src.Signal(ctx, id, runID, name, json.RawMessage(raw)) }
	case actionCancel:
		reason := strings.TrimSpace(p.inputs[0].Value())
		do = func(ctx context.Context) error { return src.Cancel(ctx, id, runID, reason) }
	case actionTerminate:
		reason := strings.TrimSpace(p.inputs[0].Value())
		do = func(ctx context.Context) error { return src.Terminate(ctx, id, runID, reason) }
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := do(ctx); err != nil {
			return actionDoneMsg{err: fmt.Errorf("%s %s: %w", act.verb(), id, err)}
		}
		text := act.verb() + " requested for " + id
		if act == actionSignal {
			text = "signal sent to " + id
		}
		return actionDoneMsg{text: text}
	}, true
}

// View draws the prompt as a box.
func (p *Prompt) View() string {
	st := p.ctx.Styles
	var title string
	switch p.act {
	case actionSignal:
		title = "Send a signal to " + p.id + "?"
	case actionCancel:
		title = "Cancel " + p.id + "? Its code is asked to stop and may clean up."
	case actionTerminate:
		title = "Terminate " + p.id + "? It ends at once; no workflow code runs."
	case actionReset:
		title = fmt.Sprintf("Reset %s to event %d · %s?", p.id, p.event.Seq, p.event.Type)
	}
	w := max(p.width-7, 20) // border, padding and the margin
	lines := []string{st.Bold.Render(title)}
	if p.act == actionReset {
		what := "A new run keeps the history up to this event (to the end of its decision) and goes on with the code deployed now."
		if p.open {
			what += " This run is terminated."
		}
		for _, l := range strings.Split(ansi.Wrap(what, w, ""), "\n") {
			lines = append(lines, st.Faint.Render(l))
		}
	}
	lines = append(lines, "")
	// The field that has the keys is marked and bold, with or without
	// colour: typing into the wrong field is the mistake to prevent.
	for i, in := range p.inputs {
		if i == p.focus {
			lines = append(lines, st.Cursor.Render("› ")+boldPrompt(st, in))
		} else {
			lines = append(lines, "  "+in.View())
		}
	}
	hint := "enter confirms · tab next field · esc aborts"
	if p.act == actionReset {
		box := "[ ]"
		if p.reapply {
			box = "[x]"
		}
		cur := "  "
		if p.onToggle() {
			cur = st.Cursor.Render("› ")
			box = st.Bold.Render(box)
		}
		lines = append(lines, cur+box+" re-apply the signals received after it")
		hint = "enter confirms · tab next field · space toggles · esc aborts"
	}
	if p.err != "" {
		lines = append(lines, st.Error.Render(p.err))
	}
	lines = append(lines, "", st.Faint.Render(hint))
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	return st.Box.Render(strings.Join(lines, "\n"))
}

// boldPrompt is a focused input with its label in bold.
func boldPrompt(st Styles, in textinput.Model) string {
	label := in.Prompt
	in.Prompt = ""
	return st.Bold.Render(label) + in.View()
}
