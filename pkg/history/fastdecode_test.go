package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fast decoder (fastdecode.go) must give exactly what encoding/json
// gives on every input it accepts, and must accept what the engine
// writes. These tests hold it to both: a differential test over records
// covering every field and over hand-written JSON, and a fuzz test.
//
//	go test -run '^$' -fuzz FuzzDecodeRecordFast -fuzztime 60s ./pkg/history/

// stdDecodeRecord is DecodeRecord as it was before the fast path: plain
// encoding/json and the version check.
func stdDecodeRecord(data []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, err
	}
	if rec.V < 1 || rec.V > Version {
		return rec, fmt.Errorf("record version %d is not supported", rec.V)
	}
	return rec, nil
}

// fastCorpus returns records that together set every field of Event and
// of the types it holds, with the values the engine writes and awkward
// ones (escapes, unicode, zones, extremes).
func fastCorpus() []Record {
	utc := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	frac := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	east := time.Date(2025, 12, 31, 23, 59, 59, 500000000, time.FixedZone("", 5*3600+30*60))
	west := time.Date(2024, 2, 29, 12, 0, 0, 1000, time.FixedZone("", -7*3600))
	ptr := func(t time.Time) *time.Time { return &t }
	stack := "goroutine 1 [running]:\nmain.(*Order).Charge(0xc000010000)\n\t/src/order.go:42 +0x1d\n"
	deep := &Failure{Message: "root cause", Type: "io.EOF"}
	for i := range 5 {
		deep = &Failure{Message: fmt.Sprintf("level %d", i), Cause: deep}
	}

	var recs []Record
	// One record per event type, with the common fields.
	for i, typ := range knownEventTypes {
		recs = append(recs, Record{V: 1, Kind: KindDecision, Events: []Event{{
			Seq: int64(i + 1), Time: utc.Add(time.Duration(i) * time.Millisecond), Type: typ,
			InputID: fmt.Sprintf("in:%d", i), Cause: int64(i), Name: "main.Step",
		}}})
	}
	recs = append(recs,
		// Every field of Event at once.
		Record{V: 1, Kind: KindInput, Events: []Event{{
			Seq: 1, Time: frac, Type: WorkflowStarted, InputID: "start:1", Cause: 9_000_000_000,
			Name: "main.OrderWorkflow", WorkflowID: "order-42", RunID: "0190f1e2-aaaa-7bbb-8ccc-123456789abc",
			TaskQueue: "default", Input: json.RawMessage(`["order-42",{"qty":2,"price":12.5,"ok":true,"tags":[],"none":null}]`),
			InputDigest: "0123456789abcdef", Result: json.RawMessage(`"done"`),
			InputRef: &BlobRef{Size: 20000, SHA256: strings.Repeat("ab", 32)}, ResultRef: &BlobRef{Size: 1},
			Failure: &Failure{Message: "boom", Type: "ChargeError", Stack: stack, NonRetryable: true,
				Details: []byte{0, 1, 2, 253, 254, 255}, DetailsRef: &BlobRef{Size: 3, SHA256: "00"},
				Cause: &Failure{Message: "inner", Details: []byte("x")}},
			Attempt: 3,
			ActivityOptions: &ActivityOptions{TaskQueue: "acts", StartToCloseTimeout: Duration(30 * time.Second),
				RetryPolicy: &RetryPolicy{InitialInterval: Duration(1500 * time.Millisecond), BackoffCoefficient: 1.5,
					MaximumInterval: Duration(time.Hour), MaximumAttempts: 10, NonRetryableErrorTypes: []string{"Fatal", "Invalid \"input\""}},
				ScheduleToCloseTimeout: Duration(24 * time.Hour), HeartbeatTimeout: Duration(time.Nanosecond)},
			StartedAt: ptr(utc), NextAttemptAt: ptr(east), Identity: "worker-1@host",
			Child:  &RunRef{WorkflowID: "child-1", RunID: "r1", TaskQueue: "q", Seq: 7},
			Parent: &RunRef{WorkflowID: "parent", RunID: "r0"}, Next: &RunRef{WorkflowID: "order-42", RunID: "r2"},
			ContinuedFrom: "r-1", ResetFrom: &RunRef{WorkflowID: "order-42", RunID: "r-2", Seq: 12},
			ParentClosePolicy: "request_cancel", Reason: "operator asked", FireAt: ptr(west),
			Duration: Duration(90 * time.Minute), SignalSeq: 18446744073709551615 / 10, WorkflowTimeout: Duration(72 * time.Hour),
		}}},
		// A typical decision: an activity outcome and the next command.
		Record{V: 1, Kind: KindDecision, Events: []Event{
			{Seq: 4, Time: utc, Type: ActivityCompleted, InputID: "act:3:done", Cause: 3, Name: "main.Charge",
				Result: json.RawMessage(`{"id":"ch_1","amount":1250}`), Attempt: 1, StartedAt: ptr(utc), Identity: "worker-1@host"},
			{Seq: 5, Time: utc, Type: ActivityScheduled, Name: "main.Ship", Input: json.RawMessage(`["order-1",{"sku":"A-1","qty":2}]`),
				InputDigest: "0123456789abcdef", ActivityOptions: &ActivityOptions{TaskQueue: "default",
					StartToCloseTimeout: Duration(30 * time.Second)}},
		}},
		// A failed attempt: a stack (escapes), a cause chain, retry times.
		Record{V: 1, Kind: KindDecision, Events: []Event{{Seq: 6, Time: west, Type: ActivityAttemptFailed, Cause: 5,
			Name: "main.Ship", Attempt: 2, StartedAt: ptr(frac), NextAttemptAt: ptr(frac.Add(time.Second)),
			Failure: &Failure{Message: "carrier said \"no\" <again> & again", Type: "*errors.errorString", Stack: stack, Cause: deep}}}},
		// Payloads of every JSON kind, escapes and unicode.
		Record{V: 1, Kind: KindDecision, Events: []Event{
			{Seq: 1, Time: utc, Type: MarkerRecorded, Name: "SideEffect", Result: json.RawMessage(`"tab\there \"q\" \u00e9 \ud83d\ude00 \\ / \u2028"`)},
			{Seq: 2, Time: utc, Type: MarkerRecorded, Name: "Version:change-1", Result: json.RawMessage(`-1.25e+3`)},
			{Seq: 3, Time: utc, Type: SignalReceived, Name: "approve", Input: json.RawMessage(`true`), SignalSeq: 42},
			{Seq: 4, Time: utc, Type: SignalReceived, Name: "reject", Input: json.RawMessage(`false`), SignalSeq: 43},
			{Seq: 5, Time: utc, Type: ActivityCompleted, Result: json.RawMessage(`[1,[2,[3,{"a":{"b":[]}}]],{},0,-0,1E5,"x"]`)},
			{Seq: 6, Time: utc, Type: WorkflowCompleted, Result: json.RawMessage(`12345678901234567890123`)},
		}},
		// Strings with unicode and every escape json.Marshal writes.
		Record{V: 1, Kind: KindDecision, Events: []Event{{Seq: 1, Time: east, Type: WorkflowFailed,
			Name: "Bestellung-Größe 注文 😀", Reason: "line1\nline2\r\t\b\f\x00\x1f <tag> & \u2028\u2029 \\ /",
			Identity: "\xff invalid utf-8 becomes U+FFFD", WorkflowID: "ünïcödé",
			Failure: &Failure{Message: ""}}}},
		// Timers and durations; cancellation and termination.
		Record{V: 1, Kind: KindDecision, Events: []Event{
			{Seq: 1, Time: utc, Type: TimerStarted, FireAt: ptr(utc.Add(time.Hour)), Duration: Duration(time.Hour + 1)},
			{Seq: 2, Time: utc, Type: TimerFired, Cause: 1},
			{Seq: 3, Time: utc, Type: TimerStarted, Duration: Duration(-5 * time.Second)},
			{Seq: 4, Time: utc, Type: TimerCanceled, Cause: 3},
			{Seq: 5, Time: utc, Type: WorkflowTerminated, Reason: "stop"},
			{Seq: 6, Time: utc, Type: WorkflowStarted, WorkflowTimeout: Duration(1<<63 - 1)},
		}},
		// Blob references, as a record of version 2 holds them.
		Record{V: VersionBlobs, Kind: KindDecision, Events: []Event{{Seq: 9, Time: utc, Type: ActivityCompleted,
			InputRef: &BlobRef{Size: 17000, SHA256: strings.Repeat("0f", 32)}, ResultRef: &BlobRef{Size: 1 << 20, SHA256: "ff"},
			Failure: &Failure{Message: "big", DetailsRef: &BlobRef{Size: 99999, SHA256: "ab"}}}}},
		// Extremes of the numbers.
		Record{V: 1, Kind: KindDecision, Events: []Event{{Seq: -9, Time: utc, Type: WorkflowStarted, Cause: -1,
			Attempt: -3, SignalSeq: 999_999_999_999_999_999,
			ActivityOptions: &ActivityOptions{RetryPolicy: &RetryPolicy{BackoffCoefficient: 1e-300, MaximumAttempts: 1}}}}},
		// Times far apart and at odd zones.
		Record{V: 1, Kind: KindDecision, Events: []Event{
			{Seq: 1, Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Type: WorkflowStarted},
			{Seq: 2, Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(23*3600+59*60))), Type: WorkflowStarted},
			{Seq: 3, Time: time.Date(2026, 6, 1, 0, 0, 0, 100, time.FixedZone("", 14*3600)), Type: WorkflowStarted},
		}},
		// An empty record and one with an empty event.
		Record{V: 1, Kind: KindDecision, Events: []Event{}},
		Record{V: 1, Kind: KindDecision, Events: []Event{{}}},
		Record{V: 1},
		// Versions this build refuses.
		Record{V: 0, Kind: KindDecision, Events: []Event{{Seq: 1, Type: TimerFired}}},
		Record{V: Version + 1, Kind: KindDecision, Events: []Event{{Seq: 1, Type: TimerFired}}},
	)
	return recs
}

