package history

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// ErrConflict is returned by Append when another writer appended to the run
// first: the caller must re-read the tail and decide again.
var ErrConflict = errors.New("history: run was appended to concurrently")

// ErrNotFound is returned when a run has no history.
var ErrNotFound = errors.New("history: run not found")

// MaxWorkflowIDLen bounds workflow IDs so that subjects and keys stay small.
const MaxWorkflowIDLen = 200

// EncodeID maps a workflow ID (any non-empty UTF-8 string up to
// MaxWorkflowIDLen bytes) to a token valid in a NATS subject and a KV key.
// IDs made of letters, digits, '-' and '_' map to themselves; any other ID is
// written as '=' followed by its unpadded base64url form, so the mapping is
// reversible and never produces a malformed subject.
func EncodeID(id string) (string, error) {
	if err := ValidateWorkflowID(id); err != nil {
		return "", err
	}
	if isToken(id) { // not empty: validated above
		return id, nil
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(id)), nil
}

// DecodeID reverses EncodeID.
func DecodeID(tok string) (string, error) {
	if rest, ok := strings.CutPrefix(tok, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("history: bad encoded workflow id %q: %w", tok, err)
		}
		return string(b), nil
	}
	return tok, nil
}

// ValidateRunID says what is wrong with a run ID, if anything: run IDs
// are made by the engine (UUIDs) and are one subject token.
func ValidateRunID(id string) error {
	if id == "" || len(id) > 100 || !isToken(id) {
		return fmt.Errorf("run ID %q: use the run ID the engine gave (letters, digits, '-' and '_')", id)
	}
	return nil
}

// isToken: letters, digits, '-' and '_' only (a loop, not a regexp: it
// runs for every subject the engine builds).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidateWorkflowID says what is wrong with a workflow ID, if anything.
func ValidateWorkflowID(id string) error {
	switch {
	case id == "":
		return errors.New("workflow ID is empty")
	case len(id) > MaxWorkflowIDLen:
		return fmt.Errorf("workflow ID is %d bytes long; the limit is %d", len(id), MaxWorkflowIDLen)
	case !isPrintable(id):
		return fmt.Errorf("workflow ID %q contains control characters or invalid UTF-8", id)
	}
	return nil
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// Log reads and appends run histories in one JetStream stream whose
// subjects are SubjectPrefix + ".<encoded workflow id>.<run id>", or, with
// Partitions > 1, in that many streams (Streams), the run of a workflow ID
// in partition k = Partition(id, Partitions) under
// SubjectPrefix + ".<k>.<encoded workflow id>.<run id>".
type Log struct {
	JS            jetstream.JetStream
	Stream        string
	SubjectPrefix string
	// Partitions is the number of history streams (0 or 1: one, Stream).
	Partitions int
	// Streams names the stream of each partition when Partitions > 1.
	Streams []string

	blobs blobReader // out-of-line payloads (payload.go)
	// LeaderCheck: the stream is replicated, and a direct get may be
	// answered by a replica that is behind; a full read is then checked
	// against the subject's last sequence as the stream leader knows it.
	LeaderCheck bool
}

// Subject is the subject holding one run's history.
func (l *Log) Subject(workflowID, runID string) (string, error) {
	tok, err := EncodeID(workflowID)
	if err != nil {
		return "", err
	}
	if err := ValidateRunID(runID); err != nil {
		return "", err
	}
	if l.Partitions > 1 {
		return l.SubjectPrefix + "." + strconv.Itoa(Partition(workflowID, l.Partitions)) + "." + tok + "." + runID, nil
	}
	return l.SubjectPrefix + "." + tok + "." + runID, nil
}

// Partition places a workflow ID in one of n partitions: FNV-1a of the ID,
// modulo n. It never changes for an ID (runs, continue-as-new and resets of
// one workflow ID share a partition), across restarts and builds.
func Partition(workflowID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(workflowID))
	return int(h.Sum32() % uint32(n))
}

// StreamOf is the stream holding subject (a run's, or one beside it).
func (l *Log) StreamOf(subject string) string {
	if l.Partitions <= 1 || len(l.Streams) != l.Partitions {
		return l.Stream
	}
	rest, ok := strings.CutPrefix(subject, l.SubjectPrefix+".")
	if !ok {
		return l.Stream
	}
	tok, _, _ := strings.Cut(rest, ".")
	k, err := strconv.Atoi(tok)
	if err != nil || k < 0 || k >= l.Partitions {
		return l.Stream
	}
	return l.Streams[k]
}

// AllStreams names every history stream.
func (l *Log) AllStreams() []string {
	if l.Partitions > 1 && len(l.Streams) == l.Partitions {
		return l.Streams
	}
	return []string{l.Stream}
}

