package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/durablefuture/durablefuture/pkg/history"
)

func TestWriteTableFitsTheWidth(t *testing.T) {
	longID := "order-" + strings.Repeat("0123456789", 6)
	header := []string{"WORKFLOW ID", "TYPE", "STATUS", "STARTED", "TASK QUEUE"}
	st := newStyles(true, 0)
	rows := [][]string{
		{longID, "OrderFulfillmentWorkflow", st.ok.Render("✓ completed"), "1m ago", "default"},
		{"short", "T", st.info.Render("● running"), "2s ago", "default"},
	}
	for _, tc := range []struct {
		width  int
		cutID  bool
		cutTyp bool
	}{
		{width: 0},                             // not a terminal: nothing is cut
		{width: 200},                           // wide enough
		{width: 100, cutID: true},              // the widest (the ID) gives way first
		{width: 60, cutID: true, cutTyp: true}, // then the type
		{width: 20, cutID: true, cutTyp: true}, // too narrow: free text at its minimum, the rest intact
	} {
		var out bytes.Buffer
		st.width = tc.width
		writeTable(&out, st, header, rows)
		text := ansi.Strip(out.String())
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("width %d: %d lines, want 3:\n%s", tc.width, len(lines), text)
		}
		for _, l := range lines {
			if w := ansi.StringWidth(l); tc.width >= 60 && w > tc.width {
				t.Errorf("width %d: a line of %d cells: %q", tc.width, w, l)
			}
		}
		if cut := !strings.Contains(text, longID); cut != tc.cutID {
			t.Errorf("width %d: ID cut %v, want %v:\n%s", tc.width, cut, tc.cutID, text)
		}
		if cut := !strings.Contains(text, "OrderFulfillmentWorkflow"); cut != tc.cutTyp {
			t.Errorf("width %d: type cut %v, want %v:\n%s", tc.width, cut, tc.cutTyp, text)
		}
		if tc.cutID && !strings.HasPrefix(lines[1], "order-0123") || tc.cutID != strings.Contains(lines[1], "…") {
			t.Errorf("width %d: the ID is not cut with an ellipsis: %q", tc.width, lines[1])
		}
		// Statuses, times and queues are never cut; columns still line up.
		for _, want := range []string{"✓ completed", "● running", "1m ago", "default", "TASK QUEUE"} {
			if !strings.Contains(text, want) {
				t.Errorf("width %d: %q was cut:\n%s", tc.width, want, text)
			}
		}
		col := func(l, s string) int { return ansi.StringWidth(l[:strings.Index(l, s)]) }
		if col(lines[1], "1m ago") != col(lines[2], "2s ago") || col(lines[0], "STARTED") != col(lines[1], "1m ago") {
			t.Errorf("width %d: columns do not line up:\n%s", tc.width, text)
		}
		// The colour survives the cut.
		if !strings.Contains(out.String(), "\x1b[32m✓ completed\x1b[0m") {
			t.Errorf("width %d: status lost its colour: %q", tc.width, out.String())
		}
	}
}

func TestEventDetailsFitTheWidth(t *testing.T) {
	ev := history.Event{Seq: 3, Time: time.Unix(100, 0), Type: history.SignalReceived, Name: "approve",
		Input: []byte(`{"note":"` + strings.Repeat("long ", 40) + `"}`)}
	for _, width := range []int{0, 80} {
		var out bytes.Buffer
		tbl := &eventTable{w: &out, st: newStyles(false, width), aligned: true}
		tbl.row(ev)
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		row := lines[len(lines)-1]
		if w := ansi.StringWidth(row); width > 0 && w != width || width == 0 && !strings.HasSuffix(row, history.Summary(ev)) {
			t.Errorf("width %d: a row of %d cells: %q", width, w, row)
		}
		if width > 0 && !strings.HasSuffix(row, "…") {
			t.Errorf("width %d: the details are not cut with an ellipsis: %q", width, row)
		}
	}
}

func TestColourModes(t *testing.T) {
	for _, tc := range []struct {
		color          string
		tty, noColor   bool
		want           bool
		tuiNo          bool
		tuiAtLeastANSI bool
	}{
		{color: "", tty: true, want: true},
		{color: ColorAuto, tty: true, want: true},
		{color: ColorAuto, tty: false, want: false, tuiNo: false},
		{color: ColorAuto, tty: true, noColor: true, want: false, tuiNo: true},
		{color: ColorAlways, tty: false, want: true, tuiAtLeastANSI: true},
		{color: ColorAlways, tty: true, noColor: true, want: true, tuiAtLeastANSI: true},
		{color: ColorNever, tty: true, want: false, tuiNo: true},
	} {
		ios := &IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}, OutTTY: tc.tty, ErrTTY: tc.tty, NoColor: tc.noColor, Color: tc.color}
		got := ios.OutStyles().ok.Render("x") != "x"
		if got != tc.want || (ios.ErrStyles().bad.Render("x") != "x") != tc.want {
			t.Errorf("--color %q tty %v NO_COLOR %v: colour %v, want %v", tc.color, tc.tty, tc.noColor, got, tc.want)
		}
		no, profile := tuiColor(ios)
		if no != tc.tuiNo || tc.tuiAtLeastANSI != (profile >= colorprofile.ANSI) {
			t.Errorf("--color %q tty %v NO_COLOR %v: tui no colour %v profile %v", tc.color, tc.tty, tc.noColor, no, profile)
		}
	}
}

func TestColorFlag(t *testing.T) {
	ios := &IOStreams{}
	f := ios.ColorFlag()
	if f.String() != ColorAuto {
		t.Fatalf("default %q, want auto", f.String())
	}
	for _, v := range []string{ColorAlways, ColorNever, ColorAuto} {
		if err := f.Set(v); err != nil || ios.Color != v {
			t.Errorf("Set(%q): %v, Color %q", v, err, ios.Color)
		}
	}
	if err := f.Set("sometimes"); err == nil || ios.Color != ColorAuto {
		t.Errorf("Set(sometimes): %v, Color %q", err, ios.Color)
	}
}

func TestTermWidth(t *testing.T) {
	if w := termWidth(nil, "123"); w != 123 {
		t.Errorf("COLUMNS=123: width %d", w)
	}
	for _, c := range []string{"", "0", "-4", "wide"} {
		if w := termWidth(nil, c); w != 0 {
			t.Errorf("COLUMNS=%q and no terminal: width %d, want 0", c, w)
		}
	}
}
