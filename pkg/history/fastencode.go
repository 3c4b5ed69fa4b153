package history

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A hand-written encoder for records and the engine's tasks, the mirror of
// fastdecode.go: it writes exactly the bytes json.Marshal writes, or
// declines (ok false) and the caller uses json.Marshal. It declines what
// json.Marshal would escape or rewrite (a string with a quote, a
// backslash, a control character, <, > or &, invalid UTF-8, U+2028 or
// U+2029; a raw value that is not compact JSON or holds <, >, & or those
// two separators; a float json.Marshal writes with an exponent; a time
// json.Marshal refuses), so the common case (IDs, names, compact
// payloads) is a copy. Every record and task is encoded:
// with reflection, a tenth of a worker's CPU (`dfctl bench --activities
// 20 --cpuprofile`). The tests compare it with json.Marshal byte for byte.

// EncodeRecord returns json.Marshal(rec): the fast encoder's bytes, or
// json.Marshal's where it declines.
func EncodeRecord(rec *Record) ([]byte, error) {
	if data, ok := appendRecordFast(make([]byte, 0, 512), rec); ok {
		return data, nil
	}
	return json.Marshal(rec)
}

// appendRecordFast appends json.Marshal(rec).
func appendRecordFast(b []byte, rec *Record) ([]byte, bool) {
	e := NewJSONWriter(b)
	e.Raw(`{"v":`)
	e.Int(int64(rec.V))
	e.Raw(`,"kind":`)
	e.Str(string(rec.Kind))
	e.Raw(`,"events":`)
	e.Events(rec.Events)
	e.Raw("}")
	return e.Bytes()
}

// Events appends evs.
func (e *JSONWriter) Events(evs []Event) {
	if evs == nil {
		e.Raw("null")
		return
	}
	e.Raw("[")
	for i := range evs {
		if i > 0 {
			e.Raw(",")
		}
		e.Event(&evs[i])
	}
	e.Raw("]")
}

// Event appends ev.
func (e *JSONWriter) Event(ev *Event) {
	e.Raw(`{"seq":`)
	e.Int(ev.Seq)
	e.Raw(`,"time":`)
	e.Time(ev.Time)
	e.Raw(`,"type":`)
	e.Str(string(ev.Type))
	e.OptStr(`,"input_id":`, ev.InputID)
	if ev.Cause != 0 {
		e.Raw(`,"cause":`)
		e.Int(ev.Cause)
	}
	e.OptStr(`,"name":`, ev.Name)
	e.OptStr(`,"workflow_id":`, ev.WorkflowID)
	e.OptStr(`,"run_id":`, ev.RunID)
	e.OptStr(`,"task_queue":`, ev.TaskQueue)
	e.OptRawValue(`,"input":`, ev.Input)
	e.OptStr(`,"input_digest":`, ev.InputDigest)
	e.OptRawValue(`,"result":`, ev.Result)
	e.OptBlobRef(`,"input_ref":`, ev.InputRef)
	e.OptBlobRef(`,"result_ref":`, ev.ResultRef)
	if ev.Failure != nil {
		e.Raw(`,"failure":`)
		e.failure(ev.Failure, 0)
	}
	if ev.Attempt != 0 {
		e.Raw(`,"attempt":`)
		e.Int(int64(ev.Attempt))
	}
	if ev.ActivityOptions != nil {
		e.Raw(`,"activity_options":`)
		e.ActivityOptions(ev.ActivityOptions)
	}
	e.OptTime(`,"started_at":`, ev.StartedAt)
	e.OptTime(`,"next_attempt_at":`, ev.NextAttemptAt)
	e.OptStr(`,"identity":`, ev.Identity)
	e.OptRunRef(`,"child":`, ev.Child)
	e.OptRunRef(`,"parent":`, ev.Parent)
	e.OptRunRef(`,"next":`, ev.Next)
	e.OptStr(`,"continued_from":`, ev.ContinuedFrom)
	e.OptRunRef(`,"reset_from":`, ev.ResetFrom)
	e.OptStr(`,"parent_close_policy":`, ev.ParentClosePolicy)
	e.OptStr(`,"reason":`, ev.Reason)
	e.OptTime(`,"fire_at":`, ev.FireAt)
	e.OptDuration(`,"duration":`, ev.Duration)
	if ev.SignalSeq != 0 {
		e.Raw(`,"signal_seq":`)
		e.b = strconv.AppendUint(e.b, ev.SignalSeq, 10)
	}
	e.OptDuration(`,"workflow_timeout":`, ev.WorkflowTimeout)
	e.Raw("}")
}

