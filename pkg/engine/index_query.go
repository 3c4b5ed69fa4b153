package engine

// Queries of the visibility index (index.go): pages newest first, scans,
// counts. The server narrows by status, type and task queue (the subject
// filter) and counts what matches (Nats-Num-Pending of a batched direct
// get); the ID prefix and exact time bounds are checked here, over the
// entries the server narrowed.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clockMargin: an index message is stored after the change it records, so
// its stream time bounds the run's start (running) or close (closed) time
// from above; the margin allows for the writer's clock running ahead of
// the server's.
const clockMargin = 10 * time.Minute

// indexBatchSize is how many entries one request of a scan reads.
const indexBatchSize = 1000

// RunPage is one page of runs, newest first.
type RunPage struct {
	Runs []RunInfo
	// Total is how many runs match the filter, on every page.
	Total int
	// Next is the cursor of the next (older) page: ListFilter.After. Empty
	// on the last page.
	Next string
}

// RunCount is one group of CountRunsBy.
type RunCount struct {
	Status Status `json:"status"`
	Type   string `json:"type"`
	Count  int    `json:"count"`
}

// CountStatuses are the groups CountRunsBy counts, in order: a partition
// of the runs (running counts the running runs that are not blocked).
var CountStatuses = []Status{StatusRunning, StatusBlocked, StatusCompleted, StatusFailed, StatusCanceled,
	StatusTerminated, StatusTimedOut, StatusContinuedAsNew}

// ValidateStatusFilter says what is wrong with a status filter, if anything.
func ValidateStatusFilter(st Status) error {
	if st == "" || slices.Contains(CountStatuses, st) {
		return nil
	}
	return invalidf("status %q: use running, blocked, completed, failed, canceled, terminated, timed_out or continued_as_new", st)
}

// matches checks every field of f against ri (the server checked some).
func (f *ListFilter) matches(ri *RunInfo) bool {
	switch f.Status {
	case "":
	case StatusBlocked:
		if ri.Status != StatusRunning || ri.Blocked == "" {
			return false
		}
	default:
		if ri.Status != f.Status {
			return false
		}
	}
	if f.Type != "" && ri.Type != f.Type || f.TaskQueue != "" && ri.TaskQueue != f.TaskQueue ||
		f.IDPrefix != "" && !strings.HasPrefix(ri.WorkflowID, f.IDPrefix) {
		return false
	}
	if !f.StartedAfter.IsZero() && ri.StartTime.Before(f.StartedAfter) ||
		!f.StartedBefore.IsZero() && !ri.StartTime.Before(f.StartedBefore) {
		return false
	}
	if !f.ClosedAfter.IsZero() || !f.ClosedBefore.IsZero() {
		if ri.CloseTime == nil {
			return false
		}
		if !f.ClosedAfter.IsZero() && ri.CloseTime.Before(f.ClosedAfter) ||
			!f.ClosedBefore.IsZero() && !ri.CloseTime.Before(f.ClosedBefore) {
			return false
		}
	}
	return true
}

// clientSide says whether f has conditions the server cannot check.
func (f *ListFilter) clientSide() bool {
	return f.IDPrefix != "" || !f.StartedAfter.IsZero() || !f.StartedBefore.IsZero() ||
		!f.ClosedAfter.IsZero() || !f.ClosedBefore.IsZero()
}

// since is the earliest stream time an index message matching f can have
// (nil: no bound): every lower time bound of f, less the clock margin.
func (f *ListFilter) since() *time.Time {
	t := f.StartedAfter
	if f.ClosedAfter.After(t) {
		t = f.ClosedAfter
	}
	if t.IsZero() {
		return nil
	}
	t = t.Add(-clockMargin)
	return &t
}

func (f *ListFilter) validate() error {
	if err := ValidateStatusFilter(f.Status); err != nil {
		return err
	}
	if f.Limit < 0 {
		return invalidf("limit %d: use 0 (no limit) or more", f.Limit)
	}
	return nil
}

// Cursors are opaque to users: a version letter and the index stream
// sequence of the oldest run of the page before, in base 36.
func encodeCursor(seq uint64) string { return "c" + strconv.FormatUint(seq, 36) }

func decodeCursor(c string) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	if rest, ok := strings.CutPrefix(c, "c"); ok {
		if seq, err := strconv.ParseUint(rest, 36, 64); err == nil && seq > 0 {
			return seq, nil
		}
	}
	return 0, invalidf("cursor %q: pass the cursor a previous page printed (next page: --after CURSOR), unchanged", c)
}

