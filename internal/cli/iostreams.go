package cli

import (
	"io"
	"os"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
)

// IOStreams are a command's standard streams and what is known about them.
// Data goes to Out; progress, hints and errors go to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether Out and ErrOut are terminals: TTY output
	// gets colour, aligned tables and relative times; other output is plain,
	// tab-separated, with ISO times.
	OutTTY bool
	ErrTTY bool
	// NoColor turns colour off on terminals too (NO_COLOR is set).
	NoColor bool
	// Now is the clock for relative times (default time.Now).
	Now func() time.Time
}

// System returns the process's streams.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		OutTTY:  isatty.IsTerminal(os.Stdout.Fd()) || isatty.IsCygwinTerminal(os.Stdout.Fd()),
		ErrTTY:  isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd()),
		NoColor: noColor || os.Getenv("TERM") == "dumb",
	}
}

func (s *IOStreams) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// styles are the colours of one stream.
type styles struct {
	bold, faint, ok, bad, warn, info, key lipgloss.Style
}

func newStyles(w io.Writer, colour bool) styles {
	r := lipgloss.NewRenderer(w)
	if colour {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return styles{
		bold:  r.NewStyle().Bold(true),
		faint: r.NewStyle().Faint(true),
		ok:    r.NewStyle().Foreground(lipgloss.Color("2")),
		bad:   r.NewStyle().Foreground(lipgloss.Color("1")),
		warn:  r.NewStyle().Foreground(lipgloss.Color("3")),
		info:  r.NewStyle().Foreground(lipgloss.Color("6")),
		key:   r.NewStyle().Foreground(lipgloss.Color("4")).Bold(true),
	}
}

// OutStyles colour stdout when it is a terminal and colour is allowed.
func (s *IOStreams) OutStyles() styles { return newStyles(s.Out, s.OutTTY && !s.NoColor) }

// ErrStyles colour stderr when it is a terminal and colour is allowed.
func (s *IOStreams) ErrStyles() styles { return newStyles(s.ErrOut, s.ErrTTY && !s.NoColor) }
