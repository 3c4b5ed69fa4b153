package engine

import (
	"runtime"
	"strconv"
)

// The dispatcher must tell, on every workflow call, whether the caller is
// the coroutine it runs or some other goroutine (one started with the go
// statement in workflow code, or one it gave up as deadlocked). Go gives
// goroutines no identity; runtime.Stack costs 2-70 µs a call (it formats
// the whole stack), so where the toolchain allows, goroutineKey reads the
// runtime's pointer to the calling goroutine (about 2 ns; goroutine_*.s),
// and elsewhere falls back to the goroutine id (goroutine_other.go).

// goid is the calling goroutine's id, as a stack dump names it. It costs a
// few microseconds: the dispatcher takes it once per coroutine, to find
// that coroutine in a dump when it is stuck.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) <= len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	id, _ := strconv.ParseUint(string(b[:i]), 10, 64)
	return id
}
