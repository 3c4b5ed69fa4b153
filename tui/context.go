package tui

import (
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// Context is what every view shares: styles, keys, the clock and the size
// of the whole screen.
type Context struct {
	Styles Styles
	// Dark says the terminal's background is dark (the default until it
	// answers).
	Dark bool
	// NoColor: the screen is drawn without colour (NO_COLOR, --color
	// never).
	NoColor bool
	Keys    KeyMap
	// Now is the clock for relative times and the timeline's "now" mark;
	// tests fix it.
	Now           func() time.Time
	Width, Height int
}

// Styles are the inspector's colours. They are written with full ANSI
// codes; the program brings them down to what the terminal shows (none at
// all with NO_COLOR or --color never, see Options.Profile).
type Styles struct {
	Title, Bold, Faint, Header, Selected, Cursor lipgloss.Style
	Running, Completed, Failed, Closed, Blocked  lipgloss.Style
	Badge, BadgePaused, Error, Info              lipgloss.Style
	JSONKey, JSONString, JSONNumber, JSONLiteral lipgloss.Style
	Border, Box                                  lipgloss.Style
}

// DefaultStyles returns the inspector's styles for a dark background, or a
// light one (the program asks the terminal which, once it runs).
func DefaultStyles(dark bool) Styles {
	c := func(s string) lipgloss.Style { return lipgloss.NewStyle().Foreground(lipgloss.Color(s)) }
	selected := lipgloss.Color("236")
	if !dark {
		selected = lipgloss.Color("254")
	}
	return Styles{
		Title:       lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		Bold:        lipgloss.NewStyle().Bold(true),
		Faint:       lipgloss.NewStyle().Faint(true),
		Header:      lipgloss.NewStyle().Faint(true).Bold(true),
		Selected:    lipgloss.NewStyle().Background(selected).Bold(true),
		Cursor:      c("6").Bold(true),
		Running:     c("4").Bold(true),
		Completed:   c("2"),
		Failed:      c("1"),
		Closed:      c("3"),
		Blocked:     c("3").Bold(true),
		Badge:       lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("2")),
		BadgePaused: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("3")),
		Error:       c("1").Bold(true),
		Info:        c("6"),
		JSONKey:     c("4"),
		JSONString:  c("2"),
		JSONNumber:  c("3"),
		JSONLiteral: c("5"),
		Border:      c("8"),
		Box:         lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("3")).Padding(0, 1),
	}
}

// stylesFor are the styles for a background, without colour when
// noColor: the selection bar is then drawn in reverse video, which a
// terminal without colour still shows.
func stylesFor(dark, noColor bool) Styles {
	s := DefaultStyles(dark)
	if noColor {
		s.Selected = lipgloss.NewStyle().Reverse(true).Bold(true)
	}
	return s
}

// inputStyles are the text inputs' styles: plain prompt and text, a faint
// placeholder and a block cursor in the text's colour.
func inputStyles(dark bool) textinput.Styles {
	s := textinput.DefaultStyles(dark)
	s.Focused.Prompt, s.Blurred.Prompt = lipgloss.NewStyle(), lipgloss.NewStyle()
	s.Focused.Text, s.Blurred.Text = lipgloss.NewStyle(), lipgloss.NewStyle()
	// Faint, not grey: without colour a grey placeholder reads as typed
	// text.
	s.Focused.Placeholder, s.Blurred.Placeholder = lipgloss.NewStyle().Faint(true), lipgloss.NewStyle().Faint(true)
	s.Cursor.Color = lipgloss.NoColor{}
	// A steady cursor: the field that has the keys always shows it.
	s.Cursor.Blink = false
	return s
}

// KeyMap holds every key binding of the inspector; views pick theirs.
type KeyMap struct {
	Up, Down, Top, Bottom, PageDown, PageUp key.Binding
	Open, Expand, Back, Quit, ForceQuit     key.Binding
	Help, Filter, StatusFilter, Refresh     key.Binding
	Copy, CopyLink, Timeline, Follow        key.Binding
	FocusDetail                             key.Binding
	Signal, Cancel, Terminate               key.Binding
	Replay, Reset, Related                  key.Binding
	Zoom, Stack, Palette                    key.Binding
}

// DefaultKeyMap returns the inspector's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:           key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("↑/k", "up")),
		Down:         key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("↓/j", "down")),
		Top:          key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:       key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		PageDown:     key.NewBinding(key.WithKeys("ctrl+d", "pgdown"), key.WithHelp("ctrl-d", "page down")),
		PageUp:       key.NewBinding(key.WithKeys("ctrl+u", "pgup"), key.WithHelp("ctrl-u", "page up")),
		Open:         key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Expand:       key.NewBinding(key.WithKeys("space", "enter"), key.WithHelp("space", "expand")),
		Back:         key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:         key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "back/quit")),
		ForceQuit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl-c", "quit")),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		StatusFilter: key.NewBinding(key.WithKeys("0", "1", "2", "3", "4", "5", "6", "7"), key.WithHelp("0-7", "status")),
		Refresh:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		Copy:         key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy ID")),
		CopyLink:     key.NewBinding(key.WithKeys("Y"), key.WithHelp("Y", "copy web link")),
		Timeline:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timeline")),
		Follow:       key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow")),
		FocusDetail:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "detail")),
		Signal:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "signal")),
		Cancel:       key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel")),
		Terminate:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "terminate")),
		Replay:       key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "replay check")),
		Reset:        key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "reset to event")),
		Related:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "open child/parent")),
		Zoom:         key.NewBinding(key.WithKeys("Z"), key.WithHelp("Z", "zoom")),
		Stack:        key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "stack")),
		Palette:      key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "commands")),
	}
}

// helpKeys adapts a view's bindings to bubbles/help.
type helpKeys struct {
	short []key.Binding
	full  [][]key.Binding
}

func (h helpKeys) ShortHelp() []key.Binding  { return h.short }
func (h helpKeys) FullHelp() [][]key.Binding { return h.full }

// Move applies a navigation key (up, down, top, bottom, half a page) to a
// cursor over n rows; page is the rows in view. It reports whether km is
// such a key. The caller clamps.
func (k KeyMap) Move(km tea.KeyPressMsg, cursor, n, page int) (int, bool) {
	half := max(page/2, 1)
	switch {
	case key.Matches(km, k.Up):
		return cursor - 1, true
	case key.Matches(km, k.Down):
		return cursor + 1, true
	case key.Matches(km, k.Top):
		return 0, true
	case key.Matches(km, k.Bottom):
		return n - 1, true
	case key.Matches(km, k.PageDown):
		return cursor + half, true
	case key.Matches(km, k.PageUp):
		return cursor - half, true
	}
	return cursor, false
}
