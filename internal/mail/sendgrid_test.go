package mail_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/mail"
)

const sendGridKey = "SG.test-key.0123456789"

// sendGridBody is the part of SendGrid's v3 mail/send request dsar fills.
type sendGridBody struct {
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

type captured struct {
	method, path, auth, contentType string
	raw                             []byte
}

// fakeSendGrid answers every request with status and headers, and records
// what it received.
type fakeSendGrid struct {
	*httptest.Server
	mu       sync.Mutex
	requests []captured
}

func newFakeSendGrid(t *testing.T, status int, header http.Header, body string) *fakeSendGrid {
	t.Helper()
	f := &fakeSendGrid{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, captured{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), raw})
		f.mu.Unlock()
		for k, vs := range header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSendGrid) only(t *testing.T) captured {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 1 {
		t.Fatalf("SendGrid received %d requests, want 1", len(f.requests))
	}
	return f.requests[0]
}

func adaMessage() mail.Message {
	return mail.Message{
		To:        "ada@example.com",
		ToName:    "Ada Lovelace",
		Subject:   "We received your privacy request DSR-7K3M9Q2XHD",
		Text:      "Dear Ada Lovelace,\n\nReference: DSR-7K3M9Q2XHD\n",
		HTML:      "<p>Dear Ada Lovelace,</p><p>Reference: <strong>DSR-7K3M9Q2XHD</strong></p>",
		RequestID: "DSR-7K3M9Q2XHD",
		Step:      "acknowledgement",
	}
}

func TestSendGridPostsTheMessage(t *testing.T) {
	sg := newFakeSendGrid(t, http.StatusAccepted, http.Header{"X-Message-Id": {"sg-msg-42"}}, "")
	s := mail.NewSendGrid(sendGridKey, sg.URL, "privacy@example.com", "Privacy team")

	id, err := s.Send(context.Background(), adaMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != "sg-msg-42" {
		t.Errorf("provider ID = %q, want the X-Message-Id header %q", id, "sg-msg-42")
	}

	req := sg.only(t)
	if req.method != http.MethodPost || req.path != "/v3/mail/send" {
		t.Errorf("request = %s %s, want POST /v3/mail/send", req.method, req.path)
	}
	if req.auth != "Bearer "+sendGridKey {
		t.Errorf("Authorization = %q, want %q", req.auth, "Bearer "+sendGridKey)
	}
	if !strings.HasPrefix(req.contentType, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", req.contentType)
	}

	var body sendGridBody
	if err := json.Unmarshal(req.raw, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, req.raw)
	}
	m := adaMessage()
	if body.From.Email != "privacy@example.com" || body.From.Name != "Privacy team" {
		t.Errorf("from = %+v, want Privacy team <privacy@example.com>", body.From)
	}
	if body.Subject != m.Subject {
		t.Errorf("subject = %q, want %q", body.Subject, m.Subject)
	}
	if len(body.Personalizations) != 1 || len(body.Personalizations[0].To) != 1 {
		t.Fatalf("personalizations = %+v, want one recipient", body.Personalizations)
	}
	p := body.Personalizations[0]
	if p.To[0].Email != "ada@example.com" || p.To[0].Name != "Ada Lovelace" {
		t.Errorf("to = %+v, want Ada Lovelace <ada@example.com>", p.To[0])
	}
	if p.CustomArgs["request_id"] != "DSR-7K3M9Q2XHD" || p.CustomArgs["step"] != "acknowledgement" {
		t.Errorf("custom_args = %v, want request_id and step for bounce handling", p.CustomArgs)
	}
	// SendGrid requires text/plain before text/html.
	if len(body.Content) != 2 ||
		body.Content[0].Type != "text/plain" || body.Content[0].Value != m.Text ||
		body.Content[1].Type != "text/html" || body.Content[1].Value != m.HTML {
		t.Errorf("content = %+v, want text/plain then text/html with the message's parts", body.Content)
	}
}

