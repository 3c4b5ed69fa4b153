package engine

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

func taskCorpus(t testing.TB) [][]byte {
	zone := time.FixedZone("x", 3600+1800)
	at := time.Date(2026, 12, 3, 14, 5, 6, 123456789, time.UTC)
	local := at.In(zone)
	retry := &history.RetryPolicy{InitialInterval: history.Duration(time.Second), BackoffCoefficient: 1.5,
		MaximumInterval: history.Duration(time.Minute), MaximumAttempts: 7, NonRetryableErrorTypes: []string{"Bad", "Worse"}}
	opts := &history.ActivityOptions{TaskQueue: "q-\u00e9", StartToCloseTimeout: history.Duration(90 * time.Second), RetryPolicy: retry,
		ScheduleToCloseTimeout: history.Duration(time.Hour), HeartbeatTimeout: history.Duration(5 * time.Second)}
	started := history.Event{Seq: 1, Time: at, Type: history.WorkflowStarted, InputID: "start", Name: "Wf", WorkflowID: "id \"quoted\"",
		RunID: "run-1", TaskQueue: "q", Input: json.RawMessage(`{"a":[1,2,{"b":null}],"s":"\u00e9\n"}`),
		Parent: &history.RunRef{WorkflowID: "p", RunID: "pr", TaskQueue: "pq", Seq: 9}}
	completed := history.Event{Seq: 5, Time: local, Type: history.ActivityCompleted, InputID: "act:2:done:1", Cause: 2,
		Result: json.RawMessage(`"done"`), Attempt: 1, StartedAt: &local}
	failed := history.Event{Seq: 4, Time: at, Type: history.ActivityFailed, InputID: "act:2:attempt:1", Cause: 2, Attempt: 1,
		Failure: &history.Failure{Message: "boom", Type: "Err", Stack: "a\nb", NonRetryable: true, Details: []byte{0, 1, 2},
			Cause: &history.Failure{Message: "root"}}, NextAttemptAt: &at, Identity: "worker-1"}
	wfFull := workflowTask{V: 1, WorkflowID: "wf \\ id", RunID: "run-1", InputID: "act:2:done:1", Event: &completed, RecordSeq: 77,
		Before: []history.Event{failed, failed}}
	actFull := activityTask{V: 1, WorkflowID: "wf", RunID: "run-1", WorkflowType: "Wf", WorkflowTaskQueue: "q", ScheduledSeq: 2,
		Name: "Act", Input: json.RawMessage(`[1,"two",{"3":4}]`), Options: opts, ScheduledAt: local, ScheduledIn: 12, AttemptsBefore: 3}
	closed := local.Add(time.Minute)
	riFull := RunInfo{WorkflowID: "wf <&>", RunID: "run-1", Type: "Wf", TaskQueue: "q", Status: StatusFailed, StartTime: at,
		CloseTime: &closed, LastEventSeq: 12, Result: json.RawMessage(`{"r":[true,false,1.5e3]}`),
		Failure:       &history.Failure{Message: "m", Type: "T", Cause: &history.Failure{Message: "c", Details: []byte("d")}},
		ContinuedFrom: "run-0", Next: "run-2", Parent: &history.RunRef{WorkflowID: "p", RunID: "pr", TaskQueue: "pq", Seq: 3},
		Blocked: "unknown workflow type", StartTask: 99}
	for _, v := range []any{wfFull, actFull, riFull} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if rv.Field(i).IsZero() {
				t.Fatalf("%T.%s is not set by the corpus: a field added to the task must be decoded and tested", v, rv.Type().Field(i).Name)
			}
		}
	}
	values := []any{
		wfFull, startTask(started), workflowTask{V: 1, RunID: "r", InputID: "signals"}, workflowTask{Before: []history.Event{}},
		actFull, activityTask{V: 1, RunID: "r", Options: &history.ActivityOptions{}}, activityTask{},
		riFull, compactEntry(riFull), *runInfoForStart(&started), RunInfo{},
	}
	var out [][]byte
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// hand-written variants: what other writers (or a later version) may send.
var taskVariants = []string{
	`{"v":1,"run_id":"r","event":null}`,
	`{"v":1,"run_id":"r","RUN_ID":"x"}`,
	`{"v":1,"run_id":"r","run_id":"s"}`,
	`{"v":1,"run_id":"r","later_field":true}`,
	` { "v" : 1 , "run_id" : "r\u0041\n" } `,
	`{"v":1,"run_id":"r"}x`,
	`{"v":1.0,"run_id":"r"}`,
	`{"v":-1,"scheduled_seq":-5,"run_id":"r"}`,
	`{"input":null,"run_id":"r"}`,
	`{"input":  {"a" : 1} ,"run_id":"r"}`,
	`{"options":{"retry_policy":null},"run_id":"r"}`,
	`{"options":{"start_to_close_timeout":"1s"},"run_id":"r"}`,
	`{"scheduled_at":"2026-12-03T14:05:06+01:30","run_id":"r"}`,
	`{"scheduled_at":"not a time","run_id":"r"}`,
	`{"before":null,"run_id":"r"}`,
	`{"record_seq":18446744073709551615,"run_id":"r"}`,
	`{"record_seq":18446744073709551616,"run_id":"r"}`,
	`{"status":"completed","close_time":null,"run_id":"r"}`,
	`{"status":7,"run_id":"r"}`,
	`{"failure":{"message":"m","cause":{"message":"c"}},"parent":{"seq":"1"},"run_id":"r"}`,
	`[]`, `null`, ``, `{}`,
}

