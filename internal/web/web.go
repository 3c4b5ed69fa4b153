// Package web is dfctl web: the history inspector of the TUI served to a
// browser. It shows the runs list (the same filters and counts), a run's
// grouped event log, timeline, pending card and event JSON, and follows an
// open run with server-sent events. It reads runs and histories through
// Source, the same calls the TUI makes (tui.StoreSource implements it),
// filters and counts runs with internal/runlist and groups and renders
// events with pkg/history, as the TUI does: there is no second model of
// runs or events here.
//
// Templates and assets are embedded: no build step, no CDN, and the pages
// work offline. The package never imports nats, the CLI or the TUI.
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/internal/runlist"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/history"
)

// Source is what the web views read and do: a subset of tui.Source, so
// that dfctl passes the TUI's StoreSource and tests can pass fakes.
type Source interface {
	// ListRuns returns the latest run of every workflow ID, newest first.
	ListRuns(ctx context.Context) ([]engine.RunInfo, error)
	// Describe returns a run's state (runID "": the latest run).
	Describe(ctx context.Context, workflowID, runID string) (*engine.RunInfo, error)
	// ReadPage returns at most limit records of a run stored after stream
	// sequence after.
	ReadPage(ctx context.Context, workflowID, runID string, after uint64, limit int) ([]history.Record, error)
	// Follow yields the records stored after stream sequence after, then
	// each new one, until ctx ends.
	Follow(ctx context.Context, workflowID, runID string, after uint64) iter.Seq2[history.Record, error]

	Signal(ctx context.Context, workflowID, runID, name string, input json.RawMessage) error
	Cancel(ctx context.Context, workflowID, runID, reason string) error
	Terminate(ctx context.Context, workflowID, runID, reason string) error
	ReplayRun(ctx context.Context, workflowID, runID string) (*engine.ReplayResult, error)
	Reset(ctx context.Context, req engine.ResetRequest) (*engine.ResetResult, error)
}

// Options configure a Server.
type Options struct {
	Source Source
	// Actions enables signal, cancel, terminate, replay check and reset;
	// without it every action is refused (403) and none is offered.
	Actions bool
	// Token, when set, is required on every request: ?token=T once (it is
	// then kept in a cookie) or an "Authorization: Bearer T" header.
	Token string
	// CrashWorker, when set (dfctl demo --web only), offers a "crash the
	// worker" button that calls it; it returns the page of the run to
	// watch (a new run when the demo's had closed).
	CrashWorker func(ctx context.Context) (path string, err error)
	// Now is the clock (tests fix it); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Heartbeat is how often an idle live stream sends a comment, so that
	// proxies keep it open (default 15s).
	Heartbeat time.Duration
}

// maxEvents bounds what a run page reads; the rest is left to dfctl show.
const maxEvents = 20000

// maxRows bounds the rows of the runs list.
const maxRows = 500

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server serves the pages.
type Server struct {
	o     Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns a server for o.
func New(o Options) (*Server, error) {
	if o.Source == nil {
		return nil, errors.New("web: no source")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	s := &Server{o: o, pages: map[string]*template.Template{}}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, p := range []string{"runs", "run", "error"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		s.pages[p] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static))))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/runs", http.StatusFound) })
	m.HandleFunc("GET /runs", s.handleRuns)
	m.HandleFunc("GET /runs/{id}", s.handleRun)
	m.HandleFunc("GET /runs/{id}/{run}", s.handleRun)
	m.HandleFunc("GET /runs/{id}/{run}/live", s.handleLive)
	m.HandleFunc("POST /runs/{id}/{run}/{action}", s.handleAction)
	m.HandleFunc("POST /demo/crash", s.handleCrash)
	s.mux = m
	return s, nil
}

func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler: the token check, cross-origin
// protection of the actions (a page elsewhere cannot post to them), then
// the pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	if s.o.Token != "" && !s.authorized(w, r) {
		return
	}
	http.NewCrossOriginProtection().Handler(s.mux).ServeHTTP(w, r)
}

