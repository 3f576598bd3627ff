package simulator

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// The control API: HTTP/JSON, version 1. Every error is a 4xx or 5xx status
// with {"error": "message"}.
//
//	GET    /v1/cards                      list the cards               → [CardInfo]
//	POST   /v1/cards                      add a card {slot,profile,serial} → CardInfo (201)
//	GET    /v1/cards/{id}                 one card                     → CardInfo
//	DELETE /v1/cards/{id}[?wipe=true]     take a card out of the simulator
//	POST   /v1/cards/{id}/insert          put the card in its reader   → CardInfo
//	POST   /v1/cards/{id}/remove          pull it out                  → CardInfo
//	POST   /v1/cards/{id}/power-cycle     cut and restore its power    → CardInfo
//	POST   /v1/cards/{id}/tear {after:k}  cut power after k more writes → CardInfo
//	DELETE /v1/cards/{id}/tear            disarm                       → CardInfo
//	POST   /v1/cards/{id}/touch           touch the sensor             → TouchResult
//	PUT    /v1/cards/{id}/touch-mode {mode: auto|manual|never}        → CardInfo
//	GET    /v1/cards/{id}/state           counters, keys, objects      → CardState
//	POST   /v1/cards/{id}/factory-reset {wipe:true}                    → CardInfo
//	POST   /v1/cards/{id}/transmit {apdu:hex}                          → TransmitResult
//	POST   /v1/cards/{id}/totp-enrol      a new TOTP seed              → TOTPEnrolment
//	POST   /v1/cards/{id}/reveal-credentials  the issued PIN/PUK, once → piv.Issued
//
// A relayed card (Simulator.AddRelay) takes insert, remove, power-cycle
// and transmit; tear, touch, touch-mode, state, factory-reset, totp-enrol
// and reveal-credentials answer 409 (ErrRelayed): the card's memory and
// sensor are its own.
//
// It is an administrator interface: it wipes cards, arms tears and reveals
// issued PINs, PUKs and TOTP seeds. Before any route, every request passes
// these checks (see [ControlHandler]), in this order:
//
//   - no Origin or Sec-Fetch-Site header (403): browsers add them, command
//     line clients do not, so no web page can drive the API;
//   - over TCP only: a Host naming loopback, 127.0.0.1, [::1] or localhost,
//     with any port (403): a page whose DNS name is rebound to 127.0.0.1
//     still sends its own name;
//   - over TCP only: Authorization: Bearer TOKEN, the simulator's token
//     (401); on the unix socket its file mode, 0600, is the authentication;
//   - every request other than GET and HEAD, and any request with a body,
//     has Content-Type: application/json (415), which a page cannot send
//     across origins without a CORS preflight, which the API never grants.

// maxRequestBody bounds a request body: the largest is a transmit of an
// extended APDU in hex.
const maxRequestBody = 256 << 10

// maxSocketPath is the longest unix socket path Linux accepts.
const maxSocketPath = 107

// cardWait bounds how long a request waits for a busy card.
const cardWait = 10 * time.Second

// AddRequest is the body of POST /v1/cards. Slot nil: the lowest free.
type AddRequest struct {
	Slot    *int   `json:"slot,omitempty"`
	Profile string `json:"profile,omitempty"`
	Serial  uint32 `json:"serial,omitempty"`
}

// TearRequest is the body of POST /v1/cards/{id}/tear.
type TearRequest struct {
	After *int `json:"after"`
}

// TouchModeRequest is the body of PUT /v1/cards/{id}/touch-mode.
type TouchModeRequest struct {
	Mode string `json:"mode"`
}

// TouchResult answers POST /v1/cards/{id}/touch.
type TouchResult struct {
	// Waiting: the card was waiting for the touch. If not, the touch counts
	// for the next wait that begins within the touch timeout.
	Waiting bool `json:"waiting"`
}

// FactoryResetRequest is the body of POST /v1/cards/{id}/factory-reset:
// Wipe must be true, so that no stray request erases a card.
type FactoryResetRequest struct {
	Wipe bool `json:"wipe"`
}

// TransmitRequest is the body of POST /v1/cards/{id}/transmit.
type TransmitRequest struct {
	APDU string `json:"apdu"`
}

// TransmitResult answers a transmit.
type TransmitResult struct {
	Response string `json:"response"`
	SW       string `json:"sw"`
}

type errorBody struct {
	Error string `json:"error"`
}

