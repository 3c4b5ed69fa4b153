package history

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
)

// A hand-written decoder for the records this code writes. Decoding is
// the largest CPU cost of loading a long run, and encoding/json spends most
// of its time in reflection and in validating the input in a separate pass.
//
// decodeRecordFast is exact or it declines: it reads only the strict shape
// that json.Marshal produces (exact lowercase keys, each once, no nulls),
// and it returns false on anything else, after which DecodeRecord decodes
// the whole record again with encoding/json. So every input it accepts must
// give the very Record encoding/json gives; the inputs it declines only
// cost the time it took to decline. What it declines, and why:
//
//   - a key that is not exactly one of the json tags of its struct
//     (encoding/json also matches keys case-insensitively, and skips
//     unknown ones), a key holding an escape or a non-ASCII byte, and a
//     key seen twice in one object (encoding/json keeps the last scalar
//     but merges into a struct or pointer it already set);
//   - null anywhere (its meaning depends on the field's type);
//   - a value of the wrong JSON type for its field (encoding/json reports an
//     error, possibly after decoding the rest);
//   - strings with invalid UTF-8, which encoding/json replaces with U+FFFD,
//     and strings with \u escapes of UTF-16 surrogates;
//   - integers with a fraction or an exponent, integers out of their
//     field's range, and integers of 20 digits or more;
//   - a Failure cause chain deeper than maxCauseDepth and an Input or
//     Result nested deeper than maxRawDepth;
//   - anything after the top-level object but whitespace (an error).

// maxCauseDepth bounds the recursion over a Failure's causes, and
// maxRawDepth the nesting of an Input or Result value: deeper inputs are
// left to encoding/json, whose own limit is 10000 levels in all.
const (
	maxCauseDepth = 100
	maxRawDepth   = 1000
)

// decodeRecordFast decodes data into rec, which must be zero, and reports
// whether it did. On false rec holds a partial result and must be reset.
func decodeRecordFast(data []byte, rec *Record) bool {
	s := &scanner{data: data}
	if !s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "v":
			return 0, s.intField(&rec.V)
		case "kind":
			b, ok := s.str()
			rec.Kind = recordKind(b)
			return 1, ok
		case "events":
			return 2, decodeEvents(s, &rec.Events)
		}
		return 0, false
	}) {
		return false
	}
	s.ws()
	return s.pos == len(s.data) // encoding/json refuses trailing data
}

// decodeEvents reads the array of a record's events.
func decodeEvents(s *scanner, out *[]Event) bool {
	if !s.open('[') {
		return false
	}
	// An Event is large and a record holds a few: they are decoded into
	// an array on the stack, then copied into a slice of the exact length
	// (non-nil even when empty, as encoding/json makes it).
	var small [4]Event
	evs := small[:0]
	for i := 0; ; i++ {
		end, ok := s.elem(i)
		if !ok {
			return false
		}
		if end {
			break
		}
		evs = append(evs, Event{})
		if !decodeEvent(s, &evs[len(evs)-1]) {
			return false
		}
	}
	*out = make([]Event, len(evs))
	copy(*out, evs)
	return true
}

