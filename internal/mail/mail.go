// Package mail renders dsar's emails from embedded templates and sends them
// through SendGrid, or keeps them in the database outbox during development.
package mail

import (
	"context"
	"errors"
)

// Message is one email to one person. Every message has a text and an HTML
// part.
type Message struct {
	To      string
	ToName  string
	Subject string
	Text    string
	HTML    string
	// RequestID and Step say which request and workflow step the email
	// belongs to; the outbox shows them and SendGrid carries them as
	// custom args for bounce handling.
	RequestID string
	Step      string
}

// Sender delivers a message and returns the provider's message ID, if any.
type Sender interface {
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// ErrPermanent marks a failure that retrying will not fix (a rejected
// request, a bad API key): the caller should stop and report it.
var ErrPermanent = errors.New("permanent mail failure")

// ErrNoAnswer marks a send whose request went out but whose answer never
// came (a timeout): the provider may or may not have accepted it, so it
// must not be sent again blindly.
var ErrNoAnswer = errors.New("the mail provider did not answer in time")

// Recipient is one person of a batch.
type Recipient struct {
	Email, Name string
}

// NamePlaceholder in a batch's subject or text is replaced by each
// recipient's name; NameHTMLPlaceholder in its HTML by the name escaped.
const (
	NamePlaceholder     = "%name%"
	NameHTMLPlaceholder = "%name_html%"
)

// MaxBatch is the most recipients one batch may carry: SendGrid's limit
// of personalizations per request.
const MaxBatch = 1000

// Batch is one message to many people, each receiving their own copy
// (no one sees another's address).
type Batch struct {
	Subject, Text, HTML string
	To                  []Recipient
	// Ref and Step say what the batch belongs to (a breach, its notice);
	// SendGrid carries them as custom args.
	Ref, Step string
}

// BatchSender delivers a batch in one call: all of it or, on error, none.
type BatchSender interface {
	SendBatch(ctx context.Context, b Batch) error
}
