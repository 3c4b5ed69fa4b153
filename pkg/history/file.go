package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// FileVersion is the version of the history file format written by this code.
const FileVersion = 1

// File is a run's history as a self-contained document: what `dfctl show -o
// json` writes and what a replayer loads.
type File struct {
	Version    int     `json:"version"`
	WorkflowID string  `json:"workflow_id"`
	RunID      string  `json:"run_id"`
	Type       string  `json:"type"`
	TaskQueue  string  `json:"task_queue"`
	Events     []Event `json:"events"`
}

// NewFile wraps a run's events, taking the run's identity from its
// WorkflowStarted event.
func NewFile(evs []Event) *File {
	f := &File{Version: FileVersion, Events: evs}
	if f.Events == nil {
		f.Events = []Event{}
	}
	for _, ev := range evs {
		if ev.Type == WorkflowStarted {
			f.WorkflowID, f.RunID, f.Type, f.TaskQueue = ev.WorkflowID, ev.RunID, ev.Name, ev.TaskQueue
			break
		}
	}
	return f
}

// Encode writes the file as indented JSON.
func (f *File) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(f)
}

// DecodeFile reads a history file, refusing versions it does not know and
// files whose events are out of order.
func DecodeFile(r io.Reader) (*File, error) {
	var f File
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("history file: %w", err)
	}
	if f.Version < 1 || f.Version > FileVersion {
		return nil, fmt.Errorf("history file: version %d is not supported (this build reads up to %d)", f.Version, FileVersion)
	}
	if len(f.Events) == 0 {
		return nil, errors.New("history file: no events")
	}
	for i, ev := range f.Events {
		if ev.Seq != int64(i+1) {
			return nil, fmt.Errorf("history file: event %d has seq %d; want %d", i, ev.Seq, i+1)
		}
	}
	return &f, nil
}
