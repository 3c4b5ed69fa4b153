package engine

// SetTestHookStart makes StartWorkflow stop, as if its client died, right
// after the step for which f returns true ("task", "reserved",
// "appended"). It returns the function that removes the hook.
func SetTestHookStart(f func(step string) bool) func() {
	testHookStart = f
	return func() { testHookStart = nil }
}

// ErrTestCrash is what StartWorkflow returns where the hook stopped it.
var ErrTestCrash = errTestCrash

// SetStartWaitDeliveries sets how many deliveries a start task whose ID
// another run holds gets before it is dropped; it returns the restore.
func SetStartWaitDeliveries(n uint64) func() {
	old := startWaitDeliveries
	startWaitDeliveries = n
	return func() { startWaitDeliveries = old }
}