func decodeEntry(msg *jetstream.RawStreamMsg) (RunInfo, bool) {
	var ri RunInfo
	if unmarshalRunInfo(msg.Data, &ri) != nil || ri.WorkflowID == "" {
		return ri, false
	}
	return ri, true
}

// countFrom is how many index messages match filter at or after seq, and
// the sequence of the first (0: none).
func (s *Store) countFrom(ctx context.Context, filter string, seq uint64) (n, first uint64, err error) {
	msg, pending, err := s.firstIndexMsg(ctx, filter, seq)
	if err != nil || msg == nil {
		return 0, 0, err
	}
	return 1 + pending, msg.Sequence, nil
}

// indexFor returns the index stream or the error saying there is none.
func (s *Store) indexFor(ctx context.Context) (jetstream.Stream, error) {
	idx, err := s.runIndex(ctx)
	if err != nil {
		return nil, err
	}
	if idx == nil {
		return nil, s.errNoIndex()
	}
	return idx, nil
}

// ScanRuns calls fn with every run that matches f (the latest run of each
// workflow ID), in the order of their last change, oldest first, reading
// the index in batches. f.Limit and f.After are ignored. An error from fn
// stops the scan and is returned.
func (s *Store) ScanRuns(ctx context.Context, f ListFilter, fn func(*RunInfo) error) error {
	if err := f.validate(); err != nil {
		return err
	}
	if _, err := s.indexFor(ctx); err != nil {
		return err
	}
	filter := s.idxFilter(f.Status, f.Type, f.TaskQueue)
	since, seq := f.since(), uint64(1)
	for {
		msgs, pending, err := s.indexBatch(ctx, filter, seq, since, indexBatchSize)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if ri, ok := decodeEntry(m); ok && f.matches(&ri) {
				if err := fn(&ri); err != nil {
					return err
				}
			}
		}
		if len(msgs) == 0 || pending == 0 {
			return nil
		}
		seq, since = msgs[len(msgs)-1].Sequence+1, nil
	}
}

// CountRuns returns how many runs match f: one request when the server can
// check all of f, else a scan of the entries it narrows.
func (s *Store) CountRuns(ctx context.Context, f ListFilter) (int, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	if _, err := s.indexFor(ctx); err != nil {
		return 0, err
	}
	if f.clientSide() {
		n := 0
		err := s.ScanRuns(ctx, f, func(*RunInfo) error { n++; return nil })
		return n, err
	}
	n, _, err := s.countFrom(ctx, s.idxFilter(f.Status, f.Type, f.TaskQueue), 1)
	return int(n), err
}

// CountRunsBy counts the runs that match f by status (CountStatuses) and
// type, with concurrent server-side counts; groups with no run are left
// out. total is their sum.
func (s *Store) CountRunsBy(ctx context.Context, f ListFilter) (groups []RunCount, total int, err error) {
	if err := f.validate(); err != nil {
		return nil, 0, err
	}
	if _, err := s.indexFor(ctx); err != nil {
		return nil, 0, err
	}
	statuses := CountStatuses
	switch f.Status {
	case "":
	case StatusRunning:
		statuses = []Status{StatusRunning, StatusBlocked}
	default:
		statuses = []Status{f.Status}
	}
	if f.clientSide() {
		counts := map[RunCount]int{}
		err := s.ScanRuns(ctx, f, func(ri *RunInfo) error {
			st := ri.Status
			if st == StatusRunning && ri.Blocked != "" {
				st = StatusBlocked
			}
			counts[RunCount{Status: st, Type: ri.Type}]++
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		for g, n := range counts {
			g.Count = n
			groups = append(groups, g)
			total += n
		}
		sortCounts(groups)
		return groups, total, nil
	}
	types := []string{f.Type}
	if f.Type == "" {
		if types, err = s.indexedTypes(ctx); err != nil {
			return nil, 0, err
		}
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		sem  = make(chan struct{}, 8)
	)
	for _, st := range statuses {
		for _, typ := range types {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				filter := s.idxFilter(st, typ, f.TaskQueue)
				if st == StatusRunning {
					filter = strings.Replace(filter, ".idx.running.*.", ".idx.running."+idxFlagOK+".", 1)
				}
				n, _, err := s.countFrom(ctx, filter, 1)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if n > 0 {
					groups = append(groups, RunCount{Status: st, Type: typ, Count: int(n)})
					total += int(n)
				}
			})
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, 0, errs[0]
	}
	sortCounts(groups)
	return groups, total, nil
}

func sortCounts(groups []RunCount) {
	slices.SortFunc(groups, func(a, b RunCount) int {
		if c := slices.Index(CountStatuses, a.Status) - slices.Index(CountStatuses, b.Status); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type)
	})
}

