package engine

import (
	"bytes"
	"log/slog"
	"testing"
)

// TestWithLazyWritesAsWith: a lazy logger writes the same lines as With,
// attributes first, through groups and further With calls, and honours
// the handler's level.
func TestWithLazyWritesAsWith(t *testing.T) {
	var eager, lazy bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	e := slog.New(slog.NewTextHandler(&eager, opts)).With("worker", "w1")
	l := slog.New(slog.NewTextHandler(&lazy, opts)).With("worker", "w1")
	e, l = e.With("run_id", "r1", "input", "start"), withLazy(l, "run_id", "r1", "input", "start")
	for _, lg := range []*slog.Logger{e, l} {
		lg.Debug("hidden", "k", 1)
		lg.Warn("decided", "k", 2)
		lg.With("extra", true).Info("with", "k", 3)
		lg.WithGroup("g").Error("grouped", "k", 4)
	}
	if eager.String() != lazy.String() {
		t.Fatalf("lazy logger wrote\n%s\nWith wrote\n%s", lazy.String(), eager.String())
	}
	if !bytes.Contains(lazy.Bytes(), []byte("level=WARN msg=decided worker=w1 run_id=r1 input=start k=2")) {
		t.Fatalf("unexpected lines:\n%s", lazy.String())
	}
}
