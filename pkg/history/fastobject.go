package history

import (
	"encoding/json"
	"time"
)

// DecodeObjectFast reads data, one JSON object and nothing after it, with
// the exact-or-decline scanner of the record decoder (fastdecode.go), so
// that other packages can decode their own messages (the engine's tasks)
// the same way. member is handed each key; it reads the value with one of
// Fields' methods and returns the field's index in its struct (each at most
// once) and whether it read it: false for a key that is not exactly one of
// the struct's json tags, or a value not read exactly as encoding/json
// would. DecodeObjectFast reports false for anything it or member declines:
// the caller then decodes data with encoding/json into a zero value.
func DecodeObjectFast(data []byte, member func(f Fields, key []byte) (field uint, ok bool)) bool {
	s := &scanner{data: data}
	f := Fields{s}
	if !s.object(func(key []byte) (uint, bool) { return member(f, key) }) {
		return false
	}
	s.ws()
	return s.pos == len(s.data)
}

// Fields reads the value of the member DecodeObjectFast hands over. Each
// method reads what encoding/json would read into its argument, or reports
// false.
type Fields struct{ s *scanner }

func (f Fields) String(out *string) bool { return f.s.strField(out) }
func (f Fields) Int(out *int) bool       { return f.s.intField(out) }
func (f Fields) Int64(out *int64) bool   { return f.s.int64Field(out) }
func (f Fields) Uint64(out *uint64) bool { return f.s.uint64Field(out) }

// Raw reads any value but null into a copy of its bytes (json.RawMessage).
func (f Fields) Raw(out *json.RawMessage) bool { return f.s.rawField((*[]byte)(out)) }

func (f Fields) Time(out *time.Time) bool { return f.s.timeField(out) }

// Event reads an Event object into a new *Event.
func (f Fields) Event(out **Event) bool {
	ev := new(Event)
	*out = ev
	return decodeEvent(f.s, ev)
}

// Events reads an array of Event objects.
func (f Fields) Events(out *[]Event) bool { return decodeEvents(f.s, out) }

// ActivityOptions reads an ActivityOptions object into a new one.
func (f Fields) ActivityOptions(out **ActivityOptions) bool {
	o := new(ActivityOptions)
	*out = o
	return decodeActivityOptions(f.s, o)
}

// TimePtr reads a time into a new *time.Time.
func (f Fields) TimePtr(out **time.Time) bool { return f.s.timePtrField(out) }

// Failure reads a Failure object (and its causes) into a new *Failure.
func (f Fields) Failure(out **Failure) bool { return decodeFailurePtr(f.s, out, 0) }

// RunRef reads a RunRef object into a new *RunRef.
func (f Fields) RunRef(out **RunRef) bool { return decodeRunRefPtr(f.s, out) }