const tokenCookie = "dfctl_web_token"

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	eq := func(t string) bool { return subtle.ConstantTimeCompare([]byte(t), []byte(s.o.Token)) == 1 }
	if t := r.URL.Query().Get("token"); t != "" && eq(t) {
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q := r.URL.Query()
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	if c, err := r.Cookie(tokenCookie); err == nil && eq(c.Value) {
		return true
	}
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && eq(t) {
		return true
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintln(w, "dfctl web: this server needs its token: open the URL it printed (with ?token=...).")
	return false
}

// RunPath is the stable URL path of a run (runlist.RunPath).
var RunPath = runlist.RunPath

// --- runs list

type listPage struct {
	base
	Query, Status string
	Chips         []chip
	Rows          []runRow
	Shown, Total  int
	Truncated     bool
	Title         string
}

type chip struct {
	Key, Label, Glyph, Class, Href string
	Count                          int
	Current                        bool
}

type runRow struct {
	Href, ID, Type, Queue, Started, StartedISO, Duration string
	Status                                               statusView
}

type statusView struct{ Text, Class string }

// base is what every page's layout needs.
type base struct {
	Actions bool
	Demo    bool
	Msg     string
	MsgErr  bool
	Crumbs  []crumb
}

type crumb struct{ Label, Href string }

// statusOf is a run's status as the TUI writes it.
func statusOf(ri *engine.RunInfo) statusView {
	text, tone := runlist.StatusOf(ri)
	return statusView{text, toneClass(tone)}
}

func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := q.Get("q")
	f := runlist.ParseFilter(query, q.Get("status"))
	status := f.Status
	runs, err := s.o.Source.ListRuns(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	now := s.o.Now()
	p := &listPage{base: s.base(r), Query: query, Status: status, Total: len(runs)}
	p.Crumbs = []crumb{{"runs", ""}}
	counts := f.Counts(runs)
	for i := range runs {
		ri := &runs[i]
		if !f.Matches(ri) {
			continue
		}
		p.Shown++
		if len(p.Rows) == maxRows {
			p.Truncated = true
			continue
		}
		p.Rows = append(p.Rows, runRow{
			Href: RunPath(ri.WorkflowID, ""), ID: ri.WorkflowID, Type: ri.Type, Queue: ri.TaskQueue,
			Started: history.RelativeTime(now, ri.StartTime), StartedISO: ri.StartTime.UTC().Format(time.RFC3339),
			Duration: runlist.Duration(now, ri), Status: statusOf(ri),
		})
	}
	for _, k := range runlist.Statuses {
		v := url.Values{}
		if query != "" {
			v.Set("q", query)
		}
		if k.Key != "" {
			v.Set("status", k.Key)
		}
		href := "/runs"
		if len(v) > 0 {
			href += "?" + v.Encode()
		}
		p.Chips = append(p.Chips, chip{Key: k.Key, Label: k.Label, Glyph: k.Glyph, Class: toneClass(k.Tone), Href: href,
			Count: counts[k.Key], Current: k.Key == status})
	}
	p.Title = fmt.Sprintf("runs (%d)", p.Total)
	if p.Shown != p.Total {
		p.Title = fmt.Sprintf("runs (%d of %d)", p.Shown, p.Total)
	}
	s.render(w, r, "runs", p)
}

func (s *Server) base(r *http.Request) base {
	q := r.URL.Query()
	b := base{Actions: s.o.Actions, Demo: s.o.CrashWorker != nil, Msg: q.Get("msg")}
	if e := q.Get("err"); e != "" {
		b.Msg, b.MsgErr = e, true
	}
	return b
}

// --- rendering

var funcs = template.FuncMap{
	"runPath": RunPath,
	"plural":  plural,
	"num":     func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, page string, data any) {
	name := "layout"
	if r.URL.Query().Get("partial") == "1" {
		name = "body" // the part the live page swaps
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.pages[page].ExecuteTemplate(w, name, data); err != nil {
		s.o.Logger.Error("web: render", "page", page, "err", err)
	}
}

type errorPage struct {
	base
	Code    int
	Message string
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if errors.Is(err, engine.ErrWorkflowNotFound) {
		code = http.StatusNotFound
	} else if errors.Is(err, engine.ErrInvalidArgument) {
		code = http.StatusBadRequest
	}
	p := &errorPage{base: s.base(r), Code: code, Message: err.Error()}
	p.Crumbs = []crumb{{"runs", "/runs"}, {http.StatusText(code), ""}}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := s.pages["error"].ExecuteTemplate(w, "layout", p); err != nil {
		s.o.Logger.Error("web: render", "page", "error", "err", err)
	}
}