func sameTaskDecode(t testing.TB, data []byte) {
	t.Helper()
	var gw, ww workflowTask
	gerr, werr := decodeWorkflowTask(data, &gw), json.Unmarshal(data, &ww)
	if (gerr == nil) != (werr == nil) || (werr == nil && !reflect.DeepEqual(gw, ww)) {
		t.Fatalf("workflow task %q:\n got %+v %v\nwant %+v %v", data, gw, gerr, ww, werr)
	}
	var ga, wa activityTask
	gerr, werr = decodeActivityTask(data, &ga), json.Unmarshal(data, &wa)
	if (gerr == nil) != (werr == nil) || (werr == nil && !reflect.DeepEqual(ga, wa)) {
		t.Fatalf("activity task %q:\n got %+v %v\nwant %+v %v", data, ga, gerr, wa, werr)
	}
	if werr == nil {
		sameTaskEncode(t, wa)
	}
	if json.Unmarshal(data, &ww) == nil {
		sameTaskEncode(t, ww)
	}
	var gr, wr RunInfo
	gerr, werr = unmarshalRunInfo(data, &gr), json.Unmarshal(data, &wr)
	if (gerr == nil) != (werr == nil) || (werr == nil && !reflect.DeepEqual(gr, wr)) {
		t.Fatalf("runs entry %q:\n got %+v %v\nwant %+v %v", data, gr, gerr, wr, werr)
	}
	if werr == nil {
		sameTaskEncode(t, wr)
		sameTaskEncode(t, compactEntry(wr))
	}
}

func TestTaskDecodeMatchesEncodingJSON(t *testing.T) {
	corpus := taskCorpus(t)
	for _, b := range corpus {
		sameTaskDecode(t, b)
		for i := range len(b) {
			sameTaskDecode(t, b[:i])
		}
		// What this version writes takes the fast path, as one kind or
		// the other (a null, which only these test values hold, is left
		// to encoding/json).
		if bytes.Contains(b, []byte("null")) {
			continue
		}
		var w workflowTask
		var a activityTask
		var ri RunInfo
		if !fastWorkflowTask(b, &w) && !fastActivityTask(b, &a) && !fastRunInfo(b, &ri) {
			t.Errorf("%s: declined by the fast path", b)
		}
	}
	for _, v := range taskVariants {
		sameTaskDecode(t, []byte(v))
	}
	// A task of a later version with a field this one does not know is
	// still read (by encoding/json).
	var w workflowTask
	if err := decodeWorkflowTask([]byte(`{"v":2,"run_id":"r","later":1}`), &w); err != nil || w.RunID != "r" || w.V != 2 {
		t.Fatalf("later task: %+v %v", w, err)
	}
}

func FuzzTaskDecode(f *testing.F) {
	for _, b := range taskCorpus(f) {
		f.Add(b)
	}
	for _, v := range taskVariants {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Count(data, []byte("{")) > 200 {
			return // deep nesting: encoding/json's own limits are not the point
		}
		sameTaskDecode(t, data)
	})
}

