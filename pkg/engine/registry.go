package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
)

var (
	contextType         = reflect.TypeOf((*context.Context)(nil)).Elem()
	workflowContextType = reflect.TypeOf((*Context)(nil)).Elem()
	errorType           = reflect.TypeOf((*error)(nil)).Elem()
)

// FunctionName is the default registration name of a workflow or activity
// function: its short name ("OrderWorkflow" for examples.OrderWorkflow, and
// "Charge" for the method value (*Activities).Charge).
func FunctionName(fn any) string {
	if s, ok := fn.(string); ok {
		return s
	}
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return fmt.Sprintf("<not a function: %T>", fn)
	}
	pc := v.Pointer()
	if name, ok := funcNames.Load(pc); ok {
		return name.(string)
	}
	full := runtime.FuncForPC(pc).Name()
	full = strings.TrimSuffix(full, "-fm")
	if i := strings.LastIndex(full, "."); i >= 0 {
		full = full[i+1:]
	}
	funcNames.Store(pc, full)
	return full
}

// funcNames caches FunctionName by code pointer: every ExecuteActivity
// and ExecuteChildWorkflow given a function asks for its name, on every
// replay too. (A method value's code pointer is its wrapper's, the same for
// every receiver: the name does not depend on the receiver either.)
var funcNames sync.Map // uintptr -> string

// fnSig is a checked workflow or activity function.
type fnSig struct {
	name      string
	fn        reflect.Value
	args      []reflect.Type // without the leading context
	hasResult bool
}

func checkFunc(kind, name string, fn any, ctxType reflect.Type) (*fnSig, error) {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("register %s %s: %T is not a function", kind, name, fn)
	}
	t := v.Type()
	if t.NumIn() < 1 || t.In(0) != ctxType {
		return nil, fmt.Errorf("register %s %s: the first parameter must be %s, got %s", kind, name, ctxType, t)
	}
	if t.IsVariadic() {
		return nil, fmt.Errorf("register %s %s: variadic functions are not supported", kind, name)
	}
	switch {
	case t.NumOut() == 1 && t.Out(0) == errorType:
	case t.NumOut() == 2 && t.Out(1) == errorType:
	default:
		return nil, fmt.Errorf("register %s %s: must return error or (T, error), got %s", kind, name, t)
	}
	s := &fnSig{name: name, fn: v, hasResult: t.NumOut() == 2}
	for i := 1; i < t.NumIn(); i++ {
		s.args = append(s.args, t.In(i))
	}
	return s, nil
}

// Registry holds the workflows and activities a worker runs.
type Registry struct {
	mu         sync.RWMutex
	workflows  map[string]*fnSig
	activities map[string]*fnSig
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{workflows: map[string]*fnSig{}, activities: map[string]*fnSig{}}
}

// RegisterWorkflow adds a workflow function under name (default: its short name).
func (r *Registry) RegisterWorkflow(fn any, name string) error {
	if name == "" {
		name = FunctionName(fn)
	}
	s, err := checkFunc("workflow", name, fn, workflowContextType)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.workflows[name]; dup {
		return fmt.Errorf("register workflow %s: already registered", name)
	}
	r.workflows[name] = s
	return nil
}

// RegisterActivity adds an activity function under name (default: its short
// name). A struct pointer registers each exported method as an activity.
func (r *Registry) RegisterActivity(fn any, name string) error {
	v := reflect.ValueOf(fn)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		t := v.Type()
		n := 0
		for i := 0; i < t.NumMethod(); i++ {
			m := t.Method(i)
			if err := r.RegisterActivity(v.Method(i).Interface(), name+m.Name); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return fmt.Errorf("register activities: %s has no exported methods", t)
		}
		return nil
	}
	if name == "" {
		name = FunctionName(fn)
	}
	s, err := checkFunc("activity", name, fn, contextType)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.activities[name]; dup {
		return fmt.Errorf("register activity %s: already registered", name)
	}
	r.activities[name] = s
	return nil
}

