package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// action is what a prompt asks to confirm.
type action int

const (
	actionSignal action = iota
	actionCancel
	actionTerminate
)

func (a action) verb() string {
	return [...]string{"signal", "cancel", "terminate"}[a]
}

// actionDoneMsg is the outcome of a confirmed action.
type actionDoneMsg struct {
	text string
	err  error
}

// Prompt asks to confirm an action on a running workflow and for what it
// needs: a reason (cancel, terminate), or a signal's name and JSON input.
type Prompt struct {
	ctx *Context
	src Source

	act       action
	id, runID string
	inputs    []textinput.Model
	focus     int
	err       string
	width     int
}

// NewPrompt returns the confirmation of act on a run.
func NewPrompt(ctx *Context, src Source, act action, id, runID string) *Prompt {
	p := &Prompt{ctx: ctx, src: src, act: act, id: id, runID: runID}
	add := func(prompt, placeholder string) {
		in := textinput.New()
		in.Prompt = prompt
		in.Placeholder = placeholder
		in.CharLimit = 4096
		p.inputs = append(p.inputs, in)
	}
	if act == actionSignal {
		add("signal name: ", "approve")
		add("input JSON:  ", `{"approved": true} (empty: null)`)
	} else {
		add("reason: ", "optional, recorded in the history")
	}
	p.inputs[0].Focus()
	return p
}

// SetSize sets the prompt's width.
func (p *Prompt) SetSize(w int) {
	p.width = w
	for i := range p.inputs {
		p.inputs[i].Width = max(w-lipgloss.Width(p.inputs[i].Prompt)-6, 10)
	}
}

// Update handles a key: tab moves between fields, enter confirms (on the
// signal's name it moves on), esc aborts. done says the prompt is over; cmd
// carries out a confirmed action.
func (p *Prompt) Update(km tea.KeyMsg) (cmd tea.Cmd, done bool) {
	switch km.Type {
	case tea.KeyEsc:
		return nil, true
	case tea.KeyTab, tea.KeyShiftTab, tea.KeyUp, tea.KeyDown:
		p.move(1)
		return nil, false
	case tea.KeyEnter:
		if p.focus < len(p.inputs)-1 {
			p.move(1)
			return nil, false
		}
		return p.confirm()
	}
	var c tea.Cmd
	p.inputs[p.focus], c = p.inputs[p.focus].Update(km)
	return c, false
}

func (p *Prompt) move(d int) {
	p.inputs[p.focus].Blur()
	p.focus = (p.focus + d + len(p.inputs)) % len(p.inputs)
	p.inputs[p.focus].Focus()
}

func (p *Prompt) confirm() (tea.Cmd, bool) {
	src, id, runID, act := p.src, p.id, p.runID, p.act
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
	}
	lines := []string{st.Bold.Render(title), ""}
	for _, in := range p.inputs {
		lines = append(lines, in.View())
	}
	if p.err != "" {
		lines = append(lines, st.Error.Render(p.err))
	}
	lines = append(lines, "", st.Faint.Render("enter confirms · tab next field · esc aborts"))
	w := max(p.width-7, 20) // border, padding and the margin
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	return st.Box.Render(strings.Join(lines, "\n"))
}
