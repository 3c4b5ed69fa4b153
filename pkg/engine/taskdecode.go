package engine

import (
	"encoding/json"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// Every task a worker takes is decoded: with encoding/json that was 8% of
// a worker's CPU running one workflow of 1,000 parallel activities. Tasks
// are read by history's exact-or-decline scanner (the shape json.Marshal
// writes; anything else, such as a task of a later version with a field
// this one does not know, goes to encoding/json), so a task decodes to
// what encoding/json gives either way.

// decodeFastOr decodes data into v, which must be zero, with fast, or with
// encoding/json (into a zero v again) where fast declines.
func decodeFastOr[T any](data []byte, v *T, fast func([]byte, *T) bool) error {
	if fast(data, v) {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(data, v)
}

// decodeWorkflowTask decodes a workflow task into t, which must be zero.
func decodeWorkflowTask(data []byte, t *workflowTask) error {
	return decodeFastOr(data, t, fastWorkflowTask)
}

// fastWorkflowTask is the scanner's part of decodeWorkflowTask.
func fastWorkflowTask(data []byte, t *workflowTask) bool {
	return history.DecodeObjectFast(data, func(f history.Fields, key []byte) (uint, bool) {
		switch string(key) {
		case "v":
			return 0, f.Int(&t.V)
		case "workflow_id":
			return 1, f.String(&t.WorkflowID)
		case "run_id":
			return 2, f.String(&t.RunID)
		case "input_id":
			return 3, f.String(&t.InputID)
		case "event":
			return 4, f.Event(&t.Event)
		case "record_seq":
			return 5, f.Uint64(&t.RecordSeq)
		case "before":
			return 6, f.Events(&t.Before)
		}
		return 0, false
	})
}

// decodeActivityTask decodes an activity task into t, which must be zero.
func decodeActivityTask(data []byte, t *activityTask) error {
	return decodeFastOr(data, t, fastActivityTask)
}

// fastActivityTask is the scanner's part of decodeActivityTask.
func fastActivityTask(data []byte, t *activityTask) bool {
	return history.DecodeObjectFast(data, func(f history.Fields, key []byte) (uint, bool) {
		switch string(key) {
		case "v":
			return 0, f.Int(&t.V)
		case "workflow_id":
			return 1, f.String(&t.WorkflowID)
		case "run_id":
			return 2, f.String(&t.RunID)
		case "workflow_type":
			return 3, f.String(&t.WorkflowType)
		case "workflow_task_queue":
			return 4, f.String(&t.WorkflowTaskQueue)
		case "scheduled_seq":
			return 5, f.Int64(&t.ScheduledSeq)
		case "name":
			return 6, f.String(&t.Name)
		case "input":
			return 7, f.Raw(&t.Input)
		case "options":
			return 8, f.ActivityOptions(&t.Options)
		case "scheduled_at":
			return 9, f.Time(&t.ScheduledAt)
		case "scheduled_in":
			return 10, f.Uint64(&t.ScheduledIn)
		case "attempts_before":
			return 11, f.Int(&t.AttemptsBefore)
		}
		return 0, false
	})
}

// unmarshalRunInfo decodes a runs entry (or an index entry) into ri, which
// must be zero, as json.Unmarshal does: every write of the runs bucket
// decodes one or two, and so do the run watch and `list`.
func unmarshalRunInfo(data []byte, ri *RunInfo) error {
	return decodeFastOr(data, ri, fastRunInfo)
}

// fastRunInfo is the scanner's part of unmarshalRunInfo.
func fastRunInfo(data []byte, ri *RunInfo) bool {
	return history.DecodeObjectFast(data, func(f history.Fields, key []byte) (uint, bool) {
		switch string(key) {
		case "workflow_id":
			return 0, f.String(&ri.WorkflowID)
		case "run_id":
			return 1, f.String(&ri.RunID)
		case "type":
			return 2, f.String(&ri.Type)
		case "task_queue":
			return 3, f.String(&ri.TaskQueue)
		case "status":
			return 4, f.String((*string)(&ri.Status))
		case "start_time":
			return 5, f.Time(&ri.StartTime)
		case "close_time":
			return 6, f.TimePtr(&ri.CloseTime)
		case "last_event_seq":
			return 7, f.Int64(&ri.LastEventSeq)
		case "result":
			return 8, f.Raw(&ri.Result)
		case "failure":
			return 9, f.Failure(&ri.Failure)
		case "continued_from":
			return 10, f.String(&ri.ContinuedFrom)
		case "next_run_id":
			return 11, f.String(&ri.Next)
		case "parent":
			return 12, f.RunRef(&ri.Parent)
		case "blocked":
			return 13, f.String(&ri.Blocked)
		case "start_task_seq":
			return 14, f.Uint64(&ri.StartTask)
		}
		return 0, false
	})
}