// decodeEvent reads one event object.
func decodeEvent(s *scanner, ev *Event) bool {
	return s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "seq":
			return 0, s.int64Field(&ev.Seq)
		case "time":
			return 1, s.timeField(&ev.Time)
		case "type":
			b, ok := s.str()
			ev.Type = eventType(b)
			return 2, ok
		case "input_id":
			return 3, s.strField(&ev.InputID)
		case "cause":
			return 4, s.int64Field(&ev.Cause)
		case "name":
			return 5, s.strField(&ev.Name)
		case "workflow_id":
			return 6, s.strField(&ev.WorkflowID)
		case "run_id":
			return 7, s.strField(&ev.RunID)
		case "task_queue":
			return 8, s.strField(&ev.TaskQueue)
		case "input":
			return 9, s.rawField((*[]byte)(&ev.Input))
		case "input_digest":
			return 10, s.strField(&ev.InputDigest)
		case "result":
			return 11, s.rawField((*[]byte)(&ev.Result))
		case "input_ref":
			return 12, decodeBlobRefPtr(s, &ev.InputRef)
		case "result_ref":
			return 13, decodeBlobRefPtr(s, &ev.ResultRef)
		case "failure":
			return 14, decodeFailurePtr(s, &ev.Failure, 0)
		case "attempt":
			return 15, s.intField(&ev.Attempt)
		case "activity_options":
			ev.ActivityOptions = new(ActivityOptions)
			return 16, decodeActivityOptions(s, ev.ActivityOptions)
		case "started_at":
			return 17, s.timePtrField(&ev.StartedAt)
		case "next_attempt_at":
			return 18, s.timePtrField(&ev.NextAttemptAt)
		case "identity":
			return 19, s.strField(&ev.Identity)
		case "child":
			return 20, decodeRunRefPtr(s, &ev.Child)
		case "parent":
			return 21, decodeRunRefPtr(s, &ev.Parent)
		case "next":
			return 22, decodeRunRefPtr(s, &ev.Next)
		case "continued_from":
			return 23, s.strField(&ev.ContinuedFrom)
		case "reset_from":
			return 24, decodeRunRefPtr(s, &ev.ResetFrom)
		case "parent_close_policy":
			return 25, s.strField(&ev.ParentClosePolicy)
		case "reason":
			return 26, s.strField(&ev.Reason)
		case "fire_at":
			return 27, s.timePtrField(&ev.FireAt)
		case "duration":
			return 28, s.durationField(&ev.Duration)
		case "signal_seq":
			return 29, s.uint64Field(&ev.SignalSeq)
		case "workflow_timeout":
			return 30, s.durationField(&ev.WorkflowTimeout)
		}
		return 0, false
	})
}

// decodeActivityOptions reads an ActivityOptions object.
func decodeActivityOptions(s *scanner, o *ActivityOptions) bool {
	return s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "task_queue":
			return 0, s.strField(&o.TaskQueue)
		case "start_to_close_timeout":
			return 1, s.durationField(&o.StartToCloseTimeout)
		case "retry_policy":
			o.RetryPolicy = new(RetryPolicy)
			return 2, decodeRetryPolicy(s, o.RetryPolicy)
		case "schedule_to_close_timeout":
			return 3, s.durationField(&o.ScheduleToCloseTimeout)
		case "heartbeat_timeout":
			return 4, s.durationField(&o.HeartbeatTimeout)
		}
		return 0, false
	})
}

// decodeRetryPolicy reads a RetryPolicy object.
func decodeRetryPolicy(s *scanner, p *RetryPolicy) bool {
	return s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "initial_interval":
			return 0, s.durationField(&p.InitialInterval)
		case "backoff_coefficient":
			return 1, s.float64Field(&p.BackoffCoefficient)
		case "maximum_interval":
			return 2, s.durationField(&p.MaximumInterval)
		case "maximum_attempts":
			return 3, s.intField(&p.MaximumAttempts)
		case "non_retryable_error_types":
			return 4, s.strings(&p.NonRetryableErrorTypes)
		}
		return 0, false
	})
}

// decodeFailurePtr reads a Failure object into a new *Failure; depth
// counts the causes above it.
func decodeFailurePtr(s *scanner, out **Failure, depth int) bool {
	if depth >= maxCauseDepth {
		return false
	}
	f := new(Failure)
	*out = f
	return s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "message":
			return 0, s.strField(&f.Message)
		case "type":
			return 1, s.strField(&f.Type)
		case "stack":
			return 2, s.strField(&f.Stack)
		case "non_retryable":
			return 3, s.boolField(&f.NonRetryable)
		case "details":
			return 4, s.bytesField(&f.Details)
		case "details_ref":
			return 5, decodeBlobRefPtr(s, &f.DetailsRef)
		case "cause":
			return 6, decodeFailurePtr(s, &f.Cause, depth+1)
		}
		return 0, false
	})
}

// decodeRunRefPtr reads a RunRef object into a new *RunRef.
func decodeRunRefPtr(s *scanner, out **RunRef) bool {
	r := new(RunRef)
	*out = r
	return s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "workflow_id":
			return 0, s.strField(&r.WorkflowID)
		case "run_id":
			return 1, s.strField(&r.RunID)
		case "task_queue":
			return 2, s.strField(&r.TaskQueue)
		case "seq":
			return 3, s.int64Field(&r.Seq)
		}
		return 0, false
	})
}

// decodeBlobRefPtr reads a BlobRef object into a new *BlobRef.
func decodeBlobRefPtr(s *scanner, out **BlobRef) bool {
	r := new(BlobRef)
	*out = r
	return s.object(func(key []byte) (uint, bool) {
		switch string(key) {
		case "size":
			return 0, s.intField(&r.Size)
		case "sha256":
			return 1, s.strField(&r.SHA256)
		}
		return 0, false
	})
}

