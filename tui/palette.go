package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// Palette is the command palette (:): the actions of the screen on show,
// filtered as one types (by prefix first, then by the letters in order);
// enter runs the selected one as its key would.
type Palette struct {
	ctx     *Context
	input   textinput.Model
	entries []key.Binding
	shown   []int
	cursor  int
	width   int
}

// NewPalette returns a palette over the bindings of a screen.
func NewPalette(ctx *Context, entries []key.Binding) *Palette {
	in := textinput.New()
	in.Prompt = ": "
	in.Placeholder = "type to filter: signal, cancel, stack, zoom…"
	in.SetStyles(inputStyles(ctx.Dark))
	in.Focus()
	p := &Palette{ctx: ctx, input: in, entries: entries}
	p.filter()
	return p
}

// SetSize sets the palette's width.
func (p *Palette) SetSize(w int) {
	p.width = w
	p.input.SetWidth(max(w-12, 10))
}

// filter lists the entries that match what was typed: those whose name
// starts with it first, then those that hold its letters in order.
func (p *Palette) filter() {
	q := strings.ToLower(strings.TrimSpace(p.input.Value()))
	var prefix, fuzzy []int
	for i, b := range p.entries {
		name := strings.ToLower(b.Help().Desc)
		switch {
		case strings.HasPrefix(name, q):
			prefix = append(prefix, i)
		case subsequence(q, name):
			fuzzy = append(fuzzy, i)
		}
	}
	p.shown = append(prefix, fuzzy...)
	p.cursor = max(min(p.cursor, len(p.shown)-1), 0)
}

// subsequence reports whether the letters of q appear in s in order.
func subsequence(q, s string) bool {
	for _, r := range q {
		i := strings.IndexRune(s, r)
		if i < 0 {
			return false
		}
		s = s[i+len(string(r)):]
	}
	return true
}

// Update handles a key or pasted text. done says the palette is over;
// chosen, when set, is the key of the action to run.
func (p *Palette) Update(msg tea.Msg) (cmd tea.Cmd, chosen *tea.KeyPressMsg, done bool) {
	if km, ok := msg.(tea.KeyPressMsg); ok {
		switch km.String() {
		case "esc":
			return nil, nil, true
		case "enter":
			if len(p.shown) == 0 {
				return nil, nil, false
			}
			k := pressOf(p.entries[p.shown[p.cursor]].Keys()[0])
			return nil, &k, true
		case "up", "ctrl+p", "shift+tab":
			p.cursor = max(p.cursor-1, 0)
			return nil, nil, false
		case "down", "ctrl+n", "tab":
			p.cursor = min(p.cursor+1, max(len(p.shown)-1, 0))
			return nil, nil, false
		}
	}
	p.input, cmd = p.input.Update(msg)
	p.filter()
	return cmd, nil, false
}

// pressOf is the key press a binding's key name stands for.
func pressOf(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// View draws the palette as a box: the input, then the matching actions
// with their keys.
func (p *Palette) View(rows int) string {
	st := p.ctx.Styles
	w := max(p.width-7, 20)
	lines := []string{p.input.View(), ""}
	if len(p.shown) == 0 {
		lines = append(lines, st.Faint.Render("  no action matches"))
	}
	rows = max(rows, 1)
	top := max(p.cursor-rows+1, 0)
	for i := top; i < min(top+rows, len(p.shown)); i++ {
		b := p.entries[p.shown[i]]
		cur := "  "
		if i == p.cursor {
			cur = st.Cursor.Render("› ")
		}
		line := cur + fit(b.Help().Desc, 20) + " " + st.Bold.Render(fit(b.Help().Key, 8))
		if i == p.cursor {
			line = highlight(st.Selected, fit(line, w))
		}
		lines = append(lines, line)
	}
	lines = append(lines, "", st.Faint.Render("enter runs · ↑/↓ selects · esc closes"))
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	return st.Box.Render(strings.Join(lines, "\n"))
}
