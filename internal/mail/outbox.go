package mail

import (
	"context"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/store"
)

// Outbox keeps email in the database instead of delivering it. dsar dev uses
// it when no SendGrid key is set; the dev pages list what it holds.
type Outbox struct {
	Store *store.Store
	Now   func() time.Time
}

// Send stores the message.
func (o *Outbox) Send(ctx context.Context, m Message) (string, error) {
	msg := &store.OutboxMessage{
		RequestID: m.RequestID, Step: m.Step, Recipient: m.To,
		Subject: m.Subject, TextBody: m.Text, HTMLBody: m.HTML, CreatedAt: o.Now(),
	}
	if err := o.Store.AddOutboxMessage(ctx, msg); err != nil {
		return "", err
	}
	return "outbox-" + strconv.FormatInt(msg.ID, 10), nil
}

// SendBatch stores one message per recipient, names substituted.
func (o *Outbox) SendBatch(ctx context.Context, b Batch) error {
	for _, r := range b.To {
		name := strings.NewReplacer(NamePlaceholder, r.Name)
		htmlName := strings.NewReplacer(NameHTMLPlaceholder, html.EscapeString(r.Name))
		_, err := o.Send(ctx, Message{
			To: r.Email, ToName: r.Name, Subject: name.Replace(b.Subject), Text: name.Replace(b.Text), HTML: htmlName.Replace(b.HTML),
			RequestID: b.Ref, Step: b.Step,
		})
		if err != nil {
			return err
		}
	}
	return nil
}
