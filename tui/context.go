package tui

import (
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Context is what every view shares: styles, keys, the clock and the size
// of the whole screen.
type Context struct {
	Styles Styles
	Keys   KeyMap
	// Now is the clock for relative times and the timeline's "now" mark;
	// tests fix it.
	Now           func() time.Time
	Width, Height int
}

// Styles are the inspector's colours. Built on a renderer with the Ascii
// profile they carry no colour (NO_COLOR, golden tests).
type Styles struct {
	Title, Bold, Faint, Header, Selected, Cursor lipgloss.Style
	Running, Completed, Failed, Closed, Blocked  lipgloss.Style
	Badge, BadgePaused, Error, Info              lipgloss.Style
	JSONKey, JSONString, JSONNumber, JSONLiteral lipgloss.Style
	Border, Box                                  lipgloss.Style
}

// DefaultStyles returns the styles drawn by r; colour false means no colour
// at all (NO_COLOR, dumb terminals).
func DefaultStyles(r *lipgloss.Renderer, colour bool) Styles {
	if !colour {
		r.SetColorProfile(termenv.Ascii)
	}
	c := func(s string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(s)) }
	return Styles{
		Title:       r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		Bold:        r.NewStyle().Bold(true),
		Faint:       r.NewStyle().Faint(true),
		Header:      r.NewStyle().Faint(true).Bold(true),
		Selected:    r.NewStyle().Background(lipgloss.Color("236")).Bold(true),
		Cursor:      c("6").Bold(true),
		Running:     c("4").Bold(true),
		Completed:   c("2"),
		Failed:      c("1"),
		Closed:      c("3"),
		Blocked:     c("3").Bold(true),
		Badge:       r.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("2")),
		BadgePaused: r.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("3")),
		Error:       c("1").Bold(true),
		Info:        c("6"),
		JSONKey:     c("4"),
		JSONString:  c("2"),
		JSONNumber:  c("3"),
		JSONLiteral: c("5"),
		Border:      c("8"),
		Box:         r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("3")).Padding(0, 1),
	}
}

// KeyMap holds every key binding of the inspector; views pick theirs.
type KeyMap struct {
	Up, Down, Top, Bottom, PageDown, PageUp key.Binding
	Open, Expand, Back, Quit, ForceQuit     key.Binding
	Help, Filter, StatusFilter, Refresh     key.Binding
	Copy, Timeline, Follow, FocusDetail     key.Binding
	Signal, Cancel, Terminate               key.Binding
	Replay, Reset, Related                  key.Binding
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
		Expand:       key.NewBinding(key.WithKeys(" ", "enter"), key.WithHelp("space", "expand")),
		Back:         key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:         key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "back/quit")),
		ForceQuit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl-c", "quit")),
		Help:         key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Filter:       key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		StatusFilter: key.NewBinding(key.WithKeys("0", "1", "2", "3", "4", "5", "6", "7"), key.WithHelp("0-7", "status")),
		Refresh:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "refresh")),
		Copy:         key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy ID")),
		Timeline:     key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timeline")),
		Follow:       key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow")),
		FocusDetail:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "detail")),
		Signal:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "signal")),
		Cancel:       key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel")),
		Terminate:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "terminate")),
		Replay:       key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "replay check")),
		Reset:        key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "reset to event")),
		Related:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "open child/parent")),
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
func (k KeyMap) Move(km tea.KeyMsg, cursor, n, page int) (int, bool) {
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
