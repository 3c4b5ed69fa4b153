package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// handleLive streams a run's new records as server-sent events while the
// page is open: "record" (id: the record's stream sequence, data: how many
// events it holds) for each record stored after ?after=N, "closed" when a
// record closes the run. The page reads itself again on each; a browser
// that reconnects sends Last-Event-ID and misses nothing.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	id, runID := r.PathValue("id"), r.PathValue("run")
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			after = n
		}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A stream lives as long as the page; no write deadline.
	_ = rc.SetWriteDeadline(time.Time{})
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	type item struct {
		rec history.Record
		err error
	}
	recs := make(chan item)
	go func() {
		defer close(recs)
		for rec, err := range s.o.Source.Follow(ctx, id, runID, after) {
			select {
			case recs <- item{rec, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	beat := time.NewTicker(s.o.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case it, ok := <-recs:
			if !ok {
				return
			}
			if it.err != nil {
				s.o.Logger.Warn("web: follow", "workflow_id", id, "run_id", runID, "err", it.err)
				fmt.Fprintf(w, "event: problem\ndata: %s\n\n", oneLine(it.err.Error()))
				_ = rc.Flush()
				return
			}
			fmt.Fprintf(w, "id: %d\nevent: record\ndata: %d\n\n", it.rec.StreamSeq, len(it.rec.Events))
			if it.rec.Closes() {
				fmt.Fprint(w, "event: closed\ndata: closed\n\n")
				_ = rc.Flush()
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