// fastHandWritten is JSON the engine never writes, on both sides of what
// the fast path accepts.
var fastHandWritten = []string{
	// Accepted: whitespace, key order, escapes.
	" \t\r\n{ \"v\" : 1 ,\n\"kind\":\t\"decision\" , \"events\" : [ { \"seq\" : 1 , \"type\" : \"TimerFired\" } , {} ] } \n",
	`{"events":[{"type":"TimerFired","seq":2,"time":"2026-01-02T03:04:05Z"}],"kind":"input","v":2}`,
	`{"v":1,"kind":"decis\u0069on","events":[{"type":"Timer\u0046ired","name":"a\"b\\c\/d\b\f\n\r\t\u0000\u00e9\u20ac","reason":"\u0041\u00c9"}]}`,
	`{"v":1,"events":[{"input":  [ 1 , {"a" : [ ] } ] ,"result":"x\u00e9\"","name":"héllo wörld"}]}`,
	`{"v":1,"events":[{"failure":{"message":"m","details":"AAEC"}}]}`,
	`{"v":1,"events":[{"failure":{"message":"m","details":"AA\nEC"}}]}`,
	`{"v":1,"events":[{"failure":{"message":"m","details":""}}]}`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"non_retryable_error_types":[]}}}]}`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"backoff_coefficient":2}}}]}`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"backoff_coefficient":-0.5e-2}}}]}`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"backoff_coefficient":1e400}}}]}`,
	`{"v":1,"events":[{"activity_options":{}, "child":{}, "input_ref":{}, "failure":{}}]}`,
	`{"v":1,"events":[{"duration":1500000000,"workflow_timeout":"1h2m3.5s"}]}`,
	`{"v":1,"events":[{"duration":-0,"workflow_timeout":"-1.5s"}]}`,
	`{"v":1,"events":[{"duration":"1\u0073"}]}`,
	`{"v":1,"events":[{"seq":-0,"cause":0,"attempt":123456789012345678}]}`,
	`{"v":1,"events":[{"signal_seq":18446744073709551615}]}`,
	`{"v":1,"events":[{"signal_seq":18446744073709551616}]}`,
	`{"v":1,"events":[{"signal_seq":-0}]}`,
	`{"v":1,"events":[{"signal_seq":-1}]}`,
	`{"v":1,"events":[{"seq":9223372036854775807}]}`,
	`{"v":1,"events":[{"seq":-9223372036854775808}]}`,
	`{"v":1,"events":[{"seq":9223372036854775808}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05.000000001+01:00"},{"time":"2026-01-02T03:04:05-00:00"}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05+00:00"},{"time":"2026-01-02t03:04:05z"}]}`,
	`{"v":1,"events":[{"started_at":"2026-01-02T03:04:05.5Z","next_attempt_at":"2026-01-02T03:04:05.50Z","fire_at":"2026-01-02T03:04:05.123456789Z"}]}`,
	// Declined and an error: invalid times.
	`{"v":1,"events":[{"time":"2026-01-02 03:04:05Z"}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05"}]}`,
	`{"v":1,"events":[{"time":"2026-13-02T03:04:05Z"}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05.Z"}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05+24:00"}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05\u005a"}]}`,
	`{"v":1,"events":[{"time":1767322245}]}`,
	`{"v":1,"events":[{"time":""}]}`,
	`{"v":1,"events":[{"started_at":"yesterday"}]}`,
	// Times the strict RFC 3339 checks of time.Time.UnmarshalJSON would
	// refuse, were they enabled (go.dev/issue/54580).
	`{"v":1,"events":[{"time":"2026-01-02T3:04:05Z"},{"time":"2026-01-02T03:04:05,5Z"}]}`,
	`{"v":1,"events":[{"time":"2026-01-02T03:04:05+24:00"},{"time":"2026-01-02T03:04:05+00:60"}]}`,
	// Whitespace JSON does not allow.
	"{\"v\":1,\v\"events\":[]}",
	"\f{\"v\":1,\"events\":[]}",
	"{\"v\":1,\"events\":[]}\u00a0",
	"{\"v\":1,\"events\":[{\"result\":[1,\u00a02]}]}",
	// Declined: null, in every kind of field.
	`{"v":1,"events":[{"input":null,"result":null}]}`,
	`{"v":1,"events":[{"failure":null,"started_at":null,"name":null,"seq":null,"duration":null}]}`,
	`{"v":1,"events":[{"time":null}]}`,
	`{"v":1,"events":null}`,
	`{"v":1,"events":[null]}`,
	`{"v":null,"kind":"decision"}`,
	`null`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"non_retryable_error_types":["a",null]}}}]}`,
	// Declined: unknown and case-folded keys, duplicates.
	`{"v":1,"events":[{"seq":1,"extra":{"a":[1,2]}}]}`,
	`{"v":1,"extra":true,"events":[]}`,
	`{"V":1,"Kind":"decision","Events":[{"SEQ":3,"Type":"TimerFired"}]}`,
	`{"v":1,"events":[{"Seq":3}]}`,
	`{"v":1,"events":[{"se\u0071":3}]}`,
	`{"v":1,"events":[{"ſeq":3}]}`,
	`{"v":1,"events":[{"streamseq":3}]}`,
	`{"v":1,"StreamSeq":5,"events":[]}`,
	`{"v":1,"-":5,"events":[]}`,
	`{"v":1,"v":2,"events":[]}`,
	`{"v":1,"events":[],"events":[{"seq":1}]}`,
	`{"v":1,"events":[{"seq":1,"seq":2}]}`,
	`{"v":1,"events":[{"child":{"workflow_id":"a"},"child":{"run_id":"b"}}]}`,
	`{"v":1,"events":[{"failure":{"message":"a","cause":{"message":"b"},"cause":{"type":"c"}}}]}`,
	// Declined and an error: wrong types.
	`{"v":"1","events":[]}`,
	`{"v":1,"kind":1}`,
	`{"v":1,"events":{}}`,
	`{"v":1,"events":[[]]}`,
	`{"v":1,"events":[{"seq":"1"}]}`,
	`{"v":1,"events":[{"name":true}]}`,
	`{"v":1,"events":[{"failure":{"non_retryable":"true"}}]}`,
	`{"v":1,"events":[{"failure":{"details":"!!"}}]}`,
	`{"v":1,"events":[{"failure":{"details":"AAE"}}]}`,
	`{"v":1,"events":[{"failure":{"details":[1,2]}}]}`,
	`{"v":1,"events":[{"duration":"soon"}]}`,
	`{"v":1,"events":[{"duration":1.5}]}`,
	`{"v":1,"events":[{"duration":true}]}`,
	`{"v":1,"events":[{"duration":{}}]}`,
	`{"v":1,"events":[{"activity_options":[]}]}`,
	`[]`,
	`"record"`,
	`1`,
	// Declined and an error: invalid numbers.
	`{"v":01,"events":[]}`,
	`{"v":1.0,"events":[]}`,
	`{"v":1e0,"events":[]}`,
	`{"v":-,"events":[]}`,
	`{"v":1.,"events":[]}`,
	`{"v":.5,"events":[]}`,
	`{"v":+1,"events":[]}`,
	`{"v":1,"events":[{"result":01}]}`,
	`{"v":1,"events":[{"result":1.e5}]}`,
	`{"v":1,"events":[{"result":1e}]}`,
	`{"v":1,"events":[{"result":-}]}`,
	`{"v":1,"events":[{"result":1e.5}]}`,
	`{"v":1,"events":[{"result":1e+}]}`,
	`{"v":1,"events":[{"result":1ee5}]}`,
	`{"v":1,"events":[{"result":-01}]}`,
	`{"v":1,"events":[{"result":00}]}`,
	`{"v":1,"events":[{"result":[0,-0,0.0,1E-2,1.5e+10,-0.0e0]}]}`,
	`{"v":1,"events":[{"result":Infinity}]}`,
	`{"v":1,"events":[{"result":0x10}]}`,
	`{"v":1,"events":[{"seq":-01}]}`,
	`{"v":1,"events":[{"seq":00}]}`,
	`{"v":1,"events":[{"duration":01}]}`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"backoff_coefficient":1.}}}]}`,
	`{"v":1,"events":[{"activity_options":{"retry_policy":{"backoff_coefficient":"2"}}}]}`,
	// Declined and an error: bad syntax, trailing data, bad strings.
	`{"v":1,"events":[]}x`,
	`{"v":1,"events":[]}{}`,
	`{"v":1,"events":[]},`,
	`{"v":1,"events":[],}`,
	`{"v":1,"events":[{},]}`,
	`{"v":1,,"events":[]}`,
	`{"v":1 "events":[]}`,
	`{"v" 1}`,
	`{v:1}`,
	`{'v':1}`,
	`{"v":1,"events":[{"result":{"a":}}]}`,
	`{"v":1,"events":[{"result":{"a" 1}}]}`,
	`{"v":1,"events":[{"result":[1,]}]}`,
	`{"v":1,"events":[{"result":tru}]}`,
	`{"v":1,"events":[{"result":truex}]}`,
	`{"v":1,"events":[{"result":nul}]}`,
	`{"v":1,"events":[{"result":"\x"}]}`,
	`{"v":1,"events":[{"result":"\u12"}]}`,
	"{\"v\":1,\"events\":[{\"result\":\"a\tb\"}]}",
	"{\"v\":1,\"events\":[{\"name\":\"a\nb\"}]}",
	`{"v":1,"events":[{"name":"\x"}]}`,
	`{"v":1,"events":[{"name":"\u00g0"}]}`,
	`{"v":1,"events":[{"name":"\U0041"}]}`,
	"\ufeff{\"v\":1}",
	"{\"v\":1}\x00",
	``,
	` `,
	`{`,
	`{"v":1,"events":[{"seq":1}`,
	// Declined, accepted by encoding/json: surrogate escapes, invalid UTF-8.
	`{"v":1,"events":[{"name":"\ud83d\ude00"}]}`,
	`{"v":1,"events":[{"name":"\ud83d"}]}`,
	`{"v":1,"events":[{"name":"\ude00\ud83d x"}]}`,
	"{\"v\":1,\"events\":[{\"name\":\"a\xffb\"}]}",
	"{\"v\":1,\"events\":[{\"name\":\"a\xed\xa0\x80b\"}]}",
	"{\"v\":1,\"events\":[{\"name\":\"\\n\xffb\"}]}",
	"{\"v\":1,\"events\":[{\"name\":\"a\xff\\nb\"}]}",
	`{"v":1,"events":[{"name":"\u00E9\u00e9\u20AC\uFFFD\uffff"}]}`,
	"{\"v\":1,\"events\":[{\"result\":\"a\xffb\"}]}",
	"{\"v\":1,\"events\":[{\"result\":{\"\xff\":1}}]}",
}

