package engine

import "context"

// SetTestHookAfterDecision installs the crash-window hook for a test.
func SetTestHookAfterDecision(f func() bool) func() {
	testHookAfterDecision = f
	return func() { testHookAfterDecision = nil }
}

// PublishWorkflowInput publishes a workflow task input as an activity
// worker would, with a message id of the caller's choosing.
func (s *Store) PublishWorkflowInput(queue, workflowID, runID, inputID, msgID string, ev any) error {
	data := map[string]any{"v": 1, "workflow_id": workflowID, "run_id": runID, "input_id": inputID, "event": ev}
	_, err := s.JS.PublishMsg(context.Background(), newMsg(s.workflowTaskSubject(s.partOf(workflowID), queue), msgID, data))
	return err
}

// SetTestHookActivityReport installs the hook around an attempt's report.
func SetTestHookActivityReport(f func(name string, attempt int, published bool)) func() {
	testHookActivityReport = f
	return func() { testHookActivityReport = nil }
}

// SetTestHookActivityCrash installs the activity crash hook for a test.
func SetTestHookActivityCrash(f func(name string, attempt int, reported bool) bool) func() {
	testHookActivityCrash = f
	return func() { testHookActivityCrash = nil }
}

// OpenRunsWatched is how many runs started by s the runs watch follows
// to their close (WaitClosed waits for them without a read).
func (s *Store) OpenRunsWatched() int {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	return len(s.watch.mine)
}