// RunsFilter is the subject filter, in stream, of the runs of workflow ID
// key (encoded) and of what is stored beside them.
func (l *Log) RunsFilter(workflowID string) (string, error) {
	tok, err := EncodeID(workflowID)
	if err != nil {
		return "", err
	}
	if l.Partitions > 1 {
		return l.SubjectPrefix + "." + strconv.Itoa(Partition(workflowID, l.Partitions)) + "." + tok + ".>", nil
	}
	return l.SubjectPrefix + "." + tok + ".>", nil
}

// SignalSubject is the subject of the signals accepted for one run, beside
// (not inside) the run's history subject.
func (l *Log) SignalSubject(workflowID, runID string) (string, error) {
	subj, err := l.Subject(workflowID, runID)
	if err != nil {
		return "", err
	}
	return subj + ".sig", nil
}

// ErrClosed is returned by Append for a run whose log ends with its close
// event: nothing may follow a close.
var ErrClosed = errors.New("history: the run is closed; nothing may be appended after its close event")

// Tail is what a writer knows of a run's log when it appends: the stream
// sequence of the last record (0: none yet) and whether that record closed
// the run. The server checks Seq (no one appended since); Append checks
// Closed, so no caller can write after a close.
type Tail struct {
	Seq    uint64
	Closed bool
}

// TailOf is the tail of a log read in full.
func TailOf(recs []Record) Tail {
	if len(recs) == 0 {
		return Tail{}
	}
	last := recs[len(recs)-1]
	return Tail{Seq: last.StreamSeq, Closed: last.Closes()}
}

// Closes reports whether the record holds a close event.
func (r *Record) Closes() bool {
	for _, ev := range r.Events {
		if ev.Type.IsClosing() {
			return true
		}
	}
	return false
}

// Append writes rec as one message on the run's subject if and only if the
// subject's last stream sequence is still tail.Seq (0: no message yet) and
// the log is not closed. It returns the new message's stream sequence, or
// ErrConflict, or ErrClosed.
func (l *Log) Append(ctx context.Context, subject string, tail Tail, rec *Record) (uint64, error) {
	return l.AppendWithHeader(ctx, subject, tail, rec, nil)
}

// AppendWithHeader is Append, with the headers hdr (not part of the
// record: a hint for its first reader, which LastWithHeader returns) on
// the message.
func (l *Log) AppendWithHeader(ctx context.Context, subject string, tail Tail, rec *Record, hdr nats.Header) (uint64, error) {
	if tail.Closed {
		return 0, fmt.Errorf("append to %s after seq %d: %w", subject, tail.Seq, ErrClosed)
	}
	expectLast := tail.Seq
	data, err := l.encodeRecord(ctx, subject, rec) // large payloads go out of line first (payload.go)
	if err != nil {
		return 0, err
	}
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	for k, v := range hdr {
		m.Header[k] = v
	}
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expectLast, 10))
	ack, err := l.JS.PublishMsg(ctx, m) // no options: FastPublish's path
	if err != nil {
		if IsWrongLastSeq(err) {
			return 0, ErrConflict
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return 0, fmt.Errorf("history: record of %d bytes exceeds the server's max payload: %w: %w", len(data), ErrRecordTooLarge, err)
		}
		if IsStorageFull(err) {
			return 0, fmt.Errorf("history: append to %s: %w: %w", subject, ErrStorageFull, err)
		}
		return 0, fmt.Errorf("history: append to %s: %w", subject, err)
	}
	rec.StreamSeq = ack.Sequence
	return ack.Sequence, nil
}

// ErrStorageFull is wrapped by Append when JetStream has no room for the
// record: the server's or account's storage limit, or the stream's own.
var ErrStorageFull = errors.New("JetStream storage is full")

// storageFullCodes are the JetStream API errors that mean "no room": 10023
// insufficient resources (a 503 on publish), 10047 / 10028 storage / memory
// resources exceeded, 10002 account limits; 10077 when the store failed
// for a stream limit (maximum bytes or messages).
var storageFullCodes = []jetstream.ErrorCode{10023, 10047, 10028, 10002}

// IsStorageFull reports whether err is JetStream saying it has no room.
func IsStorageFull(err error) bool {
	_, ok := StorageFull(err)
	return ok
}

// StorageFull reports whether err is JetStream saying it has no room, with
// the server's description of the limit it hit.
func StorageFull(err error) (string, bool) {
	var apiErr *jetstream.APIError
	var je jetstream.JetStreamError
	switch {
	case errors.As(err, &je) && je.APIError() != nil:
		apiErr = je.APIError()
	case errors.As(err, &apiErr):
	case errors.Is(err, ErrStorageFull):
		return ErrStorageFull.Error(), true
	default:
		return "", false
	}
	if slices.Contains(storageFullCodes, apiErr.ErrorCode) ||
		apiErr.ErrorCode == 10077 && (strings.Contains(apiErr.Description, "maximum bytes") || strings.Contains(apiErr.Description, "maximum messages")) {
		return apiErr.Description, true
	}
	return "", false
}

