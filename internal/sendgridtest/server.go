// Package sendgridtest is a local HTTP server that speaks the part of
// SendGrid's v3 API dsar uses (POST /v3/mail/send), so tests drive the real
// SendGrid client and read what would have been delivered.
package sendgridtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	RequestID string // custom_args.request_id
	Step      string // custom_args.step
}

// Server records every accepted message. Its URL goes in SENDGRID_API_URL.
type Server struct {
	*httptest.Server
	key string

	mu       sync.Mutex
	mails    []Mail
	failNext int
	failCode int
	attempts int
}

// New starts a server accepting the API key key.
func New(key string) *Server {
	s := &Server{key: key}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// FailNext makes the next n sends answer code, as SendGrid does when it is
// overloaded (429) or failing (5xx).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, code
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
		CustomArgs map[string]string `json:"custom_args"`
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

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		reply(w, http.StatusNotFound, "not found", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		reply(w, http.StatusUnauthorized, "The provided authorization grant is invalid, expired, or revoked", "")
		return
	}
	if s.failNext > 0 {
		s.failNext--
		reply(w, s.failCode, http.StatusText(s.failCode), "")
		return
	}
	var b body
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		reply(w, http.StatusBadRequest, "Bad Request", "")
		return
	}
	if len(b.Personalizations) != 1 || len(b.Personalizations[0].To) != 1 {
		reply(w, http.StatusBadRequest, "dsar sends to exactly one recipient", "personalizations")
		return
	}
	if b.From.Email == "" || b.Subject == "" || !strings.Contains(b.Personalizations[0].To[0].Email, "@") {
		reply(w, http.StatusBadRequest, "from, subject and to are required", "")
		return
	}
	p := b.Personalizations[0]
	m := Mail{
		From: b.From.Email, FromName: b.From.Name, To: p.To[0].Email, ToName: p.To[0].Name,
		Subject: b.Subject, RequestID: p.CustomArgs["request_id"], Step: p.CustomArgs["step"],
	}
	for _, c := range b.Content {
		switch c.Type {
		case "text/plain":
			m.Text = c.Value
		case "text/html":
			m.HTML = c.Value
		}
	}
	s.mails = append(s.mails, m)
	w.Header().Set("X-Message-Id", fmt.Sprintf("local-%d", len(s.mails)))
	w.WriteHeader(http.StatusAccepted)
}
