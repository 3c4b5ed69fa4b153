package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/engine"
)

func TestConfirm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"y\n", true}, {"Yes\n", true}, {" y ", true},
		{"\n", false}, {"", false}, {"n\n", false}, {"yep\n", false},
	} {
		var prompt bytes.Buffer
		got, err := confirm(strings.NewReader(tc.in), &prompt, "Terminate 3 runs?")
		if err != nil || got != tc.want {
			t.Errorf("confirm(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if prompt.String() != "Terminate 3 runs? [y/N] " {
			t.Errorf("prompt %q", prompt.String())
		}
	}
}

func TestPreviewIDs(t *testing.T) {
	runs := make([]engine.RunInfo, 7)
	for i := range runs {
		runs[i].WorkflowID = string(rune('a' + i))
	}
	if got := previewIDs(runs); got != "a, b, c, d, e and 2 more" {
		t.Errorf("previewIDs(7) = %q", got)
	}
	if got := previewIDs(runs[:2]); got != "a, b" {
		t.Errorf("previewIDs(2) = %q", got)
	}
}

func TestBatchProgress(t *testing.T) {
	var w bytes.Buffer
	p := &batchProgress{w: &w, on: true, verb: "terminate", total: 3}
	p.done(false)
	p.done(true)
	p.clear()
	want := "\r\x1b[Kterminate 1/3\r\x1b[Kterminate 2/3 (1 failed)\r\x1b[K"
	if w.String() != want {
		t.Errorf("progress %q, want %q", w.String(), want)
	}
	w.Reset()
	off := &batchProgress{w: &w, on: false, verb: "terminate", total: 3}
	off.done(false)
	off.clear()
	if w.Len() != 0 {
		t.Errorf("progress off a terminal wrote %q", w.String())
	}
}