func TestSendGridWithoutRequestHasNoCustomArgs(t *testing.T) {
	sg := newFakeSendGrid(t, http.StatusAccepted, nil, "")
	s := mail.NewSendGrid(sendGridKey, sg.URL, "privacy@example.com", "Privacy team")
	m := adaMessage()
	m.RequestID, m.Step = "", ""
	id, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != "" {
		t.Errorf("provider ID = %q without X-Message-Id, want empty", id)
	}
	var body sendGridBody
	if err := json.Unmarshal(sg.only(t).raw, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Personalizations[0].CustomArgs) != 0 {
		t.Errorf("custom_args = %v, want none", body.Personalizations[0].CustomArgs)
	}
}

func TestSendGridStatuses(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		ok        bool
		permanent bool
		mention   string
	}{
		{http.StatusOK, "", true, false, ""},
		{http.StatusAccepted, "", true, false, ""},
		{http.StatusBadRequest, `{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email"}]}`, false, true, "personalizations.0.to.0.email"},
		{http.StatusRequestEntityTooLarge, "too large", false, true, "413"},
		{http.StatusUnauthorized, `{"errors":[{"message":"The provided authorization grant is invalid"}]}`, false, false, "SENDGRID_API_KEY"},
		{http.StatusForbidden, "", false, false, "SENDGRID_API_KEY"},
		{http.StatusTooManyRequests, "", false, false, "429"},
		{http.StatusInternalServerError, "", false, false, "500"},
		{http.StatusServiceUnavailable, "", false, false, "503"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			sg := newFakeSendGrid(t, tc.status, nil, tc.body)
			s := mail.NewSendGrid(sendGridKey, sg.URL, "privacy@example.com", "Privacy team")
			_, err := s.Send(context.Background(), adaMessage())
			if tc.ok {
				if err != nil {
					t.Fatalf("Send = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Send succeeded on %d", tc.status)
			}
			if got := errors.Is(err, mail.ErrPermanent); got != tc.permanent {
				t.Errorf("errors.Is(%v, ErrPermanent) = %v, want %v", err, got, tc.permanent)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			if strings.Contains(err.Error(), sendGridKey) {
				t.Errorf("error %q reveals the API key", err)
			}
			if strings.Contains(err.Error(), "Dear Ada") {
				t.Errorf("error %q carries the message content", err)
			}
		})
	}
}

func TestSendGridUnreachableIsRetryable(t *testing.T) {
	sg := newFakeSendGrid(t, http.StatusAccepted, nil, "")
	url := sg.URL
	sg.Close()
	s := mail.NewSendGrid(sendGridKey, url, "privacy@example.com", "Privacy team")
	_, err := s.Send(context.Background(), adaMessage())
	if err == nil {
		t.Fatal("Send succeeded against a closed server")
	}
	if errors.Is(err, mail.ErrPermanent) {
		t.Errorf("Send = %v: an unreachable server is worth retrying, not permanent", err)
	}
}

func TestSendGridHonoursContext(t *testing.T) {
	sg := newFakeSendGrid(t, http.StatusAccepted, nil, "")
	s := mail.NewSendGrid(sendGridKey, sg.URL, "privacy@example.com", "Privacy team")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Send(ctx, adaMessage()); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
}

// TestSendGridSilenceIsNoAnswerNotFailure: a provider that takes the
// message and does not answer in time may have accepted it; the error
// says so (ErrNoAnswer), so the caller does not send it again blindly.
func TestSendGridSilenceIsNoAnswerNotFailure(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-release
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	defer close(release)
	sg := mail.NewSendGrid(sendGridKey, srv.URL, "privacy@example.org", "Example")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := sg.Send(ctx, mail.Message{To: "ada@example.com", Subject: "s", Text: "t", HTML: "<p>t</p>"})
	if !errors.Is(err, mail.ErrNoAnswer) || errors.Is(err, mail.ErrPermanent) {
		t.Errorf("a provider that does not answer: %v, want ErrNoAnswer", err)
	}
}