// IsWrongLastSeq reports whether err is JetStream's answer to a stale
// expected sequence (10071, or 10164 on a replicated stream).
func IsWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// ReadRaw returns the messages stored on subject after stream sequence
// after, in order.
func (l *Log) ReadRaw(ctx context.Context, subject string, after uint64) ([]*jetstream.RawStreamMsg, error) {
	return l.readRaw(ctx, subject, after, 0)
}

// ErrIncompleteRead is returned when a read of a subject could not be
// proven complete: a request timed out, the server stalled or an answer was
// cut short. It is never an absence: the caller retries later.
var ErrIncompleteRead = errors.New("history: read incomplete (server unavailable or too slow); retry")

// readRaw reads up to limit messages (0: all) with batched direct gets.
//
// A read is complete only by the stream's own word: every message of a
// batched get carries the number of messages still pending on the subject
// after it (Nats-Num-Pending) and the sequence of the message sent before it
// in the batch (Nats-Last-Sequence); a read ends when the last message says
// nothing is pending, or when the first answer is the server's 404 (no
// message on the subject at or after the sequence). A batch that ends
// early (a timeout ends the iteration silently, a max-bytes cut, a lost
// message) continues from where it stopped or fails with ErrIncompleteRead;
// it is never taken for the end of the history.
func (l *Log) readRaw(ctx context.Context, subject string, after uint64, limit int) ([]*jetstream.RawStreamMsg, error) {
	if !l.LeaderCheck || limit > 0 {
		return l.readBatches(ctx, subject, after, limit)
	}
	// Ask the leader first: whatever was appended before this read must be
	// in it (read-your-writes for the worker that just decided, and for a
	// worker that takes over a run after a leader change).
	want, err := l.leaderLastSeq(ctx, subject)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		out, err := l.readBatches(ctx, subject, after, 0)
		if err != nil {
			return nil, err
		}
		got := after
		if len(out) > 0 {
			got = out[len(out)-1].Sequence
		}
		if got >= want {
			return out, nil
		}
		if attempt == 5 {
			return nil, fmt.Errorf("history: read %s: the replica that answered has up to seq %d, the leader %d: %w", subject, got, want, ErrIncompleteRead)
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		case <-ctx.Done():
			return nil, fmt.Errorf("history: read %s: %w: %w", subject, ErrIncompleteRead, ctx.Err())
		}
	}
}

// leaderLastSeq is the stream sequence of the subject's last message as the
// stream leader knows it (0: none).
func (l *Log) leaderLastSeq(ctx context.Context, subject string) (uint64, error) {
	seq, _, err := LastFromLeader(ctx, l.JS, l.StreamOf(subject), subject, false)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("history: ask the leader of %s for %s: %w: %w", l.StreamOf(subject), subject, ErrIncompleteRead, err)
	}
	return seq, nil
}

