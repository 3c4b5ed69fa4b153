package history_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

func jsonString(n int, fill string) json.RawMessage {
	return json.RawMessage(`["` + strings.Repeat(fill, n) + `"]`)
}

// A record whose payloads add up to more than the stock 1 MiB max_payload is
// written with its large payloads out of line and read back inline.
func TestLargePayloadsOutOfLine(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	ctx := testsrv.Context(t, 30*time.Second)
	if mp := log.MaxRecordBytes() + history.RecordHeadroom; mp != 1024*1024 {
		t.Fatalf("test server max_payload = %d, want the stock 1 MiB", mp)
	}
	subj, _ := log.Subject("big", "run-1")
	var evs []history.Event
	for i := range 6 {
		evs = append(evs, history.Event{Seq: int64(i + 1), Time: time.Now(), Type: history.ActivityScheduled, Name: "Echo",
			Input: jsonString(200*1024, string(rune('a'+i)))})
	}
	same := jsonString(100*1024, "s") // twice: one blob
	evs = append(evs,
		history.Event{Seq: 7, Type: history.ActivityCompleted, Cause: 1, Result: same},
		history.Event{Seq: 8, Type: history.ActivityCompleted, Cause: 2, Result: same},
		history.Event{Seq: 9, Type: history.ActivityFailed, Cause: 3, Failure: &history.Failure{Message: "outer",
			Cause: &history.Failure{Message: "inner", Details: bytes.Repeat([]byte{7}, 40*1024)}}},
		history.Event{Seq: 10, Type: history.SignalReceived, Name: "small", Input: json.RawMessage(`"hi"`)})
	rec := &history.Record{Kind: history.KindDecision, Events: evs}
	before, _ := json.Marshal(evs)
	seq, err := log.Append(ctx, subj, history.Tail{}, rec)
	testsrv.Must(t, err)
	if after, _ := json.Marshal(rec.Events); !bytes.Equal(before, after) {
		t.Fatal("Append changed the caller's events")
	}

	raw, err := log.ReadRaw(ctx, subj, 0)
	testsrv.Must(t, err)
	if len(raw) != 1 || raw[0].Sequence != seq {
		t.Fatalf("history subject holds %d messages, want the one record", len(raw))
	}
	if n := len(raw[0].Data); n > 16*1024 {
		t.Fatalf("stored record is %d bytes; payloads were not stored out of line", n)
	}
	if !bytes.Contains(raw[0].Data, []byte(`"v":2`)) || !bytes.Contains(raw[0].Data, []byte(`"input_ref":{"size":`)) ||
		!bytes.Contains(raw[0].Data, []byte(`"details_ref"`)) {
		t.Fatalf("stored record lacks version 2 or blob references: %.300s", raw[0].Data)
	}
	st, err := log.JS.Stream(ctx, "DF_HISTORY")
	testsrv.Must(t, err)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subj+".blob.>"))
	testsrv.Must(t, err)
	if len(info.State.Subjects) != 8 { // 6 inputs, 1 shared result, 1 details
		t.Fatalf("blob subjects = %d, want 8: %v", len(info.State.Subjects), info.State.Subjects)
	}

	check := func(how string, got []history.Event) {
		t.Helper()
		if b, _ := json.Marshal(got); !bytes.Equal(b, before) {
			t.Fatalf("%s: events read back differ from those appended (%d vs %d bytes)", how, len(b), len(before))
		}
	}
	recs, err := log.ReadFrom(ctx, subj, 0)
	testsrv.Must(t, err)
	for i := range recs {
		recs[i].Events[0].Time = evs[0].Time // monotonic clock reading
	}
	check("ReadFrom", history.Flatten(recs))
	page, err := log.ReadPage(ctx, subj, 0, 10)
	testsrv.Must(t, err)
	page[0].Events[0].Time = evs[0].Time
	check("ReadPage", page[0].Events)
	for r, err := range log.Follow(ctx, subj, 0) {
		testsrv.Must(t, err)
		r.Events[0].Time = evs[0].Time
		check("Follow", r.Events)
		break
	}

	// A small record costs no blob and keeps version 1.
	_, err = log.Append(ctx, subj, history.Tail{Seq: seq}, &history.Record{Kind: history.KindInput,
		Events: []history.Event{{Seq: 11, Type: history.SignalReceived, Input: json.RawMessage(`1`)}}})
	testsrv.Must(t, err)
	raw, err = log.ReadRaw(ctx, subj, seq)
	testsrv.Must(t, err)
	if len(raw) != 1 || !bytes.Contains(raw[0].Data, []byte(`"v":1`)) {
		t.Fatalf("small record: %d messages, %s", len(raw), raw[0].Data)
	}
	info, err = st.Info(ctx, jetstream.WithSubjectFilter(subj+".>"))
	testsrv.Must(t, err)
	if len(info.State.Subjects) != 8 {
		t.Fatalf("a small record stored %d more blobs", len(info.State.Subjects)-8)
	}
}

