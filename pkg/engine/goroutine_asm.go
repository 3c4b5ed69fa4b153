//go:build (amd64 || arm64) && gc

package engine

// goroutineKey is a value unique to the calling goroutine among the live
// goroutines: the address of the runtime's descriptor of it (its g), which
// the runtime may give to a new goroutine only after this one has ended.
func goroutineKey() uintptr