func (r *Registry) workflow(name string) (*fnSig, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.workflows[name]
	return s, ok
}

func (r *Registry) activity(name string) (*fnSig, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.activities[name]
	return s, ok
}

// WorkflowNames lists registered workflow types.
func (r *Registry) WorkflowNames() []string { return r.names(r.workflows) }

// ActivityNames lists registered activity names.
func (r *Registry) ActivityNames() []string { return r.names(r.activities) }

func (r *Registry) names(m map[string]*fnSig) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// EncodeArgs writes args as a JSON array. If fn is a function (not a name),
// the arguments are checked against its parameters first, so that a
// mismatch fails at the call site with the position named.
func EncodeArgs(kind, name string, fn any, args []any) (json.RawMessage, error) {
	if v := reflect.ValueOf(fn); v.Kind() == reflect.Func {
		t := v.Type()
		if want := t.NumIn() - 1; want >= 0 && want != len(args) && !t.IsVariadic() {
			return nil, fmt.Errorf("%s %s takes %d argument(s) after the context, got %d", kind, name, want, len(args))
		}
		for i, a := range args {
			pt := t.In(i + 1)
			if a == nil {
				continue
			}
			at := reflect.TypeOf(a)
			if !at.AssignableTo(pt) && !(at.ConvertibleTo(pt) && isNumber(at) && isNumber(pt)) {
				return nil, fmt.Errorf("%s %s argument %d: expected %s, got %s", kind, name, i+1, pt, at)
			}
		}
	}
	if args == nil {
		args = []any{}
	}
	b, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode arguments: %w", kind, name, err)
	}
	return b, nil
}

func isNumber(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// decodeArgs reads a JSON array into values of the function's parameter
// types, naming the position of any mismatch.
func (s *fnSig) decodeArgs(kind string, input json.RawMessage) ([]reflect.Value, error) {
	var raw []json.RawMessage
	if len(input) > 0 {
		if err := json.Unmarshal(input, &raw); err != nil {
			return nil, NewNonRetryableApplicationError(fmt.Sprintf("%s %s: input must be a JSON array of arguments: %v", kind, s.name, err), "ArgumentError")
		}
	}
	if len(raw) != len(s.args) {
		return nil, NewNonRetryableApplicationError(fmt.Sprintf("%s %s takes %d argument(s), got %d", kind, s.name, len(s.args), len(raw)), "ArgumentError")
	}
	out := make([]reflect.Value, len(raw))
	for i, r := range raw {
		p := reflect.New(s.args[i])
		if err := json.Unmarshal(r, p.Interface()); err != nil {
			return nil, NewNonRetryableApplicationError(fmt.Sprintf("%s %s argument %d (%s): %v", kind, s.name, i+1, s.args[i], err), "ArgumentError")
		}
		out[i] = p.Elem()
	}
	return out, nil
}

// splitResult turns a call's return values into JSON and an error.
func (s *fnSig) splitResult(kind string, out []reflect.Value) (json.RawMessage, error) {
	errV := out[len(out)-1]
	if !errV.IsNil() {
		return nil, errV.Interface().(error)
	}
	if !s.hasResult {
		return nil, nil
	}
	b, err := json.Marshal(out[0].Interface())
	if err != nil {
		return nil, NewNonRetryableApplicationError(fmt.Sprintf("%s %s: encode result: %v", kind, s.name, err), "ResultError")
	}
	if err := checkPayload(kind+" "+s.name+" result", b); err != nil {
		return nil, &ApplicationError{Message: err.Error(), Type: "PayloadTooLarge", NonRetryable: true, Cause: err}
	}
	return b, nil
}

// DecodeResult reads a JSON result into valuePtr (nil: discard).
func DecodeResult(what string, result json.RawMessage, valuePtr any) error {
	if valuePtr == nil {
		return nil
	}
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	if err := json.Unmarshal(result, valuePtr); err != nil {
		return fmt.Errorf("%s: decode result into %T: %w", what, valuePtr, err)
	}
	return nil
}
