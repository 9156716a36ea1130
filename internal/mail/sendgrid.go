package mail

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

// SendTimeout is how long a send waits for the provider's answer. A
// provider may accept a message and answer late: giving up early and
// trying again would send it twice, so the wait is long, and the activity
// sending it heartbeats meanwhile.
const SendTimeout = 3 * time.Minute

// SendGrid sends email through SendGrid's v3 API at a configurable base URL,
// so tests and staging can point it at a local server.
type SendGrid struct {
	apiKey  string
	baseURL string
	from    *sgmail.Email
	client  *rest.Client
}

// NewSendGrid returns a sender posting to baseURL (SendGrid's own is
// https://api.sendgrid.com).
func NewSendGrid(apiKey, baseURL, from, fromName string) *SendGrid {
	return &SendGrid{
		apiKey:  apiKey,
		baseURL: baseURL,
		from:    sgmail.NewEmail(fromName, from),
		client:  &rest.Client{HTTPClient: &http.Client{Timeout: SendTimeout}},
	}
}

// Send posts the message to /v3/mail/send. SendGrid answers 202 on success.
// 429, 5xx and a refused API key come back as plain errors so the caller's
// retry policy tries again; any other status wraps ErrPermanent. The SDK's own retry helper is
// not used: it retries only 429 and hides other failures behind a nil error.
func (s *SendGrid) Send(ctx context.Context, m Message) (string, error) {
	v3 := sgmail.NewV3Mail()
	v3.SetFrom(s.from)
	v3.Subject = m.Subject
	p := sgmail.NewPersonalization()
	p.AddTos(sgmail.NewEmail(m.ToName, m.To))
	if m.RequestID != "" {
		p.SetCustomArg("request_id", m.RequestID)
	}
	if m.Step != "" {
		p.SetCustomArg("step", m.Step)
	}
	v3.AddPersonalizations(p)
	v3.AddContent(sgmail.NewContent("text/plain", m.Text), sgmail.NewContent("text/html", m.HTML))

	return s.post(ctx, v3)
}

// SendBatch posts one request with a personalization per recipient, each
// with the recipient's name substituted for NamePlaceholder. SendGrid
// accepts or refuses the request whole.
func (s *SendGrid) SendBatch(ctx context.Context, b Batch) error {
	if len(b.To) == 0 || len(b.To) > MaxBatch {
		return fmt.Errorf("%w: a batch holds 1 to %d recipients, not %d", ErrPermanent, MaxBatch, len(b.To))
	}
	v3 := sgmail.NewV3Mail()
	v3.SetFrom(s.from)
	v3.Subject = b.Subject
	for _, r := range b.To {
		p := sgmail.NewPersonalization()
		p.AddTos(sgmail.NewEmail(r.Name, r.Email))
		p.SetSubstitution(NamePlaceholder, r.Name)
		p.SetSubstitution(NameHTMLPlaceholder, html.EscapeString(r.Name))
		if b.Ref != "" {
			p.SetCustomArg("ref", b.Ref)
		}
		if b.Step != "" {
			p.SetCustomArg("step", b.Step)
		}
		v3.AddPersonalizations(p)
	}
	v3.AddContent(sgmail.NewContent("text/plain", b.Text), sgmail.NewContent("text/html", b.HTML))
	_, err := s.post(ctx, v3)
	return err
}

func (s *SendGrid) post(ctx context.Context, v3 *sgmail.SGMailV3) (string, error) {
	req := sendgrid.GetRequest(s.apiKey, "/v3/mail/send", s.baseURL)
	req.Method = rest.Post
	req.Body = sgmail.GetRequestBody(v3)
	resp, err := s.client.SendWithContext(ctx, req)
	var netErr net.Error
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()) {
		return "", fmt.Errorf("mail: %w: %w", ErrNoAnswer, err)
	}
	if err != nil {
		return "", fmt.Errorf("mail: sendgrid unreachable: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
		if ids := resp.Headers["X-Message-Id"]; len(ids) > 0 {
			return ids[0], nil
		}
		return "", nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", fmt.Errorf("mail: sendgrid answered %d, will retry", resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// A bad or unprivileged API key is the operator's to fix; retrying
		// means the email still goes out once they have.
		return "", fmt.Errorf("mail: sendgrid refused the API key (%d); check SENDGRID_API_KEY", resp.StatusCode)
	default:
		// The body names the offending field; it holds no message content.
		return "", fmt.Errorf("%w: sendgrid answered %d: %.300s", ErrPermanent, resp.StatusCode, resp.Body)
	}
}
