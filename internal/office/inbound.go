package office

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/deadline"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// InboundMail is an email to the privacy address as SendGrid's Inbound
// Parse posts it, and as an officer reads it back.
type InboundMail struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Cc       string `json:"cc,omitempty"`
	Subject  string `json:"subject"`
	Text     string `json:"text,omitempty"`
	HTML     string `json:"html,omitempty"`
	Headers  string `json:"headers,omitempty"`
	Envelope string `json:"envelope,omitempty"`
	SPF      string `json:"spf,omitempty"`
	DKIM     string `json:"dkim,omitempty"`
	// Attachments are kept with the message; the view lists them.
	Attachments []InboundAttachment `json:"attachments,omitempty"`
}

// InboundAttachment is one file attached to an inbound email.
type InboundAttachment struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Size    int64  `json:"size"`
	Content []byte `json:"content,omitempty"`
}

// Sender is the address a request by email is for: the From header's,
// or the SMTP envelope's sender when From does not parse. Either is
// confirmed by the verification email before anything is done.
func (m InboundMail) Sender() (addr, name string, err error) {
	if a, perr := netmail.ParseAddress(m.From); perr == nil {
		return a.Address, a.Name, nil
	}
	var env struct {
		From string `json:"from"`
	}
	if json.Unmarshal([]byte(m.Envelope), &env) == nil {
		if a, perr := netmail.ParseAddress(env.From); perr == nil {
			return a.Address, "", nil
		}
	}
	return "", "", &domain.ValidationError{Fields: map[string]string{"from": "no sender address could be read from the email"}}
}

// SubmitInbound turns an email to the privacy address into a request:
// an "Unsubscribe" subject into an opt-out for its sender, anything
// else into an unclassified request that waits for an officer. The
// message is kept sealed with the request. A post SendGrid delivers
// again answers the request the first one made, Duplicate set.
func (s *Service) SubmitInbound(ctx context.Context, m InboundMail) (*Receipt, error) {
	if s.Sealer == nil {
		return nil, errors.New("office: no sealer for inbound messages")
	}
	addr, name, err := m.Sender()
	if err != nil {
		return nil, err
	}
	email, err := domain.NormalizeEmail(addr)
	if err != nil {
		return nil, &domain.ValidationError{Fields: map[string]string{"from": "the sender's address is not one dsar can write to"}}
	}
	hashParts := []string{"inbound", m.Headers, m.From, m.Subject, m.Text, m.HTML}
	if first, err := s.Store.InboundByHash(ctx, s.Sealer.Hashes(hashParts...)...); err == nil {
		return &Receipt{Request: first, Duplicate: true}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("office: %w", err)
	}
	nr := domain.NewRequest{Type: domain.TypeUnclassified, Email: email, Name: displayName(name, email), ByEmail: true}
	if domain.IsUnsubscribe(m.Subject) {
		nr.Type = domain.TypeOptOut
	}
	if subject := strings.TrimSpace(m.Subject); subject != "" && domain.CheckLine(subject) == nil {
		nr.Details = "By email, subject: " + truncate(subject, 500)
	} else {
		nr.Details = "By email"
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("office: %w", err)
	}
	msg := &store.InboundMessage{MessageHash: s.Sealer.Hash(hashParts...), Size: int64(len(plain))}
	id, err := auth.NewRequestID()
	if err != nil {
		return nil, err
	}
	msg.KeyID, msg.Sealed = s.Sealer.SealBlob(store.InboundBlobName(id), plain)
	if err := nr.Normalize(); err != nil {
		return nil, err
	}
	return s.submit(ctx, nr, s.Now(), intake{id: id, msg: msg})
}

// displayName is the name the sender gave, or their address when they
// gave none dsar can print.
func displayName(name, email string) string {
	name = strings.TrimSpace(name)
	if name == "" || domain.CheckLine(name) != nil || utf8.RuneCountInString(name) > domain.MaxNameLen {
		return truncate(email, domain.MaxNameLen-1)
	}
	return name
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// InboundMessage opens the email a request arrived as, for an officer.
func (s *Service) InboundMessage(ctx context.Context, requestID string) (*InboundMail, error) {
	stored, err := s.Store.InboundMessageOf(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &NotFoundError{What: "request " + requestID + " did not arrive by email"}
	}
	if err != nil {
		return nil, err
	}
	if s.Sealer == nil {
		return nil, errors.New("office: no sealer for inbound messages")
	}
	plain, err := s.Sealer.OpenBlob(stored.KeyID, store.InboundBlobName(requestID), stored.Sealed)
	if err != nil {
		return nil, fmt.Errorf("office: open inbound message: %w", err)
	}
	var m InboundMail
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("office: inbound message: %w", err)
	}
	return &m, nil
}

// Classify gives an unclassified request the type an officer read in
// it, with that type's clock counted from the email's receipt, and
// starts its workflow. If Temporal does not answer, the start is retried
// in the background and by recovery, as at intake.
func (s *Service) Classify(ctx context.Context, requestID string, t domain.RequestType, actor string) (*store.Request, error) {
	t = domain.RequestType(strings.ToLower(strings.TrimSpace(string(t))))
	if !domain.CanClassifyAs(t) {
		return nil, invalid("type", "choose one of access, deletion, export, opt_out (a correction needs the values: ask the requester to use the form)")
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if r.Type != domain.TypeUnclassified {
		return nil, refused("request %s is already a%s %s request", r.ID, article(r.Type), r.Type)
	}
	loc := cmp.Or(s.Location, time.UTC)
	regime := cmp.Or(r.Regime, s.Regime, deadline.Default)
	clock, err := deadline.For(regime, r.ReceivedAt, loc)
	if t == domain.TypeOptOut {
		clock, err = deadline.OptOut(regime, r.ReceivedAt, loc, cmp.Or(s.OptOutWithin, config.DefaultOptOutWithin))
	}
	if err != nil {
		return nil, err
	}
	err = s.Store.Classify(ctx, store.Classification{
		RequestID: r.ID, Type: t, DueAt: clock.DueAt, AckDueAt: clock.AckDueAt,
		ExtensionNoticeBy: &clock.ExtensionNoticeBy, ExtendedDueAt: &clock.ExtendedDueAt,
		Actor: actor, At: s.Now(),
	})
	if errors.Is(err, store.ErrClassified) {
		return nil, refused("request %s was classified already", r.ID)
	}
	if err != nil {
		return nil, err
	}
	if r, err = s.Store.GetRequest(ctx, requestID); err != nil {
		return nil, err
	}
	if err := s.Start(ctx, r); err != nil {
		s.Log.Warn("request classified; workflow start retried in the background", "request_id", r.ID, "error", err)
		s.owe(r.ID, owedStart)
	}
	return r, nil
}

func article(t domain.RequestType) string {
	if strings.ContainsRune("aeiou", rune(string(t)[0])) {
		return "n"
	}
	return ""
}

// RecordMailEvents records what SendGrid reported about emails dsar sent,
// against each request's email step, and answers how many were new. An
// event about a request dsar does not have (erased from a test
// database, say) is skipped; a repeated event is recorded once.
func (s *Service) RecordMailEvents(ctx context.Context, events []mail.Event) (int, error) {
	n := 0
	for _, e := range events {
		ok, err := s.Store.RecordMailEvent(ctx, store.MailEvent{
			EventID: e.ID, RequestID: e.RequestID, Step: e.Step, Event: e.Kind, Reason: e.Reason, At: e.At,
		}, e.Email)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