// httpError is an error with the status it is answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// ControlHandler serves the control API for sim. Requests that arrive over
// TCP must carry token as a bearer token (Authorization: Bearer token) and a
// loopback Host; requests on a unix socket need no token. A request whose
// connection is not known to be a unix socket (no
// [http.LocalAddrContextKey], as outside an [http.Server]) is treated as
// TCP, and with an empty token every TCP request is refused. The checks are
// listed with the routes at the top of this file.
func ControlHandler(sim *Simulator, log *slog.Logger, token string) http.Handler {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &controlHandler{sim: sim, log: log, token: token}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cards", h.wrap(h.list))
	mux.HandleFunc("POST /v1/cards", h.wrap(h.add))
	mux.HandleFunc("GET /v1/cards/{id}", h.card(func(_ *http.Request, r *Reader) (any, error) { return r.Info(), nil }))
	mux.HandleFunc("DELETE /v1/cards/{id}", h.wrap(h.delete))
	mux.HandleFunc("POST /v1/cards/{id}/insert", h.card(func(q *http.Request, r *Reader) (any, error) { return infoAfter(r, r.Insert(q.Context())) }))
	mux.HandleFunc("POST /v1/cards/{id}/remove", h.card(func(q *http.Request, r *Reader) (any, error) { return infoAfter(r, r.Remove(q.Context())) }))
	mux.HandleFunc("POST /v1/cards/{id}/power-cycle", h.card(func(q *http.Request, r *Reader) (any, error) { return infoAfter(r, r.PowerCycle(q.Context())) }))
	mux.HandleFunc("POST /v1/cards/{id}/tear", h.card(h.tear))
	mux.HandleFunc("DELETE /v1/cards/{id}/tear", h.card(func(q *http.Request, r *Reader) (any, error) { return infoAfter(r, r.ArmTear(q.Context(), -1)) }))
	mux.HandleFunc("POST /v1/cards/{id}/touch", h.card(func(_ *http.Request, r *Reader) (any, error) {
		if err := r.notRelayed("touch"); err != nil {
			return nil, err
		}
		return TouchResult{Waiting: r.Touch()}, nil
	}))
	mux.HandleFunc("PUT /v1/cards/{id}/touch-mode", h.card(h.touchMode))
	mux.HandleFunc("GET /v1/cards/{id}/state", h.card(func(q *http.Request, r *Reader) (any, error) { return r.State(q.Context()) }))
	mux.HandleFunc("POST /v1/cards/{id}/factory-reset", h.card(h.factoryReset))
	mux.HandleFunc("POST /v1/cards/{id}/transmit", h.card(h.transmit))
	mux.HandleFunc("POST /v1/cards/{id}/totp-enrol", h.card(func(q *http.Request, r *Reader) (any, error) { return r.EnrolTOTP(q.Context()) }))
	mux.HandleFunc("POST /v1/cards/{id}/reveal-credentials", h.card(func(q *http.Request, r *Reader) (any, error) { return r.RevealCredentials(q.Context()) }))
	mux.HandleFunc("/", func(w http.ResponseWriter, q *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no such operation: %s %s (see the API list in the simulator package)", q.Method, q.URL.Path)})
	})
	return h.guard(mux)
}

type controlHandler struct {
	sim   *Simulator
	log   *slog.Logger
	token string // bearer token required over TCP; empty: TCP refused
}

// guard refuses, before any route, the requests [ControlHandler] lists.
func (h *controlHandler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if err := h.admit(q); err != nil {
			status, msg := h.classify(err)
			// Never the Authorization header: it is the token, or a guess.
			h.log.Warn("control request refused", "method", q.Method, "path", q.URL.Path, "remote", q.RemoteAddr, "status", status, "err", msg)
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tessera"`)
			}
			writeJSON(w, status, errorBody{msg})
			return
		}
		next.ServeHTTP(w, q)
	})
}

// admit returns an *httpError for a request the control API refuses.
func (h *controlHandler) admit(q *http.Request) error {
	for _, name := range []string{"Origin", "Sec-Fetch-Site"} {
		if len(q.Header.Values(name)) > 0 {
			return &httpError{http.StatusForbidden, fmt.Sprintf("%s header present, as a web browser sends it: the control API is an administrator interface and refuses web pages", name)}
		}
	}
	if !overUnixSocket(q) {
		if !loopbackHost(q.Host) {
			return &httpError{http.StatusForbidden, fmt.Sprintf("Host %.80q: over TCP the control API answers only requests for 127.0.0.1, [::1] or localhost", q.Host)}
		}
		if !h.tokenOK(q) {
			return &httpError{http.StatusUnauthorized, "missing or wrong bearer token: over TCP the control API needs Authorization: Bearer with the token the simulator wrote to its token file (STATE/control.token)"}
		}
	}
	if q.Method != http.MethodGet && q.Method != http.MethodHead || q.ContentLength != 0 {
		ct := q.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %.80q: want application/json", ct)}
		}
	}
	return nil
}