// AppendJSONString appends s as json.Marshal writes it, or reports false
// when json.Marshal would escape or replace any of it.
func AppendJSONString(b []byte, s string) ([]byte, bool) {
	wide := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			return b, false
		case c >= 0x80:
			wide = true
		}
	}
	if wide && (!utf8.ValidString(s) || strings.ContainsAny(s, "\u2028\u2029")) {
		return b, false // replaced (invalid UTF-8) or escaped there
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// AppendJSONRaw appends the json.RawMessage raw (not empty) as
// json.Marshal writes it, or reports false unless it is compact, valid and
// free of what json.Marshal would escape in it.
func AppendJSONRaw(b []byte, raw json.RawMessage) ([]byte, bool) {
	if !compactRaw(raw) {
		return b, false
	}
	return append(b, raw...), true
}

// AppendJSONTime appends t as json.Marshal writes it, or reports false
// for a time json.Marshal refuses.
func AppendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// compactRaw says whether raw is one valid JSON value with no whitespace
// outside its strings and no byte json.Marshal's compaction would rewrite
// (<, >, & and the line and paragraph separators are escaped there).
func compactRaw(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	s := &scanner{data: raw}
	if !s.skip(0) || s.pos != len(raw) {
		return false
	}
	in, esc := false, false
	for i, c := range raw {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			return false // U+2028 or U+2029
		case in:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				in = false
			}
		case c == '"':
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}

// JSONWriter appends JSON as json.Marshal writes it: the records' types
// and, for the engine, its tasks and runs entries. Once it declines a value
// (OK false), what it holds is not to be used: the caller encodes with
// json.Marshal instead.
type JSONWriter struct {
	b  []byte
	ok bool
}

// NewJSONWriter returns a writer appending to b.
func NewJSONWriter(b []byte) JSONWriter { return JSONWriter{b: b, ok: true} }

// Bytes returns what was written and whether every value was accepted.
func (e *JSONWriter) Bytes() ([]byte, bool) { return e.b, e.ok }

// Uint appends n.
func (e *JSONWriter) Uint(n uint64) { e.b = strconv.AppendUint(e.b, n, 10) }

// RawValue appends the json.RawMessage raw of a field without omitempty
// (nil: null).
func (e *JSONWriter) RawValue(raw json.RawMessage) {
	switch {
	case raw == nil:
		e.Raw("null")
	case e.ok:
		e.b, e.ok = AppendJSONRaw(e.b, raw)
	}
}

// Failure appends f (not nil).
func (e *JSONWriter) Failure(f *Failure) { e.failure(f, 0) }

func (e *JSONWriter) Raw(s string) { e.b = append(e.b, s...) }

func (e *JSONWriter) Int(n int64) { e.b = strconv.AppendInt(e.b, n, 10) }

func (e *JSONWriter) Str(s string) {
	if e.ok {
		e.b, e.ok = AppendJSONString(e.b, s)
	}
}

func (e *JSONWriter) OptStr(key, s string) {
	if s != "" {
		e.Raw(key)
		e.Str(s)
	}
}

func (e *JSONWriter) OptRawValue(key string, raw json.RawMessage) {
	if len(raw) > 0 {
		e.Raw(key)
		if e.ok {
			e.b, e.ok = AppendJSONRaw(e.b, raw)
		}
	}
}

func (e *JSONWriter) Time(t time.Time) {
	if e.ok {
		e.b, e.ok = AppendJSONTime(e.b, t)
	}
}

func (e *JSONWriter) OptTime(key string, t *time.Time) {
	if t != nil {
		e.Raw(key)
		e.Time(*t)
	}
}

func (e *JSONWriter) OptDuration(key string, d Duration) {
	if d != 0 {
		e.Raw(key)
		e.b = append(e.b, '"')
		e.b = append(e.b, time.Duration(d).String()...)
		e.b = append(e.b, '"')
	}
}

func (e *JSONWriter) OptBlobRef(key string, r *BlobRef) {
	if r == nil {
		return
	}
	e.Raw(key)
	e.Raw(`{"size":`)
	e.Int(int64(r.Size))
	e.Raw(`,"sha256":`)
	e.Str(r.SHA256)
	e.Raw("}")
}

func (e *JSONWriter) OptRunRef(key string, r *RunRef) {
	if r == nil {
		return
	}
	e.Raw(key)
	e.Raw(`{"workflow_id":`)
	e.Str(r.WorkflowID)
	e.Raw(`,"run_id":`)
	e.Str(r.RunID)
	e.OptStr(`,"task_queue":`, r.TaskQueue)
	if r.Seq != 0 {
		e.Raw(`,"seq":`)
		e.Int(r.Seq)
	}
	e.Raw("}")
}

func (e *JSONWriter) failure(f *Failure, depth int) {
	if depth >= maxCauseDepth {
		e.ok = false
		return
	}
	e.Raw(`{"message":`)
	e.Str(f.Message)
	e.OptStr(`,"type":`, f.Type)
	e.OptStr(`,"stack":`, f.Stack)
	if f.NonRetryable {
		e.Raw(`,"non_retryable":true`)
	}
	if len(f.Details) > 0 {
		e.Raw(`,"details":"`)
		e.b = base64.StdEncoding.AppendEncode(e.b, f.Details)
		e.Raw(`"`)
	}
	e.OptBlobRef(`,"details_ref":`, f.DetailsRef)
	if f.Cause != nil {
		e.Raw(`,"cause":`)
		e.failure(f.Cause, depth+1)
	}
	e.Raw("}")
}

func (e *JSONWriter) ActivityOptions(o *ActivityOptions) {
	e.Raw(`{"task_queue":`)
	e.Str(o.TaskQueue)
	e.OptDuration(`,"start_to_close_timeout":`, o.StartToCloseTimeout)
	if p := o.RetryPolicy; p != nil {
		e.Raw(`,"retry_policy":{`)
		n := len(e.b)
		e.OptDuration(`,"initial_interval":`, p.InitialInterval)
		if f := p.BackoffCoefficient; f != 0 {
			// json.Marshal's format when it needs no exponent.
			if a := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || a < 1e-6 || a >= 1e21 {
				e.ok = false
			}
			e.Raw(`,"backoff_coefficient":`)
			e.b = strconv.AppendFloat(e.b, f, 'f', -1, 64)
		}
		e.OptDuration(`,"maximum_interval":`, p.MaximumInterval)
		if p.MaximumAttempts != 0 {
			e.Raw(`,"maximum_attempts":`)
			e.Int(int64(p.MaximumAttempts))
		}
		if len(p.NonRetryableErrorTypes) > 0 {
			e.Raw(`,"non_retryable_error_types":[`)
			for i, s := range p.NonRetryableErrorTypes {
				if i > 0 {
					e.Raw(",")
				}
				e.Str(s)
			}
			e.Raw("]")
		}
		if len(e.b) > n {
			e.b = append(e.b[:n], e.b[n+1:]...) // the first member's comma
		}
		e.Raw("}")
	}
	e.OptDuration(`,"schedule_to_close_timeout":`, o.ScheduleToCloseTimeout)
	e.OptDuration(`,"heartbeat_timeout":`, o.HeartbeatTimeout)
	e.Raw("}")
}
