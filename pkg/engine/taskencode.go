package engine

import (
	"encoding/json"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// Tasks and runs entries are encoded with history's JSONWriter
// (fastencode.go): the bytes json.Marshal writes, or it declines and
// json.Marshal writes them.

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
	w := history.NewJSONWriter(b)
	w.Raw(`{"workflow_id":`)
	w.Str(ri.WorkflowID)
	w.Raw(`,"run_id":`)
	w.Str(ri.RunID)
	w.Raw(`,"type":`)
	w.Str(ri.Type)
	w.Raw(`,"task_queue":`)
	w.Str(ri.TaskQueue)
	w.Raw(`,"status":`)
	w.Str(string(ri.Status))
	w.Raw(`,"start_time":`)
	w.Time(ri.StartTime)
	w.OptTime(`,"close_time":`, ri.CloseTime)
	if ri.LastEventSeq != 0 {
		w.Raw(`,"last_event_seq":`)
		w.Int(ri.LastEventSeq)
	}
	w.OptRawValue(`,"result":`, ri.Result)
	if ri.Failure != nil {
		w.Raw(`,"failure":`)
		w.Failure(ri.Failure)
	}
	w.OptStr(`,"continued_from":`, ri.ContinuedFrom)
	w.OptStr(`,"next_run_id":`, ri.Next)
	w.OptRunRef(`,"parent":`, ri.Parent)
	w.OptStr(`,"blocked":`, ri.Blocked)
	if ri.StartTask != 0 {
		w.Raw(`,"start_task_seq":`)
		w.Uint(ri.StartTask)
	}
	w.Raw("}")
	return w.Bytes()
}

// appendJSON appends json.Marshal(t), or reports false.
func (t *workflowTask) appendJSON(b []byte) ([]byte, bool) {
	w := history.NewJSONWriter(b)
	w.Raw(`{"v":`)
	w.Int(int64(t.V))
	w.Raw(`,"workflow_id":`)
	w.Str(t.WorkflowID)
	w.Raw(`,"run_id":`)
	w.Str(t.RunID)
	w.Raw(`,"input_id":`)
	w.Str(t.InputID)
	if t.Event != nil {
		w.Raw(`,"event":`)
		w.Event(t.Event)
	}
	if t.RecordSeq != 0 {
		w.Raw(`,"record_seq":`)
		w.Uint(t.RecordSeq)
	}
	if len(t.Before) > 0 {
		w.Raw(`,"before":`)
		w.Events(t.Before)
	}
	w.Raw("}")
	return w.Bytes()
}

// appendJSON appends json.Marshal(t), or reports false.
func (t *activityTask) appendJSON(b []byte) ([]byte, bool) {
	w := history.NewJSONWriter(b)
	w.Raw(`{"v":`)
	w.Int(int64(t.V))
	w.Raw(`,"workflow_id":`)
	w.Str(t.WorkflowID)
	w.Raw(`,"run_id":`)
	w.Str(t.RunID)
	w.Raw(`,"workflow_type":`)
	w.Str(t.WorkflowType)
	w.Raw(`,"workflow_task_queue":`)
	w.Str(t.WorkflowTaskQueue)
	w.Raw(`,"scheduled_seq":`)
	w.Int(t.ScheduledSeq)
	w.Raw(`,"name":`)
	w.Str(t.Name)
	w.Raw(`,"input":`)
	w.RawValue(t.Input)
	w.Raw(`,"options":`)
	if t.Options == nil {
		w.Raw("null")
	} else {
		w.ActivityOptions(t.Options)
	}
	w.Raw(`,"scheduled_at":`)
	w.Time(t.ScheduledAt)
	if t.ScheduledIn != 0 {
		w.Raw(`,"scheduled_in":`)
		w.Uint(t.ScheduledIn)
	}
	if t.AttemptsBefore != 0 {
		w.Raw(`,"attempts_before":`)
		w.Int(int64(t.AttemptsBefore))
	}
	w.Raw("}")
	return w.Bytes()
}