// tokenOK reports whether q carries the bearer token, compared in constant
// time.
func (h *controlHandler) tokenOK(q *http.Request) bool {
	if h.token == "" {
		return false
	}
	scheme, got, ok := strings.Cut(q.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.token)) == 1
}

// overUnixSocket reports whether q came on a unix socket connection.
func overUnixSocket(q *http.Request) bool {
	_, ok := q.Context().Value(http.LocalAddrContextKey).(*net.UnixAddr)
	return ok
}

// loopbackHost reports whether a Host header names loopback: localhost or a
// loopback IP address, with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func infoAfter(r *Reader, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return r.Info(), nil
}

// wrap turns a function returning a value or an error into a handler.
func (h *controlHandler) wrap(fn func(*http.Request) (any, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, q *http.Request) {
		ctx, cancel := context.WithTimeout(q.Context(), cardWait)
		defer cancel()
		q = q.WithContext(ctx)
		q.Body = http.MaxBytesReader(w, q.Body, maxRequestBody)
		v, status, err := fn(q)
		if err != nil {
			status, msg := h.classify(err)
			h.log.Debug("control request failed", "method", q.Method, "path", q.URL.Path, "status", status, "err", msg)
			writeJSON(w, status, errorBody{msg})
			return
		}
		writeJSON(w, status, v)
	}
}

// card is wrap for operations on the card named by the path.
func (h *controlHandler) card(fn func(*http.Request, *Reader) (any, error)) http.HandlerFunc {
	return h.wrap(func(q *http.Request) (any, int, error) {
		r, err := h.cardOf(q)
		if err != nil {
			return nil, 0, err
		}
		v, err := fn(q, r)
		return v, http.StatusOK, err
	})
}

func (h *controlHandler) cardOf(q *http.Request) (*Reader, error) {
	s := q.PathValue("id")
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return nil, badRequest("card id %q: want a card number such as 0", s)
	}
	return h.sim.Card(id)
}

// classify maps an error to a status and a message.
func (h *controlHandler) classify(err error) (int, string) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", mbe.Limit)
	case errors.Is(err, ErrNoCard):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, ErrSlotTaken), errors.Is(err, ErrRemoved), errors.Is(err, ErrMute), errors.Is(err, ErrRevealed), errors.Is(err, ErrRelayed):
		return http.StatusConflict, err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, err.Error() + " (is it waiting for a touch?)"
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// decode reads a JSON body into v: one object, no unknown fields. An empty
// body leaves v as it is when allowEmpty.
func decode(q *http.Request, v any, allowEmpty bool) error {
	dec := json.NewDecoder(q.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.Is(err, io.EOF) && allowEmpty:
			return nil
		case errors.Is(err, io.EOF):
			return badRequest("missing JSON body")
		}
		return badRequest("bad JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("bad JSON body: more than one value")
	}
	return nil
}

func (h *controlHandler) list(*http.Request) (any, int, error) {
	out := []CardInfo{}
	for _, r := range h.sim.Cards() {
		out = append(out, r.Info())
	}
	return out, http.StatusOK, nil
}

func (h *controlHandler) add(q *http.Request) (any, int, error) {
	var req AddRequest
	if err := decode(q, &req, true); err != nil {
		return nil, 0, err
	}
	spec := CardSpec{Slot: -1, Profile: req.Profile, Serial: req.Serial}
	if req.Slot != nil {
		if *req.Slot < 0 || *req.Slot >= MaxSlots {
			return nil, 0, badRequest("slot %d: want 0 to %d", *req.Slot, MaxSlots-1)
		}
		spec.Slot = *req.Slot
	}
	r, err := h.sim.Add(spec)
	if err != nil {
		if errors.Is(err, ErrSlotTaken) || errors.Is(err, ErrClosed) {
			return nil, 0, err
		}
		// Anything else is about what was asked: a profile that does not
		// resolve, a card created with another profile, damaged state.
		return nil, 0, badRequest("%v", err)
	}
	return r.Info(), http.StatusCreated, nil
}

func (h *controlHandler) delete(q *http.Request) (any, int, error) {
	r, err := h.cardOf(q)
	if err != nil {
		return nil, 0, err
	}
	wipe := false
	if s := q.URL.Query().Get("wipe"); s != "" {
		if wipe, err = strconv.ParseBool(s); err != nil {
			return nil, 0, badRequest("wipe=%q: want true or false", s)
		}
	}
	if err := h.sim.Delete(r.ID(), wipe); err != nil {
		return nil, 0, err
	}
	return map[string]any{"deleted": r.ID(), "wiped": wipe}, http.StatusOK, nil
}

