//go:build !((amd64 || arm64) && gc)

package engine

// goroutineKey is a value unique to the calling goroutine: its id. Without
// the assembly of goroutine_*.s this costs a few microseconds a call.
func goroutineKey() uintptr { return uintptr(goid()) }
