package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/durablefuture/durablefuture/internal/testsrv"
)

// webCmd runs a serving dfctl command (web, demo --web) until the test
// ends, and returns the URL it printed.
func webCmd(t *testing.T, args ...string) (printed string, errOut *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errOut = &syncBuffer{want: "serving http://", found: make(chan struct{})}
	var out syncBuffer
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: errOut}
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, args, ios) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dfctl %v exited %d:\n%s", args, code, errOut.String())
		}
	})
	select {
	case <-errOut.found:
	case code := <-done:
		done <- code
		t.Fatalf("dfctl %v exited %d before serving:\n%s", args, code, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("dfctl %v did not say where it serves:\n%s", args, errOut.String())
	}
	// The line is written at once; read it whole.
	m := regexp.MustCompile(`serving (http://\S+)`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no URL in:\n%s", errOut.String())
	}
	return m[1], errOut
}

// browserLike keeps cookies, as a browser does (the token's).
var browserLike = func() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}()

func fetch(t *testing.T, u string) (int, string, string) {
	t.Helper()
	resp, err := browserLike.Get(u)
	testsrv.Must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL.String()
}

func TestWeb(t *testing.T) {
	e := newEnv(t)
	r := e.run(t, false, "execute", "GreetWorkflow", "--input", `"Ada"`, "--id", "web-greet")
	expectCode(t, r, 0)

	u, errOut := webCmd(t, "-s", e.url, "web", "--addr", "127.0.0.1:0")
	if strings.Contains(errOut.String(), "warning") {
		t.Errorf("loopback: a warning:\n%s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "read-only") {
		t.Errorf("no read-only note:\n%s", errOut.String())
	}
	code, body, _ := fetch(t, u)
	if code != 200 || !strings.Contains(body, "web-greet") || !strings.Contains(body, "✓ completed") {
		t.Fatalf("GET %s: %d\n%s", u, code, body)
	}
	base := strings.TrimSuffix(u, "/runs")
	code, body, _ = fetch(t, base+"/runs/web-greet")
	if code != 200 || !strings.Contains(body, "workflow completed") {
		t.Fatalf("run page: %d\n%s", code, body)
	}
	resp, err := http.PostForm(base+"/runs/web-greet/x/terminate", url.Values{"confirm": {"yes"}})
	testsrv.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("terminate without --actions: %d", resp.StatusCode)
	}
}

func TestWebWarnsOffLoopbackAndTakesAToken(t *testing.T) {
	e := newEnv(t)
	u, errOut := webCmd(t, "-s", e.url, "web", "--addr", "0.0.0.0:0", "--token", "tok-1")
	if !strings.Contains(errOut.String(), "warning:") || !strings.Contains(errOut.String(), "not only on this machine") {
		t.Errorf("no warning for 0.0.0.0:\n%s", errOut.String())
	}
	if !strings.Contains(u, "token=tok-1") {
		t.Fatalf("printed URL %s has no token", u)
	}
	if code, _, _ := fetch(t, u); code != 200 {
		t.Fatalf("GET %s: %d", u, code)
	}
	resp, err := http.Get(strings.Split(u, "?")[0]) // no cookie
	testsrv.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", resp.StatusCode)
	}
}

func TestWebBadAddr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := newEnv(t)
	r := dfctl(t, ctx, false, "-s", e.url, "web", "--addr", "nowhere")
	expectCode(t, r, 2)
}

// demo --web: the crash button kills the worker in the middle of a run,
// and the run still completes (a new worker goes on from its history).
func TestDemoWebCrash(t *testing.T) {
	u, _ := webCmd(t, "demo", "--web", "--addr", "127.0.0.1:0")
	base := u[:strings.Index(u, "/runs/")]
	code, body, _ := fetch(t, u)
	if code != 200 || !strings.Contains(body, "Crash the worker") {
		t.Fatalf("demo page: %d\n%s", code, body)
	}
	resp, err := http.PostForm(base+"/demo/crash", url.Values{"back": {"/runs"}})
	testsrv.Must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := resp.Request.URL.String()
	if resp.StatusCode != 200 || !strings.Contains(page, "/runs/demo-") || !strings.Contains(string(b), "the worker was killed") {
		t.Fatalf("crash: %d %s\n%s", resp.StatusCode, page, b)
	}
	ctx := testsrv.Context(t, 45*time.Second)
	runPage := strings.Split(page, "?")[0]
	testsrv.WaitFor(t, ctx, "the crashed run to complete", func() bool {
		_, body, _ := fetch(t, runPage)
		return strings.Contains(body, "✓ completed")
	})
}

// $DFCTL_WEB_TOKEN is the token when --token is not given, and --help
// does not print it.
func TestWebTokenFromEnvironment(t *testing.T) {
	t.Setenv("DFCTL_WEB_TOKEN", "env-tok-9")
	e := newEnv(t)
	u, _ := webCmd(t, "-s", e.url, "web", "--addr", "127.0.0.1:0")
	if !strings.Contains(u, "token=env-tok-9") {
		t.Fatalf("printed URL %s: want the token of the environment", u)
	}
	r := dfctl(t, context.Background(), false, "web", "--help")
	if strings.Contains(r.out+r.errOut, "env-tok-9") {
		t.Fatalf("--help shows the token:\n%s", r.out)
	}
}
