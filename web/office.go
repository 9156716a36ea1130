package web

import (
	"context"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/office"
	"github.com/dsar-project/dsar/internal/store"
)

// Office is what the web asks of the privacy office (internal/office):
// every command, answered with the office's typed errors, which
// handleError maps to HTTP. *office.Service is the real one; handler
// tests put a fake in front of it to reach every answer the API
// document lists.
type Office interface {
	Submit(ctx context.Context, nr domain.NewRequest) (*office.Receipt, error)
	TellVerified(ctx context.Context, requestID, actor string)
	VerifyByOfficer(ctx context.Context, requestID, evidence, actor string) error
	VerifyWithAttachment(ctx context.Context, requestID, evidence, attachmentID, actor string) error
	Decide(ctx context.Context, requestID string, approve bool, reason, actor string) (domain.Status, error)
	Extend(ctx context.Context, requestID, reason, actor string) (time.Time, error)
	CompleteTask(ctx context.Context, requestID, system, note, actor string) error
	ResendEmail(ctx context.Context, requestID, newEmail, actor string) (office.Resent, error)
	Withhold(ctx context.Context, requestID string, w office.Withholding, actor string) (*domain.PackageInfo, error)
	Release(ctx context.Context, requestID, actor string) (domain.Status, error)
	MakeDryRun(ctx context.Context, requestID, actor string) (*domain.DryRun, error)
	DryRun(ctx context.Context, requestID, actor string) (*domain.DryRun, error)
	DryRunRequired(ctx context.Context, r *store.Request) bool
	Confirm(ctx context.Context, requestID, dryRunID, actor string) (domain.Status, error)
	SubmitInbound(ctx context.Context, m office.InboundMail) (*office.Receipt, error)
	InboundMessage(ctx context.Context, requestID string) (*office.InboundMail, error)
	Classify(ctx context.Context, requestID string, t domain.RequestType, actor string) (*store.Request, error)
	RecordMailEvents(ctx context.Context, events []mail.Event) (int, error)

	LogRequest(ctx context.Context, lr office.LoggedRequest, actor string) (*office.Receipt, error)
	AddNote(ctx context.Context, requestID, body, actor string) (*store.Note, error)
	SendMessage(ctx context.Context, requestID, body, actor string) (*office.Message, error)
	Messages(ctx context.Context, requestID string) ([]office.Message, error)
	WithdrawalReason(r *store.Request) (string, error)

	// The requester's own commands, from the status page.
	Withdraw(ctx context.Context, requestID, reason string) (domain.Status, error)
	ResendVerification(ctx context.Context, requestID string) error
	RequesterMessage(ctx context.Context, requestID, body string) (*office.Message, error)
	Assign(ctx context.Context, requestIDs []string, assignee, actor string) (int, error)
	CloseAsDuplicate(ctx context.Context, requestID, of, actor string) (domain.Status, error)
	CloseDuplicates(ctx context.Context, requestIDs []string, actor string) ([]office.DuplicateClosing, error)
	OpenDuplicates(ctx context.Context, r *store.Request) ([]string, error)
	AddAttachment(ctx context.Context, na office.NewAttachment, actor string) (*store.Attachment, error)
	Attachments(ctx context.Context, requestID string) ([]office.AttachmentInfo, error)
	OpenAttachment(ctx context.Context, requestID, id, actor string) (*office.AttachmentFile, error)

	RecordBreach(ctx context.Context, nb domain.NewBreach, actor string, m *datamap.Map) (*store.Breach, error)
	ApproveNotice(ctx context.Context, breachID, subject, text, actor string) error
	RecordAuthority(ctx context.Context, breachID string, n office.AuthorityNotification, actor string) error
	ResolveUncertain(ctx context.Context, breachID string, resend bool, actor string) error

	PlaceHold(ctx context.Context, nh domain.NewHold, actor string, m *datamap.Map) (*store.LegalHold, error)
	ReleaseHold(ctx context.Context, id, actor string) (*store.LegalHold, error)

	RegisterAgent(ctx context.Context, na office.NewAgent, actor string) (*store.DRPAgent, error)
	RevokeAgent(ctx context.Context, id, actor string) (*store.DRPAgent, error)
	SetupAgent(ctx context.Context, agentID string, body []byte) (string, error)
	AgentByToken(ctx context.Context, token string) (*store.DRPAgent, error)
	SubmitDRP(ctx context.Context, a *store.DRPAgent, body []byte) (*office.DRPStatus, error)
	DRPRequestStatus(ctx context.Context, a *store.DRPAgent, requestID string) (*office.DRPStatus, error)
	RevokeDRP(ctx context.Context, a *store.DRPAgent, requestID string, body []byte) (*office.DRPStatus, error)

	// Ready reports whether the workflow service answers.
	Ready(ctx context.Context) error
}

var _ Office = (*office.Service)(nil)