// fieldSet holds the fields already read in one object, by index.
type fieldSet uint64

// add marks field i as read, and reports false if it already was.
func (f *fieldSet) add(i uint) bool {
	if *f&(1<<i) != 0 {
		return false
	}
	*f |= 1 << i
	return true
}

// knownEventTypes lists every EventType constant (the tests build a record
// of each).
var knownEventTypes = []EventType{
	WorkflowStarted, ActivityScheduled, ActivityAttemptFailed, ActivityCompleted, ActivityFailed,
	WorkflowCompleted, WorkflowFailed, WorkflowTaskFailed, TimerStarted, TimerFired, TimerCanceled,
	SignalReceived, WorkflowCancelRequested, WorkflowCanceled, WorkflowTerminated,
	ActivityCancelRequested, MarkerRecorded, ChildWorkflowScheduled, ChildWorkflowStarted,
	ChildWorkflowStartFailed, ChildWorkflowCompleted, ChildWorkflowFailed,
	ChildWorkflowCancelRequested, WorkflowContinuedAsNew, WorkflowTimedOut,
}

// eventTypes and recordKind hand out the constant strings for the values
// every record repeats, so that decoding them allocates nothing.
var eventTypes = func() map[string]EventType {
	m := make(map[string]EventType, len(knownEventTypes))
	for _, t := range knownEventTypes {
		m[string(t)] = t
	}
	return m
}()

func eventType(b []byte) EventType {
	if t, ok := eventTypes[string(b)]; ok {
		return t
	}
	return EventType(b)
}

func recordKind(b []byte) RecordKind {
	switch string(b) {
	case string(KindDecision):
		return KindDecision
	case string(KindInput):
		return KindInput
	}
	return RecordKind(b)
}

// scanner reads JSON tokens from data. Its methods skip the whitespace
// before a token themselves, and report false on anything they do not
// read exactly as encoding/json would.
type scanner struct {
	data []byte
	pos  int
}

// ws skips the whitespace JSON allows between tokens.
func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// open reads the byte c (a '{' or '[') that starts a value.
func (s *scanner) open(c byte) bool {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// object reads an object, handing each member's key to member, which reads
// the value and returns the field's index in its struct and whether it
// read it: false for a key it does not know (one that is not exactly a
// json tag of the struct) or a value it does not read exactly as
// encoding/json would. A field given twice is refused.
func (s *scanner) object(member func(key []byte) (field uint, ok bool)) bool {
	if !s.open('{') {
		return false
	}
	var seen fieldSet
	for i := 0; ; i++ {
		key, end, ok := s.key(i)
		if !ok {
			return false
		}
		if end {
			return true
		}
		if f, ok := member(key); !ok || !seen.add(f) {
			return false
		}
	}
}

// key reads the i-th member's key of the object being read and the colon
// after it, or the closing brace (end true).
func (s *scanner) key(i int) (key []byte, end, ok bool) {
	s.ws()
	if s.pos >= len(s.data) {
		return nil, false, false
	}
	if s.data[s.pos] == '}' {
		s.pos++
		return nil, true, true
	}
	if i > 0 {
		if s.data[s.pos] != ',' {
			return nil, false, false
		}
		s.pos++
		s.ws()
	}
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false, false
	}
	start := s.pos + 1
	for j := start; j < len(s.data); j++ {
		c := s.data[j]
		if c == '"' {
			key = s.data[start:j]
			s.pos = j + 1
			if !s.open(':') {
				return nil, false, false
			}
			return key, false, true
		}
		// Tag names are plain ASCII; an escape could still spell one,
		// which encoding/json would match: leave that to it.
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false, false
		}
	}
	return nil, false, false
}

// elem moves to the i-th element of the array being read, or past its
// closing bracket (end true).
func (s *scanner) elem(i int) (end, ok bool) {
	s.ws()
	if s.pos >= len(s.data) {
		return false, false
	}
	if s.data[s.pos] == ']' {
		s.pos++
		return true, true
	}
	if i > 0 {
		if s.data[s.pos] != ',' {
			return false, false
		}
		s.pos++
	}
	return false, true
}