// fastDeep is nesting around the limits: the fast path's (it declines
// deeper values) and encoding/json's (10000 levels, an error beyond). It is
// kept out of the fuzz seeds, which it would slow down.
var fastDeep = []string{
	`{"v":1,"events":[{"result":` + strings.Repeat("[", 900) + strings.Repeat("]", 900) + `}]}`,
	`{"v":1,"events":[{"result":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}]}`,
	`{"v":1,"events":[{"result":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`,
	`{"v":1,"events":[{"result":` + strings.Repeat(`{"a":`, 1500) + "1" + strings.Repeat("}", 1500) + `}]}`,
	`{"v":1,"events":[{"failure":` + strings.Repeat(`{"cause":`, 90) + "{}" + strings.Repeat("}", 90) + `}]}`,
	`{"v":1,"events":[{"failure":` + strings.Repeat(`{"cause":`, 150) + "{}" + strings.Repeat("}", 150) + `}]}`,
	`{"v":1,"events":[{"failure":` + strings.Repeat(`{"cause":`, 10000) + "{}" + strings.Repeat("}", 10000) + `}]}`,
}

// fastInputs is the corpus as the engine writes it, the same indented,
// every prefix of one record, and the hand-written inputs.
func fastInputs(t testing.TB) (marshaled [][]byte, all [][]byte) {
	for _, rec := range fastCorpus() {
		data, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		marshaled = append(marshaled, data)
		all = append(all, data)
		var indented bytes.Buffer
		if err := json.Indent(&indented, data, " ", "\t"); err != nil {
			t.Fatal(err)
		}
		all = append(all, indented.Bytes())
	}
	whole := marshaled[len(knownEventTypes)] // the record with every field
	for i := range whole {
		all = append(all, whole[:i])
	}
	for _, s := range fastHandWritten {
		all = append(all, []byte(s))
	}
	return marshaled, all
}