func (h *controlHandler) tear(q *http.Request, r *Reader) (any, error) {
	var req TearRequest
	if err := decode(q, &req, false); err != nil {
		return nil, err
	}
	if req.After == nil {
		return nil, badRequest(`missing "after": the number of writes to let through before the power cut`)
	}
	if *req.After < 0 {
		return nil, badRequest(`"after": %d, want 0 or more (DELETE disarms)`, *req.After)
	}
	return infoAfter(r, r.ArmTear(q.Context(), *req.After))
}

func (h *controlHandler) touchMode(q *http.Request, r *Reader) (any, error) {
	if err := r.notRelayed("touch mode"); err != nil {
		return nil, err
	}
	var req TouchModeRequest
	if err := decode(q, &req, false); err != nil {
		return nil, err
	}
	m, err := ParseTouchMode(req.Mode)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	r.SetTouchMode(m)
	return r.Info(), nil
}

func (h *controlHandler) factoryReset(q *http.Request, r *Reader) (any, error) {
	var req FactoryResetRequest
	if err := decode(q, &req, true); err != nil {
		return nil, err
	}
	if !req.Wipe {
		return nil, badRequest(`a factory reset erases the card's keys, objects and PINs: send {"wipe": true} to confirm`)
	}
	return infoAfter(r, r.FactoryReset(q.Context()))
}

func (h *controlHandler) transmit(q *http.Request, r *Reader) (any, error) {
	var req TransmitRequest
	if err := decode(q, &req, false); err != nil {
		return nil, err
	}
	cmd, err := hex.DecodeString(strings.ReplaceAll(req.APDU, " ", ""))
	if err != nil {
		return nil, badRequest(`"apdu": not hex: %v`, err)
	}
	if len(cmd) < 4 {
		return nil, badRequest(`"apdu": %d bytes, a command APDU has at least 4`, len(cmd))
	}
	resp, err := r.Transport().Transmit(q.Context(), cmd)
	if err != nil {
		return nil, err
	}
	return TransmitResult{Response: strings.ToUpper(hex.EncodeToString(resp)), SW: strings.ToUpper(hex.EncodeToString(resp[len(resp)-2:]))}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ListenControl opens the control API's listener: a unix socket at path
// (created with mode 0600 under a umask on unix, and chmod 0600) when
// tcpAddr is empty, else a TCP listener, which must be on a loopback
// address (and whose requests need a token: [ServeControl]). A stale socket
// file left by a killed simulator is replaced; a socket another simulator
// answers on is an error.
func ListenControl(path, tcpAddr string) (net.Listener, error) {
	if tcpAddr != "" {
		host, _, err := net.SplitHostPort(tcpAddr)
		if err != nil {
			return nil, fmt.Errorf("control address %q: want HOST:PORT on loopback, such as 127.0.0.1:7788", tcpAddr)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("control address %q: the control API listens on loopback only (127.0.0.1, ::1 or localhost)", tcpAddr)
		}
		ln, err := net.Listen("tcp", tcpAddr)
		if err != nil {
			return nil, fmt.Errorf("control API: %w", err)
		}
		return ln, nil
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("control socket path %s is %d bytes, longer than a unix socket allows (%d): choose a shorter --control path", path, len(path), maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("control socket path %s exists and is not a socket: choose another --control path", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s answers: another tessera sim is running with it (stop it, or choose another --control or --state)", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale control socket: %w", err)
		}
	}
	ln, err := listenUnixPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control API: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control API: %w", err)
	}
	return ln, nil
}

// ServeControl serves the control API for sim on ln until ctx ends. On a
// TCP listener every request needs token as a bearer token
// ([ControlHandler]); an empty token there is an error. On a unix socket
// token is not needed.
func ServeControl(ctx context.Context, ln net.Listener, sim *Simulator, log *slog.Logger, token string) error {
	return serveControlIdle(ctx, ln, sim, log, token, controlIdleTimeout)
}

// controlIdleTimeout is how long the control API keeps a connection open
// between requests. Without a bound, anyone who may connect (any local
// user, on TCP) could hold connections open without a token until the
// simulator runs out of file descriptors.
const controlIdleTimeout = 30 * time.Second

// serveControlIdle is ServeControl closing a connection idle for idle.
func serveControlIdle(ctx context.Context, ln net.Listener, sim *Simulator, log *slog.Logger, token string, idle time.Duration) error {
	if _, unix := ln.Addr().(*net.UnixAddr); !unix && token == "" {
		return errors.New("serving the control API on TCP: no token (NewControlToken)")
	}
	srv := &http.Server{
		Handler:           ControlHandler(sim, log, token),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idle,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
