// Package ignore shows the //dfvet:ignore comment.
package ignore

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/durablefuture/durablefuture/pkg/sdk/workflow"
)

func IgnoredWorkflow(ctx workflow.Context) {
	_ = time.Now() //dfvet:ignore DF2003 only logged, never decides a command

	//dfvet:ignore DF2004 the line above silences the line below
	_ = rand.Intn(3)

	//dfvet:ignore DF2003,DF2004 several codes
	_, _ = time.Now(), rand.Intn(3)

	go func() {}() //dfvet:ignore every rule on this line

	//dfvet:ignore
	fmt.Println("bare directive: every rule")

	// A code that does not match silences nothing.
	_ = time.Now() //dfvet:ignore DF2004 wrong code // want `DF2003 time.Now`

	// Only the line and the line above.
	//dfvet:ignore DF2003 too far away

	_ = time.Now() // want `DF2003 time.Now`

	// Not the directive: a space after the slashes, or a longer word.
	_ = time.Now() // dfvet:ignore DF2003 // want `DF2003 time.Now`
	_ = time.Now() //dfvet:ignored DF2003 // want `DF2003 time.Now`
}
