package history

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkEncode fails unless appendRecordFast declines rec or writes what
// json.Marshal writes.
func checkEncode(t testing.TB, rec *Record) (accepted bool) {
	t.Helper()
	want, werr := json.Marshal(rec)
	got, ok := appendRecordFast(nil, rec)
	if !ok {
		return false
	}
	if werr != nil {
		t.Fatalf("json.Marshal refuses %#v (%v); the fast encoder wrote %s", rec, werr, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("record %#v:\n fast %s\n json %s", rec, got, want)
	}
	return true
}

func TestEncodeRecordFastMatchesJSONMarshal(t *testing.T) {
	corpus := fastCorpus()
	for i := range corpus {
		checkEncode(t, &corpus[i])
	}
	// Plain records (the one-per-event-type part of the corpus, ASCII
	// and compact) take the fast path.
	for i := range knownEventTypes {
		if !checkEncode(t, &corpus[i]) {
			t.Errorf("record %d (%s) declined", i, corpus[i].Events[0].Type)
		}
	}
	// Every field at once, with plain values: the fast path writes it.
	at0 := time.Date(2026, 12, 3, 1, 2, 3, 400, time.FixedZone("", 5*3600+30*60))
	ref := &BlobRef{Size: 2 << 20, SHA256: "ab12"}
	run := &RunRef{WorkflowID: "w", RunID: "r", TaskQueue: "q", Seq: 4}
	plain := Event{Seq: 7, Time: at0, Type: ActivityFailed, InputID: "act:2:attempt:1", Cause: 2, Name: "main.Charge",
		WorkflowID: "order-1", RunID: "run-1", TaskQueue: "q", Input: json.RawMessage(`[1,"a",{"b":null,"c":[true,false]}]`),
		InputDigest: "sha256:ff", Result: json.RawMessage(`-1.5e3`), InputRef: ref, ResultRef: ref,
		Failure: &Failure{Message: "boom", Type: "Err", Stack: "main.go:1", NonRetryable: true, Details: []byte("det"), DetailsRef: ref,
			Cause: &Failure{Message: "root"}},
		Attempt: 3, ActivityOptions: &ActivityOptions{TaskQueue: "aq", StartToCloseTimeout: Duration(time.Minute),
			RetryPolicy: &RetryPolicy{InitialInterval: Duration(time.Second), BackoffCoefficient: 1.5, MaximumInterval: Duration(time.Hour),
				MaximumAttempts: 9, NonRetryableErrorTypes: []string{"A", "B"}},
			ScheduleToCloseTimeout: Duration(2 * time.Hour), HeartbeatTimeout: Duration(10 * time.Second)},
		StartedAt: &at0, NextAttemptAt: &at0, Identity: "host-1", Child: run, Parent: run, Next: run, ContinuedFrom: "run-0",
		ResetFrom: run, ParentClosePolicy: "abandon", Reason: "why", FireAt: &at0, Duration: Duration(time.Millisecond),
		SignalSeq: 12, WorkflowTimeout: Duration(time.Hour)}
	assertEveryField(t, plain)
	assertEveryField(t, *plain.Failure)
	assertEveryField(t, *plain.ActivityOptions)
	assertEveryField(t, *plain.ActivityOptions.RetryPolicy)
	assertEveryField(t, *run)
	assertEveryField(t, *ref)
	if !checkEncode(t, &Record{V: 1, Kind: KindInput, Events: []Event{plain, plain}}) {
		t.Error("a plain record with every field declined")
	}
	// Whatever decodes, re-encoded.
	_, all := fastInputs(t)
	for _, data := range all {
		if rec, err := DecodeRecord(data); err == nil {
			checkEncode(t, &rec)
		}
	}
	// Values json.Marshal writes otherwise than as they stand.
	at := time.Date(2026, 12, 3, 1, 2, 3, 400, time.UTC)
	odd := []Event{
		{Time: at, Type: "a<b"},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage(`{"a": 1}`)},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage(`"<html>"`)},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage("\"\u2028\"")},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage("\"a\u2029\"")},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage("\"\u20ac \u2014 \u201cq\u201d\"")},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage(`{"a":1`)},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage(` 1`)},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage(`"tab\there"`)},
		{Time: at, Type: ActivityCompleted, Result: json.RawMessage(`"a b"`)},
		{Time: at, Type: ActivityCompleted, Name: "caf\u00e9"},
		{Time: at, Type: ActivityCompleted, Name: "quote\"d"},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Type: TimerFired},
		{Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), Type: TimerFired},
		{Time: at.In(time.FixedZone("", 3600+1)), Type: TimerFired},
		{Time: at.In(time.FixedZone("", -(23*3600 + 59*60))), Type: TimerFired},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{BackoffCoefficient: 1e-7}}},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{BackoffCoefficient: 1e21}}},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{BackoffCoefficient: 2.5}}},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{BackoffCoefficient: math.Inf(1)}}},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{}}},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{MaximumAttempts: 3}}},
		{Time: at, Type: ActivityScheduled, ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{NonRetryableErrorTypes: []string{}}}},
		{Time: at, Type: ActivityFailed, Failure: &Failure{Details: []byte{}}},
		{Time: at, Type: ActivityFailed, Failure: &Failure{Details: []byte{0xff, 0, 1}, Message: strings.Repeat("x", 100)}},
		{Time: at, Type: TimerStarted, Duration: Duration(-time.Second), WorkflowTimeout: Duration(time.Nanosecond)},
	}
	for i := range odd {
		checkEncode(t, &Record{V: 1, Kind: KindDecision, Events: odd[i : i+1]})
	}
	// UTF-8 in a raw value is copied (only U+2028 and U+2029 are escaped
	// by json.Marshal, and declined).
	euro := Event{Time: at, Type: ActivityCompleted, Result: json.RawMessage("\"\u20ac \u2014 \u00e9\"")}
	if !checkEncode(t, &Record{V: 1, Kind: KindDecision, Events: []Event{euro}}) {
		t.Error("a raw value with UTF-8 declined")
	}
	for _, name := range []string{"caf\u00e9 \u20ac", "\xff", "a\u2028b", "a\u2029", "\xe2\x80"} {
		ev := Event{Time: at, Type: ActivityCompleted, Name: name}
		accepted := checkEncode(t, &Record{V: 1, Kind: KindDecision, Events: []Event{ev}})
		if want := name == "caf\u00e9 \u20ac"; accepted != want {
			t.Errorf("name %q: fast path %v, want %v", name, accepted, want)
		}
	}
	checkEncode(t, &Record{V: 1, Kind: KindDecision})
	checkEncode(t, &Record{V: 1, Kind: KindDecision, Events: []Event{}})
	// A deep cause chain is left to json.Marshal.
	deep := &Failure{Message: "x"}
	for range maxCauseDepth + 1 {
		deep = &Failure{Message: "x", Cause: deep}
	}
	if _, ok := appendRecordFast(nil, &Record{Events: []Event{{Time: at, Failure: deep}}}); ok {
		t.Error("a cause chain deeper than the decoder reads was encoded")
	}
}