// checkSame decodes data with DecodeRecord and with plain encoding/json
// and fails unless both fail or both give the same record.
func checkSame(t testing.TB, data []byte) {
	t.Helper()
	want, wantErr := stdDecodeRecord(data)
	got, gotErr := DecodeRecord(data)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("input %q:\nencoding/json error: %v\nDecodeRecord error: %v", data, wantErr, gotErr)
	}
	if wantErr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("input %q:\nencoding/json: %#v\nDecodeRecord:  %#v", data, want, got)
	}
}

func TestDecodeRecordFastMatchesEncodingJSON(t *testing.T) {
	marshaled, all := fastInputs(t)
	for _, s := range fastDeep {
		all = append(all, []byte(s))
	}
	for _, data := range all {
		checkSame(t, data)
	}
	// The fast path must actually run on what the engine writes. It
	// declines "events":null (null is always left to encoding/json), which
	// json.Marshal writes for a record without events; the engine never
	// writes one (and decodeChecked refuses it).
	for _, data := range marshaled {
		var rec Record
		if bytes.Contains(data, []byte(`"events":null`)) {
			if decodeRecordFast(data, &rec) {
				t.Errorf("fast path accepted a null: %s", data)
			}
			continue
		}
		if !decodeRecordFast(data, &rec) {
			t.Errorf("fast path declined a record json.Marshal wrote: %s", data)
		}
	}
}