// Many payloads each under the threshold still fit: the largest go out of
// line until the record fits.
func TestManyMidSizePayloadsFit(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	ctx := testsrv.Context(t, 30*time.Second)
	subj, _ := log.Subject("mid", "run-1")
	var evs []history.Event
	for i := range 200 {
		evs = append(evs, history.Event{Seq: int64(i + 1), Type: history.ActivityScheduled, Name: "Echo", Input: jsonString(8*1024+i, "m")})
	}
	_, err := log.Append(ctx, subj, history.Tail{}, &history.Record{Kind: history.KindDecision, Events: evs})
	testsrv.Must(t, err)
	got, err := log.Read(ctx, "mid", "run-1")
	testsrv.Must(t, err)
	for i, ev := range got {
		if !bytes.Equal(ev.Input, evs[i].Input) {
			t.Fatalf("event %d input differs", ev.Seq)
		}
	}
}

// A record that cannot fit even with its payloads out of line is refused
// with ErrRecordTooLarge naming sizes and limits, and nothing is written.
func TestRecordTooLarge(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	ctx := testsrv.Context(t, 30*time.Second)
	subj, _ := log.Subject("huge", "run-1")
	var evs []history.Event
	for i := range 12000 {
		evs = append(evs, history.Event{Seq: int64(i + 1), Time: time.Now(), Type: history.ActivityScheduled, Name: "Echo",
			Input: json.RawMessage(`[300]`), ActivityOptions: &history.ActivityOptions{TaskQueue: "default"}})
	}
	_, err := log.Append(ctx, subj, history.Tail{}, &history.Record{Kind: history.KindDecision, Events: evs})
	var tl *history.RecordTooLargeError
	if !errors.Is(err, history.ErrRecordTooLarge) || !errors.As(err, &tl) {
		t.Fatalf("Append = %v, want ErrRecordTooLarge", err)
	}
	if tl.Events != 12000 || tl.Size <= tl.Limit || tl.MaxPayload != 1024*1024 || tl.Biggest.Type != history.ActivityScheduled {
		t.Fatalf("error fields: %+v", tl)
	}
	for _, want := range []string{"12000 events", "max_payload is 1048576 bytes", "ActivityScheduled Echo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := log.Read(ctx, "huge", "run-1"); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("after a refused append, Read = %v; want not found", err)
	}
}

// A missing or corrupt blob is an error naming the run, the event and the
// hash: never an empty payload.
func TestMissingOrCorruptBlob(t *testing.T) {
	s := testsrv.Start(t)
	log := testsrv.Client(t, s).Store().Log
	ctx := testsrv.Context(t, 30*time.Second)
	subj, _ := log.Subject("lost", "run-1")
	in := jsonString(20*1024, "x")
	_, err := log.Append(ctx, subj, history.Tail{}, &history.Record{Kind: history.KindInput,
		Events: []history.Event{{Seq: 1, Type: history.WorkflowStarted, Name: "W", Input: in}}})
	testsrv.Must(t, err)
	raw, err := log.ReadRaw(ctx, subj, 0)
	testsrv.Must(t, err)
	var stored history.Record
	testsrv.Must(t, json.Unmarshal(raw[0].Data, &stored))
	ref := stored.Events[0].InputRef
	if ref == nil || ref.Size != len(in) {
		t.Fatalf("stored event has no input reference: %s", raw[0].Data)
	}
	blob := history.BlobSubject(subj, ref.SHA256)
	st, err := log.JS.Stream(ctx, "DF_HISTORY")
	testsrv.Must(t, err)

	// Corrupt: a different payload is the last message on the blob subject.
	_, err = log.JS.Publish(ctx, blob, jsonString(20*1024, "y"))
	testsrv.Must(t, err)
	_, err = log.ReadFrom(ctx, subj, 0)
	if !errors.Is(err, history.ErrBlob) || !strings.Contains(err.Error(), ref.SHA256) || !strings.Contains(err.Error(), subj+" event 1") {
		t.Fatalf("read with a corrupt blob = %v", err)
	}

	// Missing.
	testsrv.Must(t, st.Purge(ctx, jetstream.WithPurgeSubject(blob)))
	_, err = log.ReadFrom(ctx, subj, 0)
	if !errors.Is(err, history.ErrBlob) || !strings.Contains(err.Error(), "no message on "+blob) {
		t.Fatalf("read with a missing blob = %v", err)
	}
	for _, err := range log.Follow(ctx, subj, 0) {
		if !errors.Is(err, history.ErrBlob) {
			t.Fatalf("follow with a missing blob = %v", err)
		}
		break
	}
}

func TestHistoryFileRefusesBlobReferences(t *testing.T) {
	doc := `{"version":1,"events":[{"seq":1,"type":"WorkflowStarted","input_ref":{"size":3,"sha256":"ab"}}]}`
	if _, err := history.DecodeFile(strings.NewReader(doc)); err == nil || !strings.Contains(err.Error(), "out of line") {
		t.Fatalf("DecodeFile = %v", err)
	}
}
