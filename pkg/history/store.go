package history

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

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

var plainID = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// EncodeID maps a workflow ID (any non-empty UTF-8 string up to
// MaxWorkflowIDLen bytes) to a token valid in a NATS subject and a KV key.
// IDs made of letters, digits, '-' and '_' map to themselves; any other ID is
// written as '=' followed by its unpadded base64url form, so the mapping is
// reversible and never produces a malformed subject.
func EncodeID(id string) (string, error) {
	if err := ValidateWorkflowID(id); err != nil {
		return "", err
	}
	if plainID.MatchString(id) {
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
// subjects are SubjectPrefix + ".<encoded workflow id>.<run id>".
type Log struct {
	JS            jetstream.JetStream
	Stream        string
	SubjectPrefix string
}

// Subject is the subject holding one run's history.
func (l *Log) Subject(workflowID, runID string) (string, error) {
	tok, err := EncodeID(workflowID)
	if err != nil {
		return "", err
	}
	return l.SubjectPrefix + "." + tok + "." + runID, nil
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

// Append writes rec as one message on the run's subject if and only if the
// subject's last stream sequence is still expectLast (0: no message yet).
// It returns the new message's stream sequence, or ErrConflict.
func (l *Log) Append(ctx context.Context, subject string, expectLast uint64, rec *Record) (uint64, error) {
	rec.V = Version
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("history: encode record: %w", err)
	}
	ack, err := l.JS.Publish(ctx, subject, data, jetstream.WithExpectLastSequencePerSubject(expectLast))
	if err != nil {
		if IsWrongLastSeq(err) {
			return 0, ErrConflict
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return 0, fmt.Errorf("history: decision record of %d bytes exceeds the server's max payload: %w", len(data), err)
		}
		return 0, fmt.Errorf("history: append to %s: %w", subject, err)
	}
	rec.StreamSeq = ack.Sequence
	return ack.Sequence, nil
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

// readRaw reads up to limit messages (0: all) with batched direct gets.
func (l *Log) readRaw(ctx context.Context, subject string, after uint64, limit int) ([]*jetstream.RawStreamMsg, error) {
	var out []*jetstream.RawStreamMsg
	next := after + 1
	for limit == 0 || len(out) < limit {
		want := maxBatch
		if limit > 0 {
			want = min(limit-len(out), maxBatch)
		}
		it, err := jetstreamext.GetBatch(ctx, l.JS, l.Stream, want,
			jetstreamext.GetBatchSeq(next), jetstreamext.GetBatchSubject(subject))
		if err != nil {
			return nil, fmt.Errorf("history: read %s: %w", subject, err)
		}
		n := 0
		for msg, err := range it {
			if err != nil {
				if errors.Is(err, jetstreamext.ErrNoMessages) {
					break
				}
				return nil, fmt.Errorf("history: read %s: %w", subject, err)
			}
			n++
			out = append(out, msg)
			next = msg.Sequence + 1
		}
		if n < want {
			break
		}
	}
	return out, nil
}

// ReadFrom returns the run's records stored after stream sequence after
// (0: all of them), in order, using batched direct gets.
func (l *Log) ReadFrom(ctx context.Context, subject string, after uint64) ([]Record, error) {
	msgs, err := l.ReadRaw(ctx, subject, after)
	if err != nil {
		return nil, err
	}
	return decodeRecords(subject, msgs)
}

func decodeRecords(subject string, msgs []*jetstream.RawStreamMsg) ([]Record, error) {
	out := make([]Record, 0, len(msgs))
	for _, msg := range msgs {
		rec, err := DecodeRecord(msg.Data)
		if err != nil {
			return nil, fmt.Errorf("history: %s seq %d: %w", subject, msg.Sequence, err)
		}
		rec.StreamSeq = msg.Sequence
		out = append(out, rec)
	}
	return out, nil
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
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("decode record: %w", err)
	}
	if rec.V < 1 || rec.V > Version {
		return rec, fmt.Errorf("record version %d is not supported (this build reads up to %d)", rec.V, Version)
	}
	return rec, nil
}