// LastFromLeader reads the last message of a subject through the stream
// leader: the message-get API, which only the leader answers, where a
// direct get may be answered by a replica that is behind. withData: return
// the message's data too. No message: jetstream.ErrMsgNotFound.
func LastFromLeader(ctx context.Context, js jetstream.JetStream, stream, subject string, withData bool) (uint64, []byte, error) {
	req, _ := json.Marshal(map[string]any{"last_by_subj": subject, "no_hdr": true})
	api := "$JS.API."
	if o := js.Options(); o.APIPrefix != "" {
		api = strings.TrimSuffix(o.APIPrefix, ".") + "."
	} else if o.Domain != "" {
		api = "$JS." + o.Domain + ".API."
	}
	if _, ok := ctx.Deadline(); !ok {
		// A request without a deadline waits for ever when its answer is
		// lost (a leader that died mid-request).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, js.Conn().Opts.Timeout)
		defer cancel()
	}
	msg, err := js.Conn().RequestWithContext(ctx, api+"STREAM.MSG.GET."+stream, req)
	if err != nil {
		return 0, nil, err
	}
	var resp struct {
		Error   *jetstream.APIError `json:"error"`
		Message struct {
			Seq  uint64 `json:"seq"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, nil, err
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return 0, nil, jetstream.ErrMsgNotFound
		}
		return 0, nil, resp.Error
	}
	if !withData {
		return resp.Message.Seq, nil, nil
	}
	return resp.Message.Seq, resp.Message.Data, nil
}

// readBatches reads with batched direct gets, checked complete as the
// answering server knows the subject.
func (l *Log) readBatches(ctx context.Context, subject string, after uint64, limit int) ([]*jetstream.RawStreamMsg, error) {
	var out []*jetstream.RawStreamMsg
	next := after + 1
	triedConsumer := false
	for limit == 0 || len(out) < limit {
		want := maxBatch
		if limit > 0 {
			want = min(limit-len(out), maxBatch)
		} else if len(out) == 0 {
			// A whole history: most are short, and what a long one has
			// after its first firstBatch records goes through a consumer.
			want = firstBatch
		}
		it, err := jetstreamext.GetBatch(ctx, l.JS, l.StreamOf(subject), want,
			jetstreamext.GetBatchSeq(next), jetstreamext.GetBatchSubject(subject))
		if err != nil {
			return nil, fmt.Errorf("history: read %s: %w: %w", subject, ErrIncompleteRead, err)
		}
		n, absent := 0, false
		var prev uint64 // sequence of the previous message of this batch
		var last *jetstream.RawStreamMsg
		for msg, err := range it {
			if err != nil {
				if errors.Is(err, jetstreamext.ErrNoMessages) {
					absent = n == 0
					break
				}
				return nil, fmt.Errorf("history: read %s: %w: %w", subject, ErrIncompleteRead, err)
			}
			if ls, ok := headerUint(msg.Header, lastSequenceHeader); ok && ls != prev {
				return nil, fmt.Errorf("history: read %s: message %d follows %d in the answer, expected after %d: %w", subject, msg.Sequence, ls, prev, ErrIncompleteRead)
			}
			prev = msg.Sequence
			n++
			out = append(out, msg)
			next = msg.Sequence + 1
			last = msg
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("history: read %s: %w: %w", subject, ErrIncompleteRead, ctx.Err())
		}
		if n == 0 {
			if absent {
				return out, nil // the stream says: nothing more on this subject
			}
			return nil, fmt.Errorf("history: read %s after seq %d: no answer from stream %s: %w", subject, next-1, l.StreamOf(subject), ErrIncompleteRead)
		}
		pending, ok := headerUint(last.Header, numPendingHeader)
		if !ok {
			return nil, fmt.Errorf("history: read %s: the server sent no %s header (batched direct get needs nats-server 2.11+): %w", subject, numPendingHeader, ErrIncompleteRead)
		}
		if pending == 0 {
			break
		}
		if limit == 0 && pending >= consumerReadMin && !triedConsumer {
			// A long history: the rest through a consumer, and what it
			// could not prove complete by batched direct gets again.
			triedConsumer = true
			rest, complete := l.readConsumer(ctx, subject, next, pending)
			out = append(out, rest...)
			if complete {
				break
			}
			if len(rest) > 0 {
				next = rest[len(rest)-1].Sequence + 1
			}
		}
	}
	return out, nil
}

// Headers of a batched direct get answer (nats-server).
const (
	numPendingHeader   = "Nats-Num-Pending"
	lastSequenceHeader = "Nats-Last-Sequence"
)

func headerUint(h nats.Header, key string) (uint64, bool) {
	v := h.Get(key)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

// ReadFrom returns the run's records stored after stream sequence after
// (0: all of them), in order, using batched direct gets.
func (l *Log) ReadFrom(ctx context.Context, subject string, after uint64) ([]Record, error) {
	msgs, err := l.ReadRaw(ctx, subject, after)
	if err != nil {
		return nil, err
	}
	return l.decodeResolved(ctx, subject, msgs)
}

func decodeRecords(subject string, msgs []*jetstream.RawStreamMsg) ([]Record, error) {
	return DecodeRecords(subject, msgs)
}

// Read returns all events of a run, in order, or ErrNotFound.
func (l *Log) Read(ctx context.Context, workflowID, runID string) ([]Event, error) {
	subj, err := l.Subject(workflowID, runID)
	if err != nil {
		return nil, err
	}
	recs, err := l.ReadFrom(ctx, subj, 0)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return Flatten(recs), nil
}

// Flatten returns the events of records in order.
func Flatten(recs []Record) []Event {
	var evs []Event
	for _, r := range recs {
		evs = append(evs, r.Events...)
	}
	return evs
}

// DecodeRecord parses one history message, refusing versions it does not know.
func DecodeRecord(data []byte) (Record, error) {
	var rec Record
	if !decodeRecordFast(data, &rec) { // fastdecode.go: exact, or it declines
		rec = Record{}
		if err := json.Unmarshal(data, &rec); err != nil {
			return rec, fmt.Errorf("decode record: %w", err)
		}
	}
	if rec.V < 1 || rec.V > Version {
		return rec, fmt.Errorf("record version %d is not supported (this build reads up to %d)", rec.V, Version)
	}
	return rec, nil
}