// TestDecodeRecordFastDeclines pins inputs the fast path must leave to
// encoding/json because it accepts them with rules the fast path does not
// copy: if one is ever accepted, the exactness of that case needs a test.
func TestDecodeRecordFastDeclines(t *testing.T) {
	for _, s := range []string{
		`{"V":1,"events":[]}`,
		`{"v":1,"events":[],"extra":1}`,
		`{"v":1,"v":1,"events":[]}`,
		`{"v":1,"events":[{"input":null}]}`,
		`{"v":1,"events":[{"name":"\ud83d\ude00"}]}`,
		"{\"v\":1,\"events\":[{\"name\":\"a\xffb\"}]}",
		`{"v":1,"events":[{"seq":1.0}]}`,
		`{"v":1,"events":[{"seq":12345678901234567890}]}`,
	} {
		var rec Record
		if decodeRecordFast([]byte(s), &rec) {
			t.Errorf("fast path accepted %s", s)
		}
		checkSame(t, []byte(s))
	}
}

// FuzzDecodeRecordFast: whatever the fast path accepts, encoding/json
// accepts too and decodes to the same record; and DecodeRecord fails
// exactly when encoding/json does.
func FuzzDecodeRecordFast(f *testing.F) {
	_, all := fastInputs(f)
	for _, data := range all {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast Record
		if decodeRecordFast(data, &fast) {
			var want Record
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatalf("fast path accepted %q; encoding/json: %v", data, err)
			}
			if !reflect.DeepEqual(want, fast) {
				t.Fatalf("input %q:\nencoding/json: %#v\nfast path:     %#v", data, want, fast)
			}
		}
		checkSame(t, data)
	})
}

