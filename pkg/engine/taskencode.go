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
	var (
		b  []byte
		ok bool
	)
	switch t := v.(type) {
	case workflowTask:
		b, ok = t.appendJSON(make([]byte, 0, 384))
	case activityTask:
		b, ok = t.appendJSON(make([]byte, 0, 384))
	}
	if !ok {
		b, _ = json.Marshal(v)
	}
	return b
}

// appendJSON appends json.Marshal(t), or reports false.
func (t *workflowTask) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	str := func(key, s string) {
		b = append(b, key...)
		if ok {
			b, ok = history.AppendJSONString(b, s)
		}
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(t.V), 10)
	str(`,"workflow_id":`, t.WorkflowID)
	str(`,"run_id":`, t.RunID)
	str(`,"input_id":`, t.InputID)
	if t.Event != nil && ok {
		b = append(b, `,"event":`...)
		b, ok = history.AppendEventJSON(b, t.Event)
	}
	if t.RecordSeq != 0 {
		b = append(b, `,"record_seq":`...)
		b = strconv.AppendUint(b, t.RecordSeq, 10)
	}
	if len(t.Before) > 0 && ok {
		b = append(b, `,"before":`...)
		b, ok = history.AppendEventsJSON(b, t.Before)
	}
	return append(b, '}'), ok
}

// appendJSON appends json.Marshal(t), or reports false.
func (t *activityTask) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	str := func(key, s string) {
		b = append(b, key...)
		if ok {
			b, ok = history.AppendJSONString(b, s)
		}
	}
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(t.V), 10)
	str(`,"workflow_id":`, t.WorkflowID)
	str(`,"run_id":`, t.RunID)
	str(`,"workflow_type":`, t.WorkflowType)
	str(`,"workflow_task_queue":`, t.WorkflowTaskQueue)
	b = append(b, `,"scheduled_seq":`...)
	b = strconv.AppendInt(b, t.ScheduledSeq, 10)
	str(`,"name":`, t.Name)
	b = append(b, `,"input":`...)
	switch {
	case t.Input == nil:
		b = append(b, "null"...)
	case ok:
		b, ok = history.AppendJSONRaw(b, t.Input)
	}
	b = append(b, `,"options":`...)
	switch {
	case t.Options == nil:
		b = append(b, "null"...)
	case ok:
		b, ok = history.AppendActivityOptionsJSON(b, t.Options)
	}
	b = append(b, `,"scheduled_at":`...)
	if ok {
		b, ok = history.AppendJSONTime(b, t.ScheduledAt)
	}
	if t.ScheduledIn != 0 {
		b = append(b, `,"scheduled_in":`...)
		b = strconv.AppendUint(b, t.ScheduledIn, 10)
	}
	if t.AttemptsBefore != 0 {
		b = append(b, `,"attempts_before":`...)
		b = strconv.AppendInt(b, int64(t.AttemptsBefore), 10)
	}
	return append(b, '}'), ok
}
