package testsrv

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogRecord is one line a captured logger wrote: its attributes (groups
// joined with ".") as text.
type LogRecord struct {
	Time  time.Time
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// Logs holds what a captured logger wrote, for assertions on a worker's
// log lines.
type Logs struct {
	mu   sync.Mutex
	recs []LogRecord
}

// CaptureLogs returns a logger that writes through t.Log (as Logger does)
// and keeps every record for the test to inspect.
func CaptureLogs(t testing.TB) (*slog.Logger, *Logs) {
	l := &Logs{}
	return slog.New(&captureHandler{logs: l, next: Logger(t).Handler()}), l
}

// Records returns the records kept so far that match (all when match is nil).
func (l *Logs) Records(match func(LogRecord) bool) []LogRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []LogRecord
	for _, r := range l.recs {
		if match == nil || match(r) {
			out = append(out, r)
		}
	}
	return out
}

// Count returns how many records match.
func (l *Logs) Count(match func(LogRecord) bool) int { return len(l.Records(match)) }

type captureHandler struct {
	logs   *Logs
	next   slog.Handler
	attrs  []slog.Attr // keys already prefixed with their groups
	groups []string
}

func (h *captureHandler) key(k string) string {
	if len(h.groups) == 0 {
		return k
	}
	return strings.Join(h.groups, ".") + "." + k
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	rec := LogRecord{Time: r.Time, Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { rec.Attrs[h.key(a.Key)] = a.Value.String(); return true })
	h.logs.mu.Lock()
	h.logs.recs = append(h.logs.recs, rec)
	h.logs.mu.Unlock()
	return h.next.Handle(ctx, r)
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = append(c.attrs, slog.Attr{Key: h.key(a.Key), Value: a.Value})
	}
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.groups = append(append([]string(nil), h.groups...), name)
	c.next = h.next.WithGroup(name)
	return &c
}