// indexedTypes lists the workflow types the index has recorded.
func (s *Store) indexedTypes(ctx context.Context) ([]string, error) {
	var types []string
	for seq := uint64(1); ; {
		msgs, pending, err := s.indexBatch(ctx, s.Config.Prefix+".idxtype.*", seq, nil, indexBatchSize)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			types = append(types, string(m.Data))
		}
		if len(msgs) == 0 || pending == 0 {
			slices.Sort(types)
			return slices.Compact(types), nil
		}
		seq = msgs[len(msgs)-1].Sequence + 1
	}
}

// PageRuns returns the runs that match f, most recently changed first, at
// most f.Limit of them (0: all), older than the cursor f.After; Next is the
// cursor of the next page.
func (s *Store) PageRuns(ctx context.Context, f ListFilter) (*RunPage, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	before, err := decodeCursor(f.After)
	if err != nil {
		return nil, err
	}
	idx, err := s.indexFor(ctx)
	if err != nil {
		return nil, err
	}
	page := &RunPage{Runs: []RunInfo{}}
	filter := s.idxFilter(f.Status, f.Type, f.TaskQueue)
	matching, first, err := s.countFrom(ctx, filter, 1)
	if err != nil {
		return nil, err
	}
	page.Total = int(matching)
	if f.clientSide() && matching > 0 {
		if page.Total, err = s.CountRuns(ctx, f); err != nil {
			return nil, err
		}
	}
	if page.Total == 0 {
		return page, nil
	}
	info, err := idx.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("runs index: %w", unavailable(err))
	}
	if before == 0 || before > info.State.LastSeq+1 {
		before = info.State.LastSeq + 1
	}
	since := f.since()
	limit := f.Limit
	if limit == 0 {
		limit = page.Total
	}
	// One more than the page, to know whether there is a next page.
	want := limit + 1
	var seqs []uint64
	for len(page.Runs) < want && before > first {
		need := want - len(page.Runs)
		// Where matches are dense, reading sequences back from the end is
		// cheapest; where they are sparse, counting finds them (each count
		// costs the server a pass over the matching subjects).
		expected := uint64(need) * max(info.State.Msgs, 1) / matching
		var win []*jetstream.RawStreamMsg
		low := before
		if expected <= 256 {
			chunk := min(max(2*expected+16, 32), 1024)
			if win, low, err = s.scanBack(ctx, filter, before, first, need, chunk, 1024); err != nil {
				return nil, err
			}
		}
		if len(win) < need && low > first {
			asc, err := s.newestWindow(ctx, filter, low, need-len(win), matching, first)
			if err != nil {
				return nil, err
			}
			for i := len(asc) - 1; i >= 0; i-- {
				win = append(win, asc[i])
			}
			low = first
			if len(asc) > 0 {
				low = asc[0].Sequence
			}
		}
		for _, m := range win {
			if len(page.Runs) == want {
				break
			}
			if since != nil && m.Time.Before(*since) {
				low = first // older entries are older still: none matches
				break
			}
			if ri, ok := decodeEntry(m); ok && f.matches(&ri) {
				page.Runs = append(page.Runs, ri)
				seqs = append(seqs, m.Sequence)
			}
		}
		if len(win) == 0 {
			break
		}
		before = low
	}
	if len(page.Runs) > limit {
		page.Runs = page.Runs[:limit]
		page.Next = encodeCursor(seqs[limit-1])
	}
	return page, nil
}

