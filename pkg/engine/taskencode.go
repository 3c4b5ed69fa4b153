package engine

import (
	"encoding/json"
	"strconv"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// Tasks are encoded with history's encoder (fastencode.go): the bytes
// json.Marshal writes, or it declines and json.Marshal writes them.

// marshalTask is json.Marshal(v), through the fast encoder for the task
// types.
func marshalTask(v any) []byte {
	b, ok := appendTaskJSON(make([]byte, 0, 384), v)
	if !ok {
		b, _ = json.Marshal(v)
	}
	return b
}

// appendTaskJSON appends json.Marshal(v) for a task, or reports false
// (for any other type too).
func appendTaskJSON(b []byte, v any) ([]byte, bool) {
	switch t := v.(type) {
	case workflowTask:
		return t.appendJSON(b)
	case activityTask:
		return t.appendJSON(b)
	case RunInfo:
		return t.appendJSON(b)
	}
	return b, false
}

// marshalRunInfo is json.Marshal(ri): runs entries and index entries are
// written on every start and close.
func marshalRunInfo(ri *RunInfo) []byte {
	b, ok := ri.appendJSON(make([]byte, 0, 320))
	if !ok {
		b, _ = json.Marshal(ri)
	}
	return b
}

// appendJSON appends json.Marshal(ri), or reports false.
func (ri *RunInfo) appendJSON(b []byte) ([]byte, bool) {
	w := taskWriter{b: b, ok: true}
	w.str(`{"workflow_id":`, ri.WorkflowID)
	w.str(`,"run_id":`, ri.RunID)
	w.str(`,"type":`, ri.Type)
	w.str(`,"task_queue":`, ri.TaskQueue)
	w.str(`,"status":`, string(ri.Status))
	w.raw(`,"start_time":`)
	w.then(func(b []byte) ([]byte, bool) { return history.AppendJSONTime(b, ri.StartTime) })
	if ri.CloseTime != nil {
		w.raw(`,"close_time":`)
		w.then(func(b []byte) ([]byte, bool) { return history.AppendJSONTime(b, *ri.CloseTime) })
	}
	if ri.LastEventSeq != 0 {
		w.raw(`,"last_event_seq":`)
		w.b = strconv.AppendInt(w.b, ri.LastEventSeq, 10)
	}
	if len(ri.Result) > 0 {
		w.raw(`,"result":`)
		w.then(func(b []byte) ([]byte, bool) { return history.AppendJSONRaw(b, ri.Result) })
	}
	if ri.Failure != nil {
		w.raw(`,"failure":`)
		w.then(func(b []byte) ([]byte, bool) { return history.AppendFailureJSON(b, ri.Failure) })
	}
	if ri.ContinuedFrom != "" {
		w.str(`,"continued_from":`, ri.ContinuedFrom)
	}
	if ri.Next != "" {
		w.str(`,"next_run_id":`, ri.Next)
	}
	if ri.Parent != nil {
		w.raw(`,"parent":`)
		w.then(func(b []byte) ([]byte, bool) { return history.AppendRunRefJSON(b, ri.Parent) })
	}
	if ri.Blocked != "" {
		w.str(`,"blocked":`, ri.Blocked)
	}
	if ri.StartTask != 0 {
		w.raw(`,"start_task_seq":`)
		w.b = strconv.AppendUint(w.b, ri.StartTask, 10)
	}
	w.raw("}")
	return w.b, w.ok
}

// appendJSON appends json.Marshal(t), or reports false.
func (t *workflowTask) appendJSON(b []byte) ([]byte, bool) {
	w := taskWriter{b: b, ok: true}
	w.raw(`{"v":`)
	w.b = strconv.AppendInt(w.b, int64(t.V), 10)
	w.str(`,"workflow_id":`, t.WorkflowID)
	w.str(`,"run_id":`, t.RunID)
	w.str(`,"input_id":`, t.InputID)
	if t.Event != nil {
		w.raw(`,"event":`)
		w.then(func(b []byte) ([]byte, bool) { return history.AppendEventJSON(b, t.Event) })
	}
	if t.RecordSeq != 0 {
		w.raw(`,"record_seq":`)
		w.b = strconv.AppendUint(w.b, t.RecordSeq, 10)
	}
	if len(t.Before) > 0 {
		w.raw(`,"before":`)
		w.then(func(b []byte) ([]byte, bool) { return history.AppendEventsJSON(b, t.Before) })
	}
	w.raw("}")
	return w.b, w.ok
}

// appendJSON appends json.Marshal(t), or reports false.
func (t *activityTask) appendJSON(b []byte) ([]byte, bool) {
	w := taskWriter{b: b, ok: true}
	w.raw(`{"v":`)
	w.b = strconv.AppendInt(w.b, int64(t.V), 10)
	w.str(`,"workflow_id":`, t.WorkflowID)
	w.str(`,"run_id":`, t.RunID)
	w.str(`,"workflow_type":`, t.WorkflowType)
	w.str(`,"workflow_task_queue":`, t.WorkflowTaskQueue)
	w.raw(`,"scheduled_seq":`)
	w.b = strconv.AppendInt(w.b, t.ScheduledSeq, 10)
	w.str(`,"name":`, t.Name)
	w.raw(`,"input":`)
	if t.Input == nil {
		w.raw("null")
	} else {
		w.then(func(b []byte) ([]byte, bool) { return history.AppendJSONRaw(b, t.Input) })
	}
	w.raw(`,"options":`)
	if t.Options == nil {
		w.raw("null")
	} else {
		w.then(func(b []byte) ([]byte, bool) { return history.AppendActivityOptionsJSON(b, t.Options) })
	}
	w.raw(`,"scheduled_at":`)
	w.then(func(b []byte) ([]byte, bool) { return history.AppendJSONTime(b, t.ScheduledAt) })
	if t.ScheduledIn != 0 {
		w.raw(`,"scheduled_in":`)
		w.b = strconv.AppendUint(w.b, t.ScheduledIn, 10)
	}
	if t.AttemptsBefore != 0 {
		w.raw(`,"attempts_before":`)
		w.b = strconv.AppendInt(w.b, int64(t.AttemptsBefore), 10)
	}
	w.raw("}")
	return w.b, w.ok
}

// taskWriter appends a task's JSON; ok turns false at the first value the
// history encoder declines, and nothing is appended by it after that.
type taskWriter struct {
	b  []byte
	ok bool
}

func (w *taskWriter) raw(s string) { w.b = append(w.b, s...) }

// str appends key and the string s.
func (w *taskWriter) str(key, s string) {
	w.raw(key)
	w.then(func(b []byte) ([]byte, bool) { return history.AppendJSONString(b, s) })
}

// then appends with f, unless a value was declined already.
func (w *taskWriter) then(f func([]byte) ([]byte, bool)) {
	if w.ok {
		w.b, w.ok = f(w.b)
	}
}
