package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// FileVersion is the version of the history file format written by this code.
//
// Version 2 keeps the run's records as stored (records: kind and events),
// so a replay meets the decision boundaries a live worker meets. Version 1
// (a flat events list) is still read; its decision boundaries are guessed
// (see Version1Warning).
const FileVersion = 2

// Version1Warning is the limit of a version 1 history file, as the replayer
// and `dfctl replay --file` state it.
const Version1Warning = "version 1 file: decision boundaries are guessed; a change at a point where the run waited may be missed; re-export with dfctl show -o json"

// File is a run's history as a self-contained document: what `dfctl show -o
// json` writes and what a replayer loads.
type File struct {
	Version    int    `json:"version"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Type       string `json:"type"`
	TaskQueue  string `json:"task_queue"`
	// Records (version 2) are the run's records in order, each an input or
	// a decision record with its events, exactly as stored.
	Records []FileRecord `json:"records,omitempty"`
	// Events are the run's events in order. A version 1 file holds only
	// them; for a version 2 file DecodeFile derives them from Records (and
	// Encode does not write them).
	Events []Event `json:"events,omitempty"`
}

// FileRecord is one record of a version 2 history file.
type FileRecord struct {
	Kind   RecordKind `json:"kind"`
	Events []Event    `json:"events"`
}

// NewFile wraps a run's records (version 2), taking the run's identity from
// its WorkflowStarted event. Events is set to the flat list.
func NewFile(recs []Record) *File {
	f := &File{Version: FileVersion, Records: make([]FileRecord, 0, len(recs))}
	for _, rec := range recs {
		f.Records = append(f.Records, FileRecord{Kind: rec.Kind, Events: rec.Events})
	}
	f.Events = Flatten(recs)
	if f.Events == nil {
		f.Events = []Event{}
	}
	for _, ev := range f.Events {
		if ev.Type == WorkflowStarted {
			f.WorkflowID, f.RunID, f.Type, f.TaskQueue = ev.WorkflowID, ev.RunID, ev.Name, ev.TaskQueue
			break
		}
	}
	return f
}

// HistoryRecords returns the records of a version 2 file as history
// records, numbered 1, 2, … in place of stream sequences; nil for a version
// 1 file (whose boundaries only a guess can rebuild).
func (f *File) HistoryRecords() []Record {
	if f.Version < 2 {
		return nil
	}
	out := make([]Record, len(f.Records))
	for i, r := range f.Records {
		out[i] = Record{V: Version, Kind: r.Kind, Events: r.Events, StreamSeq: uint64(i + 1)}
	}
	return out
}

// Warning is the limit of the file's version ("" for a version 2 file).
func (f *File) Warning() string {
	if f.Version == 1 {
		return Version1Warning
	}
	return ""
}

// Encode writes the file as indented JSON. A version 2 file writes its
// records, not the flat events.
func (f *File) Encode(w io.Writer) error {
	out := *f
	if out.Version >= 2 {
		out.Events = nil
		if out.Records == nil {
			out.Records = []FileRecord{}
		}
	} else if out.Events == nil {
		out.Events = []Event{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}

// DecodeFile reads a history file, refusing versions it does not know and
// files whose events are out of order. For a version 2 file it sets Events
// to the records' events in order.
func DecodeFile(r io.Reader) (*File, error) {
	var f File
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("history file: %w", err)
	}
	if f.Version < 1 || f.Version > FileVersion {
		return nil, fmt.Errorf("history file: version %d is not supported (this build reads up to %d)", f.Version, FileVersion)
	}
	if f.Version == 1 && len(f.Records) > 0 {
		return nil, errors.New("history file: a version 1 file holds events, not records")
	}
	if f.Version >= 2 {
		if len(f.Events) > 0 {
			return nil, fmt.Errorf("history file: a version %d file holds its events in records, not in events", f.Version)
		}
		for i, rec := range f.Records {
			if rec.Kind != KindInput && rec.Kind != KindDecision {
				return nil, fmt.Errorf("history file: record %d has kind %q; want %q or %q", i+1, rec.Kind, KindInput, KindDecision)
			}
			if len(rec.Events) == 0 {
				return nil, fmt.Errorf("history file: record %d has no events", i+1)
			}
			f.Events = append(f.Events, rec.Events...)
		}
	}
	if len(f.Events) == 0 {
		return nil, errors.New("history file: no events")
	}
	for i, ev := range f.Events {
		if ev.Seq != int64(i+1) {
			return nil, fmt.Errorf("history file: event %d has seq %d; want %d", i, ev.Seq, i+1)
		}
		if hasRefs(&f.Events[i]) {
			return nil, fmt.Errorf("history file: event %d references a payload stored out of line; a history file holds every value inline (write it with dfctl show -o json)", ev.Seq)
		}
	}
	return &f, nil
}
