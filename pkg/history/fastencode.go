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
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(rec.V), 10)
	b = append(b, `,"kind":`...)
	var ok bool
	if b, ok = AppendJSONString(b, string(rec.Kind)); !ok {
		return b, false
	}
	b = append(b, `,"events":`...)
	if b, ok = AppendEventsJSON(b, rec.Events); !ok {
		return b, false
	}
	return append(b, '}'), true
}

// AppendEventsJSON appends json.Marshal(evs), or reports false.
func AppendEventsJSON(b []byte, evs []Event) ([]byte, bool) {
	if evs == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for i := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = AppendEventJSON(b, &evs[i]); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// AppendEventJSON appends json.Marshal(ev), or reports false.
func AppendEventJSON(b []byte, ev *Event) ([]byte, bool) {
	e := encoder{b: b, ok: true}
	e.raw(`{"seq":`)
	e.int(ev.Seq)
	e.raw(`,"time":`)
	e.time(ev.Time)
	e.raw(`,"type":`)
	e.str(string(ev.Type))
	e.optStr(`,"input_id":`, ev.InputID)
	if ev.Cause != 0 {
		e.raw(`,"cause":`)
		e.int(ev.Cause)
	}
	e.optStr(`,"name":`, ev.Name)
	e.optStr(`,"workflow_id":`, ev.WorkflowID)
	e.optStr(`,"run_id":`, ev.RunID)
	e.optStr(`,"task_queue":`, ev.TaskQueue)
	e.optRawValue(`,"input":`, ev.Input)
	e.optStr(`,"input_digest":`, ev.InputDigest)
	e.optRawValue(`,"result":`, ev.Result)
	e.optBlobRef(`,"input_ref":`, ev.InputRef)
	e.optBlobRef(`,"result_ref":`, ev.ResultRef)
	if ev.Failure != nil {
		e.raw(`,"failure":`)
		e.failure(ev.Failure, 0)
	}
	if ev.Attempt != 0 {
		e.raw(`,"attempt":`)
		e.int(int64(ev.Attempt))
	}
	if ev.ActivityOptions != nil {
		e.raw(`,"activity_options":`)
		e.activityOptions(ev.ActivityOptions)
	}
	e.optTime(`,"started_at":`, ev.StartedAt)
	e.optTime(`,"next_attempt_at":`, ev.NextAttemptAt)
	e.optStr(`,"identity":`, ev.Identity)
	e.optRunRef(`,"child":`, ev.Child)
	e.optRunRef(`,"parent":`, ev.Parent)
	e.optRunRef(`,"next":`, ev.Next)
	e.optStr(`,"continued_from":`, ev.ContinuedFrom)
	e.optRunRef(`,"reset_from":`, ev.ResetFrom)
	e.optStr(`,"parent_close_policy":`, ev.ParentClosePolicy)
	e.optStr(`,"reason":`, ev.Reason)
	e.optTime(`,"fire_at":`, ev.FireAt)
	e.optDuration(`,"duration":`, ev.Duration)
	if ev.SignalSeq != 0 {
		e.raw(`,"signal_seq":`)
		e.b = strconv.AppendUint(e.b, ev.SignalSeq, 10)
	}
	e.optDuration(`,"workflow_timeout":`, ev.WorkflowTimeout)
	e.raw("}")
	return e.b, e.ok
}

// AppendActivityOptionsJSON appends json.Marshal(o) (o not nil), or
// reports false.
func AppendActivityOptionsJSON(b []byte, o *ActivityOptions) ([]byte, bool) {
	e := encoder{b: b, ok: true}
	e.activityOptions(o)
	return e.b, e.ok
}

// AppendFailureJSON appends json.Marshal(f) (f not nil), or reports
// false.
func AppendFailureJSON(b []byte, f *Failure) ([]byte, bool) {
	e := encoder{b: b, ok: true}
	e.failure(f, 0)
	return e.b, e.ok
}

// AppendRunRefJSON appends json.Marshal(r) (r not nil), or reports false.
func AppendRunRefJSON(b []byte, r *RunRef) ([]byte, bool) {
	e := encoder{b: b, ok: true}
	e.optRunRef("", r)
	return e.b, e.ok
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

// encoder appends JSON; ok turns false at the first value it declines.
type encoder struct {
	b  []byte
	ok bool
}

func (e *encoder) raw(s string) { e.b = append(e.b, s...) }

func (e *encoder) int(n int64) { e.b = strconv.AppendInt(e.b, n, 10) }

func (e *encoder) str(s string) {
	if e.ok {
		e.b, e.ok = AppendJSONString(e.b, s)
	}
}

func (e *encoder) optStr(key, s string) {
	if s != "" {
		e.raw(key)
		e.str(s)
	}
}

func (e *encoder) optRawValue(key string, raw json.RawMessage) {
	if len(raw) > 0 {
		e.raw(key)
		if e.ok {
			e.b, e.ok = AppendJSONRaw(e.b, raw)
		}
	}
}

func (e *encoder) time(t time.Time) {
	if e.ok {
		e.b, e.ok = AppendJSONTime(e.b, t)
	}
}

func (e *encoder) optTime(key string, t *time.Time) {
	if t != nil {
		e.raw(key)
		e.time(*t)
	}
}

func (e *encoder) optDuration(key string, d Duration) {
	if d != 0 {
		e.raw(key)
		e.b = append(e.b, '"')
		e.b = append(e.b, time.Duration(d).String()...)
		e.b = append(e.b, '"')
	}
}

func (e *encoder) optBlobRef(key string, r *BlobRef) {
	if r == nil {
		return
	}
	e.raw(key)
	e.raw(`{"size":`)
	e.int(int64(r.Size))
	e.raw(`,"sha256":`)
	e.str(r.SHA256)
	e.raw("}")
}

func (e *encoder) optRunRef(key string, r *RunRef) {
	if r == nil {
		return
	}
	e.raw(key)
	e.raw(`{"workflow_id":`)
	e.str(r.WorkflowID)
	e.raw(`,"run_id":`)
	e.str(r.RunID)
	e.optStr(`,"task_queue":`, r.TaskQueue)
	if r.Seq != 0 {
		e.raw(`,"seq":`)
		e.int(r.Seq)
	}
	e.raw("}")
}

func (e *encoder) failure(f *Failure, depth int) {
	if depth >= maxCauseDepth {
		e.ok = false
		return
	}
	e.raw(`{"message":`)
	e.str(f.Message)
	e.optStr(`,"type":`, f.Type)
	e.optStr(`,"stack":`, f.Stack)
	if f.NonRetryable {
		e.raw(`,"non_retryable":true`)
	}
	if len(f.Details) > 0 {
		e.raw(`,"details":"`)
		e.b = base64.StdEncoding.AppendEncode(e.b, f.Details)
		e.raw(`"`)
	}
	e.optBlobRef(`,"details_ref":`, f.DetailsRef)
	if f.Cause != nil {
		e.raw(`,"cause":`)
		e.failure(f.Cause, depth+1)
	}
	e.raw("}")
}

func (e *encoder) activityOptions(o *ActivityOptions) {
	e.raw(`{"task_queue":`)
	e.str(o.TaskQueue)
	e.optDuration(`,"start_to_close_timeout":`, o.StartToCloseTimeout)
	if p := o.RetryPolicy; p != nil {
		e.raw(`,"retry_policy":{`)
		n := len(e.b)
		e.optDuration(`,"initial_interval":`, p.InitialInterval)
		if f := p.BackoffCoefficient; f != 0 {
			// json.Marshal's format when it needs no exponent.
			if a := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || a < 1e-6 || a >= 1e21 {
				e.ok = false
			}
			e.raw(`,"backoff_coefficient":`)
			e.b = strconv.AppendFloat(e.b, f, 'f', -1, 64)
		}
		e.optDuration(`,"maximum_interval":`, p.MaximumInterval)
		if p.MaximumAttempts != 0 {
			e.raw(`,"maximum_attempts":`)
			e.int(int64(p.MaximumAttempts))
		}
		if len(p.NonRetryableErrorTypes) > 0 {
			e.raw(`,"non_retryable_error_types":[`)
			for i, s := range p.NonRetryableErrorTypes {
				if i > 0 {
					e.raw(",")
				}
				e.str(s)
			}
			e.raw("]")
		}
		if len(e.b) > n {
			e.b = append(e.b[:n], e.b[n+1:]...) // the first member's comma
		}
		e.raw("}")
	}
	e.optDuration(`,"schedule_to_close_timeout":`, o.ScheduleToCloseTimeout)
	e.optDuration(`,"heartbeat_timeout":`, o.HeartbeatTimeout)
	e.raw("}")
}