// fastBenchData is the record of BenchmarkRecordDecode (benchDecision in
// hotpath_bench_test.go, which this package cannot reach) as it is stored.
func fastBenchData(b *testing.B) []byte {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(3 * time.Millisecond)
	rec := Record{V: 1, Kind: KindDecision, Events: []Event{
		{Seq: 3, Time: now, Type: ActivityCompleted, InputID: "act:2:done", Cause: 2,
			Name: "main.Charge", Result: json.RawMessage(`{"id":"ch_1","amount":1250}`), Attempt: 1, StartedAt: &now, Identity: "worker-1@host"},
		{Seq: 4, Time: now, Type: ActivityScheduled, Name: "main.Ship", Input: json.RawMessage(`["order-1",{"sku":"A-1","qty":2}]`),
			InputDigest: "0123456789abcdef", ActivityOptions: &ActivityOptions{TaskQueue: "default",
				StartToCloseTimeout: Duration(30 * time.Second)}},
	}}
	data, err := json.Marshal(&rec)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkRecordDecodeStd decodes BenchmarkRecordDecode's bytes with
// plain encoding/json, the cost without the fast path.
func BenchmarkRecordDecodeStd(b *testing.B) {
	data := fastBenchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stdDecodeRecord(data); err != nil {
			b.Fatal(err)
		}
	}
}

