package cli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"
)

// Colour modes of --color.
const (
	ColorAuto   = "auto"
	ColorAlways = "always"
	ColorNever  = "never"
)

// IOStreams are a command's standard streams and what is known about them.
// Data goes to Out; progress, hints and errors go to ErrOut.
//
// Nothing here asks the terminal anything: whether a stream is a terminal
// and how wide it is are ioctls, colour comes from --color and the
// environment. Only dfctl tui sends the terminal questions.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether Out and ErrOut are terminals: TTY output
	// gets colour, aligned tables and relative times; other output is plain,
	// tab-separated, with ISO times.
	OutTTY bool
	ErrTTY bool
	// NoColor turns colour off on terminals too (NO_COLOR is set, or
	// TERM=dumb); --color always overrides it.
	NoColor bool
	// Color is --color: auto ("" too: colour on terminals unless NoColor),
	// always (colour even into a pipe) or never.
	Color string
	// Width is Out's width in cells when it is a terminal ($COLUMNS
	// overrides the terminal's own); 0 means unbounded: tables are not cut.
	Width int
	// Now is the clock for relative times (default time.Now).
	Now func() time.Time
}

// System returns the process's streams.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	s := &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		OutTTY:  isTTY(os.Stdout),
		ErrTTY:  isTTY(os.Stderr),
		NoColor: noColor || os.Getenv("TERM") == "dumb",
		Color:   ColorAuto,
	}
	if s.OutTTY {
		s.Width = termWidth(os.Stdout, os.Getenv("COLUMNS"))
	}
	return s
}

func isTTY(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// termWidth is a terminal's width: $COLUMNS when it is a positive number,
// else the terminal's size (an ioctl, no question to the terminal), else 0.
func termWidth(f *os.File, columns string) int {
	if n, err := strconv.Atoi(strings.TrimSpace(columns)); err == nil && n > 0 {
		return n
	}
	if w, _, err := term.GetSize(f.Fd()); err == nil && w > 0 {
		return w
	}
	return 0
}

func (s *IOStreams) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// colour reports whether a stream (a terminal or not) gets colour.
func (s *IOStreams) colour(tty bool) bool {
	switch s.Color {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	return tty && !s.NoColor
}

// colorValue is the --color flag: it takes auto, always or never into
// IOStreams.Color.
type colorValue struct{ s *IOStreams }

// ColorFlag is the value of the --color flag, kept in s.Color.
func (s *IOStreams) ColorFlag() pflag.Value {
	if s.Color == "" {
		s.Color = ColorAuto
	}
	return &colorValue{s}
}

func (v *colorValue) String() string { return v.s.Color }
func (v *colorValue) Type() string   { return "string" }
func (v *colorValue) Set(when string) error {
	switch when {
	case ColorAuto, ColorAlways, ColorNever:
		v.s.Color = when
		return nil
	}
	return fmt.Errorf("use auto, always or never")
}

// style is a set of SGR attributes ("1;32"); Render wraps text in them,
// line by line. The zero style (no colour) leaves text as it is.
type style struct{ sgr string }

// Render styles text.
func (st style) Render(text string) string {
	if st.sgr == "" || text == "" {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "\x1b[" + st.sgr + "m" + l + "\x1b[0m"
		}
	}
	return strings.Join(lines, "\n")
}

// styles are the colours of one stream, and its width.
type styles struct {
	bold, faint, ok, bad, warn, info, key style
	// width is the stream's width in cells, 0 when unbounded (not a
	// terminal): tables are cut to it.
	width int
}

func newStyles(colour bool, width int) styles {
	if !colour {
		return styles{width: width}
	}
	return styles{
		bold:  style{"1"},
		faint: style{"2"},
		ok:    style{"32"},
		bad:   style{"31"},
		warn:  style{"33"},
		info:  style{"36"},
		key:   style{"1;34"},
		width: width,
	}
}

// OutStyles colour stdout as --color says (by default when it is a
// terminal and colour is allowed).
func (s *IOStreams) OutStyles() styles {
	w := 0
	if s.OutTTY {
		w = s.Width
	}
	return newStyles(s.colour(s.OutTTY), w)
}

// ErrStyles colour stderr as --color says (by default when it is a
// terminal and colour is allowed).
func (s *IOStreams) ErrStyles() styles { return newStyles(s.colour(s.ErrTTY), 0) }