// assertEveryField fails if a field of v is zero: a field added to a type
// the fast encoder writes must be written and tested.
func assertEveryField(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Type().Field(i).Tag.Get("json") != "-" && rv.Field(i).IsZero() {
			t.Errorf("%T.%s is not set by the test", v, rv.Type().Field(i).Name)
		}
	}
}

func FuzzEncodeRecordFast(f *testing.F) {
	_, all := fastInputs(f)
	for _, data := range all {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if rec, err := DecodeRecord(data); err == nil {
			checkEncode(t, &rec)
		}
	})
}

// Any bytes as a raw value: the fast encoder copies only what json.Marshal
// accepts and writes unchanged.
func FuzzEncodeRawValue(f *testing.F) {
	for _, s := range []string{"\"\u20ac\u2028\u2029\u2027\"", `{"a":[1,2.5e-3,true,null,"x\u00e9\n"]}`, `"\ud800"`, `"\x"`, `01`, `1.`, `-`, `[1,]`, `{"a" :1}`, `"a<b"`, "\"\u2028\"", `{}`, `[]`, `"\/"`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 {
			return
		}
		ev := Event{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Type: ActivityCompleted, Result: raw}
		checkEncode(t, &Record{V: 1, Kind: KindDecision, Events: []Event{ev}})
	})
}