// str reads a string and returns its decoded bytes: a slice of data when
// the string holds no escape, else a new buffer.
func (s *scanner) str() ([]byte, bool) {
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return nil, false
	}
	start := s.pos + 1
	ascii := true
	for j := start; j < len(s.data); j++ {
		c := s.data[j]
		switch {
		case c == '"':
			b := s.data[start:j]
			// encoding/json replaces invalid UTF-8 with U+FFFD.
			if !ascii && !utf8.Valid(b) {
				return nil, false
			}
			s.pos = j + 1
			return b, true
		case c == '\\':
			return s.unescape(start, j)
		case c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

// unescape decodes the string starting at start whose first escape is at
// esc. It handles the escapes json.Marshal writes; a \u escape of a UTF-16
// surrogate (json.Marshal writes those characters as UTF-8) is declined.
func (s *scanner) unescape(start, esc int) ([]byte, bool) {
	if !utf8.Valid(s.data[start:esc]) {
		return nil, false
	}
	b := make([]byte, 0, esc-start+16)
	b = append(b, s.data[start:esc]...)
	j := esc
	for j < len(s.data) {
		c := s.data[j]
		switch {
		case c == '"':
			s.pos = j + 1
			return b, true
		case c == '\\':
			if j+1 >= len(s.data) {
				return nil, false
			}
			j++
			switch s.data[j] {
			case '"', '\\', '/':
				b = append(b, s.data[j])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(s.data[j+1:])
				if !ok || 0xd800 <= r && r < 0xe000 {
					return nil, false
				}
				b = utf8.AppendRune(b, r)
				j += 4
			default:
				return nil, false
			}
			j++
		case c < 0x20:
			return nil, false
		case c < 0x80:
			b = append(b, c)
			j++
		default:
			r, n := utf8.DecodeRune(s.data[j:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			b = append(b, s.data[j:j+n]...)
			j += n
		}
	}
	return nil, false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (s *scanner) strField(out *string) bool {
	b, ok := s.str()
	if ok {
		*out = string(b)
	}
	return ok
}

// strings reads an array of strings; an empty one gives an empty,
// non-nil slice, as encoding/json does.
func (s *scanner) strings(out *[]string) bool {
	if !s.open('[') {
		return false
	}
	list := []string{}
	for i := 0; ; i++ {
		end, ok := s.elem(i)
		if !ok {
			return false
		}
		if end {
			*out = list
			return true
		}
		var v string
		if !s.strField(&v) {
			return false
		}
		list = append(list, v)
	}
}

// bytesField reads a []byte, which JSON holds as standard base64; it
// decodes exactly as encoding/json does (which also skips '\r' and '\n'
// in the text, and leaves "" as an empty, non-nil slice).
func (s *scanner) bytesField(out *[]byte) bool {
	text, ok := s.str()
	if !ok {
		return false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(b, text)
	if err != nil {
		return false
	}
	*out = b[:n]
	return true
}

func (s *scanner) boolField(out *bool) bool {
	s.ws()
	switch {
	case s.lit("true"):
		*out = true
	case s.lit("false"):
		*out = false
	default:
		return false
	}
	return true
}

// lit reads the literal word w if it comes next.
func (s *scanner) lit(w string) bool {
	if len(s.data)-s.pos >= len(w) && string(s.data[s.pos:s.pos+len(w)]) == w {
		s.pos += len(w)
		return true
	}
	return false
}

// number reads a number token as JSON's grammar has it, and says whether
// it is a plain integer (no fraction, no exponent).
func (s *scanner) number() (tok []byte, integer, ok bool) {
	s.ws()
	d, start := s.data, s.pos
	j := start
	if j < len(d) && d[j] == '-' {
		j++
	}
	switch {
	case j < len(d) && d[j] == '0':
		j++
	case j < len(d) && '1' <= d[j] && d[j] <= '9':
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	default:
		return nil, false, false
	}
	integer = true
	if j < len(d) && d[j] == '.' {
		integer = false
		j++
		if j >= len(d) || d[j] < '0' || d[j] > '9' {
			return nil, false, false
		}
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		integer = false
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		if j >= len(d) || d[j] < '0' || d[j] > '9' {
			return nil, false, false
		}
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
	}
	s.pos = j
	return d[start:j], integer, true
}

// digits reads an integer token of at most 19 digits, which always fits
// a uint64, and returns its magnitude and sign. Longer ones, fractions and
// exponents are left to encoding/json (it refuses a fraction or an
// exponent for an integer field).
func (s *scanner) digits() (n uint64, neg, ok bool) {
	tok, integer, ok := s.number()
	if !ok || !integer {
		return 0, false, false
	}
	if tok[0] == '-' {
		neg, tok = true, tok[1:]
	}
	if len(tok) > 19 {
		return 0, false, false
	}
	for _, c := range tok {
		n = n*10 + uint64(c-'0')
	}
	return n, neg, true
}

// integer reads an integer that fits an int64, as strconv.ParseInt does
// for encoding/json ("-0" is 0).
func (s *scanner) integer() (int64, bool) {
	n, neg, ok := s.digits()
	switch {
	case !ok:
		return 0, false
	case neg && n <= 1<<63:
		return int64(-n), true // -(1<<63) wraps to itself: the least int64
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

func (s *scanner) int64Field(out *int64) bool {
	n, ok := s.integer()
	if ok {
		*out = n
	}
	return ok
}

func (s *scanner) intField(out *int) bool {
	n, ok := s.integer()
	if !ok || int64(int(n)) != n { // int may be 32 bits wide
		return false
	}
	*out = int(n)
	return true
}

// uint64Field declines a minus sign, even "-0": encoding/json's
// strconv.ParseUint refuses it.
func (s *scanner) uint64Field(out *uint64) bool {
	n, neg, ok := s.digits()
	if !ok || neg {
		return false
	}
	*out = n
	return true
}

// float64Field parses the number token as encoding/json does, refusing
// values out of range as it does.
func (s *scanner) float64Field(out *float64) bool {
	tok, _, ok := s.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return false
	}
	*out = f
	return true
}

// rawField copies the bytes of the next value, checked to be well-formed
// JSON, as json.RawMessage's UnmarshalJSON does with what encoding/json
// hands it.
func (s *scanner) rawField(out *[]byte) bool {
	s.ws()
	start := s.pos
	if start < len(s.data) && s.data[start] == 'n' {
		return false // encoding/json keeps the literal null: left to it
	}
	if !s.skip(0) {
		return false
	}
	*out = append([]byte(nil), s.data[start:s.pos]...)
	return true
}

// stringToken reads a string token without decoding it, checking only
// what encoding/json's scanner checks: no control bytes, valid escapes.
func (s *scanner) stringToken() ([]byte, bool) {
	s.ws()
	d, start := s.data, s.pos
	if start >= len(d) || d[start] != '"' {
		return nil, false
	}
	for j := start + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			s.pos = j + 1
			return d[start:s.pos], true
		case c == '\\':
			j++
			if j >= len(d) {
				return nil, false
			}
			switch d[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(d[j+1:]); !ok {
					return nil, false
				}
				j += 4
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// skip moves past one well-formed JSON value; depth is its nesting in
// the payload being skipped.
func (s *scanner) skip(depth int) bool {
	s.ws()
	if s.pos >= len(s.data) {
		return false
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		if depth >= maxRawDepth {
			return false
		}
		s.pos++
		for i := 0; ; i++ {
			s.ws()
			if s.pos >= len(s.data) {
				return false
			}
			if s.data[s.pos] == '}' {
				s.pos++
				return true
			}
			if i > 0 {
				if s.data[s.pos] != ',' {
					return false
				}
				s.pos++
			}
			if _, ok := s.stringToken(); !ok || !s.open(':') || !s.skip(depth+1) {
				return false
			}
		}
	case c == '[':
		if depth >= maxRawDepth {
			return false
		}
		s.pos++
		for i := 0; ; i++ {
			end, ok := s.elem(i)
			if !ok {
				return false
			}
			if end {
				return true
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case c == '"':
		_, ok := s.stringToken()
		return ok
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	default:
		_, _, ok := s.number()
		return ok
	}
}

// timeField calls time.Time's UnmarshalJSON with the string token as it
// stands, escapes and all, which is what encoding/json does.
func (s *scanner) timeField(out *time.Time) bool {
	tok, ok := s.stringToken()
	return ok && out.UnmarshalJSON(tok) == nil
}

func (s *scanner) timePtrField(out **time.Time) bool {
	t := new(time.Time)
	*out = t
	return s.timeField(t)
}

// durationField hands a string or number token to Duration's
// UnmarshalJSON, as encoding/json does; other values are declined (they
// are errors there).
func (s *scanner) durationField(out *Duration) bool {
	s.ws()
	var tok []byte
	var ok bool
	if s.pos < len(s.data) && s.data[s.pos] == '"' {
		tok, ok = s.stringToken()
	} else {
		tok, _, ok = s.number()
	}
	return ok && out.UnmarshalJSON(tok) == nil
}