// The task encoder writes json.Marshal's bytes, or declines.
func TestTaskEncodeMatchesJSONMarshal(t *testing.T) {
	check := func(v any, mustAccept bool) {
		t.Helper()
		if ok := sameTaskEncode(t, v); mustAccept && !ok {
			t.Errorf("%+v: declined", v)
		}
		if want, _ := json.Marshal(v); !bytes.Equal(marshalTask(v), want) {
			t.Fatalf("marshalTask(%+v) differs from json.Marshal", v)
		}
	}
	for _, b := range taskCorpus(t) {
		var w workflowTask
		if json.Unmarshal(b, &w) == nil {
			check(w, false)
		}
		var a activityTask
		if json.Unmarshal(b, &a) == nil {
			check(a, false)
		}
		var ri RunInfo
		if json.Unmarshal(b, &ri) == nil {
			check(ri, false)
			check(compactEntry(ri), false)
			if want, _ := json.Marshal(ri); !bytes.Equal(marshalRunInfo(&ri), want) {
				t.Fatalf("marshalRunInfo(%+v) differs from json.Marshal", ri)
			}
			if want, _ := json.Marshal(compactEntry(ri)); !bytes.Equal(marshalIndexEntry(ri), want) {
				t.Fatalf("marshalIndexEntry(%+v) differs from json.Marshal of its compact entry", ri)
			}
		}
	}
	at := time.Date(2026, 12, 3, 1, 2, 3, 400, time.UTC)
	ev := history.Event{Seq: 3, Time: at, Type: history.ActivityCompleted, InputID: "act:2:done:1", Cause: 2, Result: json.RawMessage(`{"ok":true}`)}
	opts := &history.ActivityOptions{TaskQueue: "q", StartToCloseTimeout: history.Duration(time.Minute),
		RetryPolicy: &history.RetryPolicy{MaximumAttempts: 3, BackoffCoefficient: 2}}
	check(workflowTask{V: 1, WorkflowID: "w", RunID: "r", InputID: "act:2:done:1", Event: &ev, RecordSeq: 9, Before: []history.Event{ev}}, true)
	check(workflowTask{V: 1, WorkflowID: "w", RunID: "r", InputID: "signals"}, true)
	check(workflowTask{V: 1, WorkflowID: "w", RunID: "r", InputID: "x", Before: []history.Event{}}, true)
	check(activityTask{V: 1, WorkflowID: "w", RunID: "r", WorkflowType: "T", WorkflowTaskQueue: "q", ScheduledSeq: 2, Name: "A",
		Input: json.RawMessage(`["a",1]`), Options: opts, ScheduledAt: at, ScheduledIn: 5, AttemptsBefore: 1}, true)
	check(activityTask{V: 1, RunID: "r"}, true)
	check(activityTask{V: 1, RunID: "r", Input: json.RawMessage(`"<b>"`), Options: opts, ScheduledAt: at}, false)
	check(activityTask{V: 1, RunID: "r", Input: json.RawMessage{}, Options: opts, ScheduledAt: at}, false)
	check(workflowTask{V: 1, WorkflowID: "id with \"quotes\"", RunID: "r"}, false)
	closed := at.Add(time.Second)
	check(RunInfo{WorkflowID: "w", RunID: "r", Type: "T", TaskQueue: "q", Status: StatusRunning, StartTime: at, StartTask: 7}, true)
	check(RunInfo{WorkflowID: "w", RunID: "r", Type: "T", TaskQueue: "q", Status: StatusCompleted, StartTime: at, CloseTime: &closed,
		LastEventSeq: 4, Result: json.RawMessage(`{"ok":[1,2]}`), StartTask: 7}, true)
	check(RunInfo{WorkflowID: "w", RunID: "r", Status: StatusFailed, StartTime: at, CloseTime: &closed,
		Failure:       &history.Failure{Message: "m", Type: "T", Details: []byte{1}, Cause: &history.Failure{Message: "c"}},
		ContinuedFrom: "r0", Next: "r2", Parent: &history.RunRef{WorkflowID: "p", RunID: "pr"}, Blocked: "b"}, true)
	check(RunInfo{}, true)
	check(RunInfo{WorkflowID: "w&", StartTime: at}, false)
	check(RunInfo{WorkflowID: "w", StartTime: at, Result: json.RawMessage(`{ "a": 1 }`)}, false)
	check(RunInfo{WorkflowID: "w", StartTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false)
}

// sameTaskEncode fails unless the fast encoder declines the task or writes
// json.Marshal's bytes; it reports whether the fast encoder wrote it.
func sameTaskEncode(t testing.TB, v any) bool {
	t.Helper()
	got, ok := appendTaskJSON(nil, v)
	if want, err := json.Marshal(v); ok && (err != nil || !bytes.Equal(got, want)) {
		t.Fatalf("%+v:\n fast %s\n json %s %v", v, got, want, err)
	}
	return ok
}

func TestTimeoutErrorDetailsAsJSONMarshal(t *testing.T) {
	for _, tt := range []TimeoutType{TimeoutStartToClose, TimeoutScheduleToClose, TimeoutHeartbeat, TimeoutWorkflowExecution, "a\"<b>", "é", ""} {
		want, _ := json.Marshal([]TimeoutType{tt})
		if got := NewTimeoutError(tt, "m", nil).Details; !bytes.Equal(got, want) {
			t.Errorf("%q: details %s, want %s", tt, got, want)
		}
	}
}