// The corpus sets every JSON field of every type the fast path decodes, so
// that a field added to one of them later (and not to the fast path, which
// then declines every record that holds it) fails the accept check above
// instead of going unnoticed: this test fails first, naming the field to
// add to fastCorpus.
func TestFastCorpusSetsEveryField(t *testing.T) {
	set := map[reflect.Type]map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Struct || v.Type().Elem().Kind() == reflect.Pointer {
				for i := range v.Len() {
					walk(v.Index(i))
				}
			}
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				return
			}
			if set[v.Type()] == nil {
				set[v.Type()] = map[string]bool{}
			}
			for i := range v.NumField() {
				f := v.Type().Field(i)
				if f.Tag.Get("json") == "-" || !f.IsExported() {
					continue
				}
				if !v.Field(i).IsZero() {
					set[v.Type()][f.Name] = true
				}
				walk(v.Field(i))
			}
		}
	}
	for _, rec := range fastCorpus() {
		walk(reflect.ValueOf(rec))
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Record](), reflect.TypeFor[Event](), reflect.TypeFor[ActivityOptions](),
		reflect.TypeFor[RetryPolicy](), reflect.TypeFor[Failure](), reflect.TypeFor[RunRef](), reflect.TypeFor[BlobRef]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Tag.Get("json") == "-" || !f.IsExported() {
				continue
			}
			if !set[typ][f.Name] {
				t.Errorf("no record of fastCorpus sets %s.%s: add it there (and to fastdecode.go)", typ.Name(), f.Name)
			}
		}
	}
}
