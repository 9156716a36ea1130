// Package sendgridtest is a local HTTP server that speaks the part of
// SendGrid's v3 API dsar uses (POST /v3/mail/send), so tests drive the real
// SendGrid client and read what would have been delivered.
package sendgridtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Mail is one delivered message as SendGrid received it.
type Mail struct {
	From      string
	FromName  string
	To        string
	ToName    string
	Subject   string
	Text      string
	HTML      string
	RequestID string    // custom_args.request_id
	Step      string    // custom_args.step
	Ref       string    // custom_args.ref (a breach)
	At        time.Time // when the server accepted it
}

// Server records every accepted message. Its URL goes in SENDGRID_API_URL.
type Server struct {
	*httptest.Server
	key string

	mu        sync.Mutex
	mails     []Mail
	failNext  int
	failCode  int
	attempts  int
	calls     int
	countOnly bool
	slowNext  int
	slowBy    time.Duration
	hangNext  int
	hangFor   time.Duration
	hanging   int
}

// New starts a server accepting the API key key.
func New(key string) *Server {
	s := &Server{key: key}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// FailNext makes the next n sends answer code, as SendGrid does when it is
// overloaded (429) or failing (5xx).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, code
}

// SlowNext makes the next n sends wait d before answering, as a
// provider does when it has taken a message and is slow to say so: the
// message counts as accepted from the start.
func (s *Server) SlowNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slowNext, s.slowBy = n, d
}

// HangNext makes the next n sends hang: the server reads the request,
// takes nothing, and after d (or when the client gives up first) drops
// the connection without an answer, as a provider does when it is stuck.
// The message is not accepted.
func (s *Server) HangNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangNext, s.hangFor = n, d
}

// Pending is how many sends SendGrid will still fail, slow down or
// hang as FailNext, SlowNext and HangNext asked, and those hanging now.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failNext + s.slowNext + s.hangNext + s.hanging
}

// serve answers at once, or after the delay SlowNext asked for, or hangs
// as HangNext asked.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var delay, hang time.Duration
	if s.hangNext > 0 && r.URL.Path == "/v3/mail/send" {
		s.hangNext--
		s.hanging++
		s.attempts++
		hang = s.hangFor
	} else if s.slowNext > 0 && r.URL.Path == "/v3/mail/send" {
		s.slowNext--
		delay = s.slowBy
	}
	s.mu.Unlock()
	if hang > 0 {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(hang):
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.hanging-- // before the drop, which the client sees at once
		s.mu.Unlock()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close() // no answer at all
		}
		return
	}
	if delay == 0 {
		s.handle(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.handle(rec, r)
	select {
	case <-time.After(delay):
	case <-r.Context().Done(): // the client gave up waiting
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// Mails returns a copy of what was accepted, in order.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Attempts is how many sends arrived, accepted or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// body is the subset of SendGrid's mail/send request that dsar sends.
type body struct {
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	Subject          string `json:"subject"`
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"to"`
		CustomArgs    map[string]string `json:"custom_args"`
		Substitutions map[string]string `json:"substitutions"`
	} `json:"personalizations"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
}

type apiErrors struct {
	Errors []apiError `json:"errors"`
}

type apiError struct {
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func reply(w http.ResponseWriter, code int, msg, field string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(apiErrors{Errors: []apiError{{Message: msg, Field: field}}})
}

// handle holds the lock only to count and to record: sends arriving
// together are read side by side, as SendGrid does.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		reply(w, http.StatusNotFound, "not found", "")
		return
	}
	s.mu.Lock()
	s.attempts++
	authorized := r.Header.Get("Authorization") == "Bearer "+s.key
	fail, countOnly := 0, s.countOnly
	if authorized && s.failNext > 0 {
		s.failNext--
		fail = s.failCode
	}
	s.mu.Unlock()
	if !authorized {
		reply(w, http.StatusUnauthorized, "The provided authorization grant is invalid, expired, or revoked", "")
		return
	}
	if fail != 0 {
		reply(w, fail, http.StatusText(fail), "")
		return
	}
	var b body
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		reply(w, http.StatusBadRequest, "Bad Request", "")
		return
	}
	// As SendGrid: 1 to 1000 personalizations, each with recipients.
	if n := len(b.Personalizations); n == 0 || n > 1000 {
		reply(w, http.StatusBadRequest, "The personalizations field must have between 1 and 1000 items", "personalizations")
		return
	}
	if b.From.Email == "" || b.Subject == "" {
		reply(w, http.StatusBadRequest, "from and subject are required", "")
		return
	}
	for _, p := range b.Personalizations {
		if len(p.To) != 1 || !strings.Contains(p.To[0].Email, "@") {
			reply(w, http.StatusBadRequest, "dsar sends each personalization to exactly one recipient", "personalizations.to")
			return
		}
	}
	var text, html string
	for _, c := range b.Content {
		switch c.Type {
		case "text/plain":
			text = c.Value
		case "text/html":
			html = c.Value
		}
	}
	mails := make([]Mail, 0, len(b.Personalizations))
	at := time.Now()
	for _, p := range b.Personalizations {
		var pairs []string
		for k, v := range p.Substitutions {
			pairs = append(pairs, k, v)
		}
		sub := strings.NewReplacer(pairs...)
		m := Mail{
			From: b.From.Email, FromName: b.From.Name, To: p.To[0].Email, ToName: p.To[0].Name,
			Subject: sub.Replace(b.Subject), RequestID: p.CustomArgs["request_id"], Step: p.CustomArgs["step"],
			Ref: p.CustomArgs["ref"], At: at,
		}
		if !countOnly {
			m.Text, m.HTML = sub.Replace(text), sub.Replace(html)
		}
		mails = append(mails, m)
	}
	s.mu.Lock()
	s.mails = append(s.mails, mails...)
	s.calls++
	id := len(s.mails)
	s.mu.Unlock()
	w.Header().Set("X-Message-Id", fmt.Sprintf("local-%d", id))
	w.WriteHeader(http.StatusAccepted)
}

// KeepBodiesOff stops the server keeping each message's text and HTML,
// for runs that send to very many people and check only who got what.
func (s *Server) KeepBodiesOff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countOnly = true
}

// Calls is how many sends were accepted (a batch is one call).
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}