// newestWindow returns, oldest first, the newest n (or more) index
// messages matching filter with a sequence below before (total match the
// filter, the first at sequence first). It counts
// matches from a probe sequence (one request each) to find a window
// holding between n and a few times n of them, then reads that window.
func (s *Store) newestWindow(ctx context.Context, filter string, before uint64, n int, total, first uint64) ([]*jetstream.RawStreamMsg, error) {
	after, _, err := s.countFrom(ctx, filter, before)
	if err != nil {
		return nil, err
	}
	if total <= after || first >= before {
		return nil, nil
	}
	avail := total - after // matches below before
	want := uint64(n)
	start, count := first, avail
	if avail > want {
		most := 4*want + 64
		// lo holds at least want matches below before, hi fewer.
		lo, hi := first, before
		// First guess: matches spread evenly over the sequences.
		span := (before - first) * min(2*want, avail) / avail
		probe := before - max(span, 1)
		found := false
		for range 64 {
			c, at, err := s.countFrom(ctx, filter, probe)
			if err != nil {
				return nil, err
			}
			if at == 0 || at >= before {
				c, at = after, before
			}
			in := c - after
			if in >= want && in <= most {
				start, count, found = at, in, true
				break
			}
			if in < want {
				hi = probe
			} else {
				lo = at
			}
			if hi-lo <= 1 {
				break
			}
			probe = lo + (hi-lo)/2
		}
		if !found { // lo holds enough matches, maybe many
			c, at, err := s.countFrom(ctx, filter, lo)
			if err != nil {
				return nil, err
			}
			start, count = at, c-after
		}
	}
	var out []*jetstream.RawStreamMsg
	for seq := start; uint64(len(out)) < count; {
		msgs, pending, err := s.indexBatch(ctx, filter, seq, nil, int(min(count-uint64(len(out)), indexBatchSize)))
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Sequence < before {
				out = append(out, m)
			}
		}
		if len(msgs) == 0 || pending == 0 || msgs[len(msgs)-1].Sequence >= before {
			break
		}
		seq = msgs[len(msgs)-1].Sequence + 1
	}
	return out, nil
}

// scanBack reads the index messages below before by exact sequence,
// newest first, in pipelined chunks (a direct get of one sequence costs
// the server nothing like a filtered count), and keeps those whose subject
// matches filter, until it has n of them, reaches first, or has read
// budget sequences. It returns them newest first and the lowest sequence
// read.
func (s *Store) scanBack(ctx context.Context, filter string, before, first uint64, n int, chunk, budget uint64) ([]*jetstream.RawStreamMsg, uint64, error) {
	subj := s.indexDirectGet()
	pattern := strings.Split(filter, ".")
	inbox := s.NC.NewRespInbox()
	sub, err := s.NC.SubscribeSync(inbox + ".*")
	if err != nil {
		return nil, before, fmt.Errorf("runs index: %w", err)
	}
	defer sub.Unsubscribe()
	var out []*jetstream.RawStreamMsg
	read := uint64(0)
	for before > first && len(out) < n && read < budget {
		lo := first
		if before-first > chunk {
			lo = before - chunk
		}
		k := int(before - lo)
		for i := range k {
			req := `{"seq":` + strconv.FormatUint(lo+uint64(i), 10) + `}`
			if err := s.NC.PublishRequest(subj, inbox+"."+strconv.Itoa(i), []byte(req)); err != nil {
				return nil, before, fmt.Errorf("runs index: %w", err)
			}
		}
		got := make([]*jetstream.RawStreamMsg, k)
		for range k {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				return nil, before, fmt.Errorf("runs index: read by sequence: %w", unavailable(err))
			}
			i, err := strconv.Atoi(m.Subject[len(inbox)+1:])
			if err != nil || i < 0 || i >= k || m.Header.Get("Status") != "" || !subjectMatches(m.Header.Get(jetstream.SubjectHeader), pattern) {
				continue // a gap (a purged older entry), or another status, type, queue
			}
			got[i] = directMsg(m)
		}
		for i := k - 1; i >= 0; i-- {
			if got[i] != nil {
				out = append(out, got[i])
			}
		}
		read += uint64(k)
		before = lo
		chunk = min(chunk*2, 1024)
	}
	return out, before, nil
}

// directMsg is the stream message a direct get answered with (its
// subject, sequence and time are headers).
func directMsg(m *nats.Msg) *jetstream.RawStreamMsg {
	seq, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	t, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	return &jetstream.RawStreamMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: seq, Header: m.Header, Data: m.Data, Time: t}
}

// indexDirectGet is the direct-get API subject of the index stream.
func (s *Store) indexDirectGet() string {
	api := "$JS.API."
	if o := s.JS.Options(); o.APIPrefix != "" {
		api = strings.TrimSuffix(o.APIPrefix, ".") + "."
	} else if o.Domain != "" {
		api = "$JS." + o.Domain + ".API."
	}
	return api + "DIRECT.GET." + s.indexStream()
}

// subjectMatches matches a subject against a filter split in tokens, with
// '*' wildcards only.
func subjectMatches(subj string, pattern []string) bool {
	for i, p := range pattern {
		tok, rest, _ := strings.Cut(subj, ".")
		if p != "*" && p != tok || tok == "" {
			return false
		}
		if i == len(pattern)-1 {
			return rest == "" && !strings.Contains(subj, ".")
		}
		subj = rest
	}
	return false
}
