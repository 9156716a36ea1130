package office

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dsar-project/dsar/internal/auth"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/drp"
	"github.com/dsar-project/dsar/internal/store"
)

// The Data Rights Protocol (docs/drp.md): admins register the authorized
// agents dsar trusts; agents set up a bearer token with a signed message,
// then submit, follow and revoke requests with signed messages. Requests
// run through submit and the workflow like any other.

// NewAgent is an authorized agent as an admin registers it: the ID and
// verify key the agent directory publishes, and a name for officers.
type NewAgent struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	VerifyKey string `json:"verify_key"`
}

var agentID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}$`)

// RegisterAgent registers an authorized agent; the admin's action goes
// in the agent's trail.
func (s *Service) RegisterAgent(ctx context.Context, na NewAgent, actor string) (*store.DRPAgent, error) {
	errs := map[string]string{}
	na.ID, na.Name = strings.TrimSpace(na.ID), strings.TrimSpace(na.Name)
	if !agentID.MatchString(na.ID) {
		errs["id"] = "the agent's ID from the agent directory: letters, digits, _ . - (at most 200)"
	}
	if na.Name == "" || domain.CheckLine(na.Name) != nil || utf8.RuneCountInString(na.Name) > 200 {
		errs["name"] = "a name officers recognise, one line of at most 200 characters"
	}
	key, err := drp.ParseVerifyKey(na.VerifyKey)
	if err != nil {
		errs["verify_key"] = err.Error()
	}
	if len(errs) > 0 {
		return nil, &domain.ValidationError{Fields: errs}
	}
	a := &store.DRPAgent{ID: na.ID, Name: na.Name, VerifyKey: base64.StdEncoding.EncodeToString(key),
		CreatedAt: s.Now().UTC().Truncate(time.Second), CreatedBy: actor}
	if err := s.Store.CreateDRPAgent(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, invalid("id", "an agent with this ID is already registered")
		}
		return nil, err
	}
	return a, nil
}

// RevokeAgent revokes an authorized agent: its tokens stop working at
// once. Its open requests go on; officers decide them as usual.
func (s *Service) RevokeAgent(ctx context.Context, id, actor string) (*store.DRPAgent, error) {
	a, err := s.Store.RevokeDRPAgent(ctx, id, actor, s.Now())
	if errors.Is(err, store.ErrAgentRevoked) {
		return nil, refused("agent %s was already revoked", id)
	}
	return a, err
}

// errSetupRefused is every refusal of a pairwise key setup: the protocol
// answers it 403 with no body, whatever failed.
var errSetupRefused = &drp.Error{Status: http.StatusForbidden, Message: "pairwise key setup refused"}

// SetupAgent carries out a pairwise key setup: the message, signed with
// the registered agent's key, asks for a bearer token, answered once.
func (s *Service) SetupAgent(ctx context.Context, id string, body []byte) (string, error) {
	a, err := s.Store.DRPAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", errSetupRefused
	}
	if err != nil {
		return "", err
	}
	if !a.Active() {
		return "", errSetupRefused
	}
	now := s.Now()
	env, seen, err := s.openSetup(a, body, now)
	if err != nil {
		return "", errSetupRefused
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", err
	}
	seen.ExpiresAt = env.ExpiresAt.Time
	switch err := s.Store.IssueDRPToken(ctx, a.ID, hash, seen, now); {
	case errors.Is(err, store.ErrReplayed), errors.Is(err, store.ErrAgentRevoked):
		return "", errSetupRefused
	case err != nil:
		return "", err
	}
	return token, nil
}

func (s *Service) openSetup(a *store.DRPAgent, body []byte, now time.Time) (*drp.Envelope, store.DRPSeenMessage, error) {
	msg, err := s.open(a, body)
	if err != nil {
		return nil, store.DRPSeenMessage{}, err
	}
	env, err := drp.ParseSetup(msg)
	if err != nil {
		return nil, store.DRPSeenMessage{}, err
	}
	if err := env.Check(a.ID, s.DRPBusinessID, now); err != nil {
		return nil, store.DRPSeenMessage{}, err
	}
	return env, seenMessage(a.ID, msg), nil
}

// AgentByToken is the active agent a bearer token was issued to. An
// unknown token, or a revoked agent's, answers the protocol's 403.
func (s *Service) AgentByToken(ctx context.Context, token string) (*store.DRPAgent, error) {
	if !auth.ValidTokenShape(token) {
		return nil, &drp.Error{Status: http.StatusForbidden, Message: "a bearer token from POST /v1/agent/{agent-id} is required"}
	}
	a, err := s.Store.DRPAgentByToken(ctx, auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, &drp.Error{Status: http.StatusForbidden, Message: "the bearer token is not one this business issued"}
	}
	if err != nil {
		return nil, err
	}
	if !a.Active() {
		return nil, &drp.Error{Status: http.StatusForbidden, Message: "the authorized agent was revoked", Fatal: true}
	}
	return a, nil
}

func (s *Service) open(a *store.DRPAgent, body []byte) ([]byte, error) {
	key, err := drp.ParseVerifyKey(a.VerifyKey)
	if err != nil {
		return nil, fmt.Errorf("office: agent %s has an unreadable key: %w", a.ID, err)
	}
	return drp.Open(body, key)
}

// seenMessage is the replay record of a message: a hash of the agent
// and the signed JSON, so the same message is the same record whatever
// its base64 looks like.
func seenMessage(agentID string, msg []byte) store.DRPSeenMessage {
	h := sha256.New()
	h.Write([]byte(agentID))
	h.Write([]byte{0})
	h.Write(msg)
	return store.DRPSeenMessage{Hash: hex.EncodeToString(h.Sum(nil))}
}

var errReplayed = &drp.Error{Status: http.StatusForbidden, Message: "this signed message was already used: sign a new one", Fatal: true}

// SubmitDRP stores and starts the request an agent's signed message
// asks for, as any request is started. When the agent says it verified
// the person's email address (email_verified), the request is stored
// verified with that as evidence, and the person is sent no verification
// link; otherwise they confirm their address by email as usual.
func (s *Service) SubmitDRP(ctx context.Context, a *store.DRPAgent, body []byte) (*DRPStatus, error) {
	now := s.Now()
	msg, err := s.open(a, body)
	if err != nil {
		return nil, err
	}
	x, err := drp.ParseExercise(msg)
	if err != nil {
		return nil, err
	}
	if err := x.Check(a.ID, s.DRPBusinessID, now); err != nil {
		return nil, err
	}
	seen := seenMessage(a.ID, msg)
	seen.ExpiresAt = x.ExpiresAt.Time
	if used, err := s.Store.MessageSeen(ctx, seen.Hash); err != nil || used {
		return nil, cmp.Or(err, error(errReplayed))
	}
	typ, _ := drp.RequestType(x.Exercise)
	regime, _ := x.DeadlineRegime()
	nr := domain.NewRequest{Type: typ, Email: x.Email, Name: x.Name, Regime: regime, Details: drpDetails(a, x)}
	if err := nr.Normalize(); err != nil {
		var verr *domain.ValidationError
		if errors.As(err, &verr) {
			return nil, &drp.Error{Status: http.StatusBadRequest, Message: "identity claims refused: " + verr.Summary(), Fatal: true}
		}
		return nil, err
	}
	link := &store.DRPRequest{AgentID: a.ID, AgentRequestID: x.AgentRequestID, Exercise: x.Exercise, StatusCallback: x.StatusCallback}
	in := intake{channel: domain.ChannelDRP, drp: &drpIntake{link: link, seen: seen,
		received: fmt.Sprintf("%s request received from authorized agent %s (%s) under the Data Rights Protocol, action %s", typ, a.Name, a.ID, x.Exercise)}}
	if x.EmailVerified {
		in.drp.evidence = fmt.Sprintf("email address verified by authorized agent %s (%s), which attested email_verified in its signed request", a.Name, a.ID)
	}
	receipt, err := s.submit(ctx, nr, now, in)
	if errors.Is(err, store.ErrReplayed) {
		return nil, errReplayed
	}
	if err != nil {
		return nil, err
	}
	return s.drpStatus(receipt.Request, link), nil
}

// drpIntake is what a request from an agent stores beside itself.
type drpIntake struct {
	link     *store.DRPRequest
	seen     store.DRPSeenMessage
	evidence string // the agent's attestation, when it verified the address
	received string // the first audit entry's words
}

// drpDetails is what officers read of the agent's request beside the
// name and address: who sent it and the claims dsar keeps no column for.
func drpDetails(a *store.DRPAgent, x *drp.Exercise) string {
	lines := []string{fmt.Sprintf("Sent by authorized agent %s (%s) under the Data Rights Protocol; action %s.", a.Name, a.ID, x.Exercise)}
	if x.Regime == "" {
		lines = append(lines, "No regime named: a voluntary request.")
	}
	if len(x.Relationships) > 0 {
		lines = append(lines, "Relationships: "+strings.Join(x.Relationships, ", ")+".")
	}
	if x.PhoneNumber != "" {
		lines = append(lines, "Phone: "+x.PhoneNumber+verifiedNote(x.PhoneNumberVerified))
	}
	if addr := x.Address.String(); addr != "" {
		lines = append(lines, "Address: "+addr+verifiedNote(x.AddressVerified))
	}
	if x.PowerOfAttorney != "" {
		lines = append(lines, "Power of attorney: "+x.PowerOfAttorney)
	}
	return strings.Join(lines, "\n")
}

func verifiedNote(v bool) string {
	if v {
		return " (verified by the agent)"
	}
	return ""
}

// DRPStatus is a request as the protocol's Exercise Status object
// (section 3.03).
type DRPStatus struct {
	RequestID         string    `json:"request_id"`
	ReceivedAt        time.Time `json:"received_at"`
	ExpectedBy        time.Time `json:"expected_by,omitzero"`
	AgentRequestID    string    `json:"agent_request_id,omitempty"`
	ProcessingDetails string    `json:"processing_details,omitempty"`
	Status            string    `json:"status"`
	Reason            string    `json:"reason,omitempty"`
}

// drpStatus reads a request in the protocol's terms (docs/drp.md).
func (s *Service) drpStatus(r *store.Request, link *store.DRPRequest) *DRPStatus {
	state, reason := drp.State(r.Status, r.VerifiedAt != nil, link.RevokedAt != nil)
	st := &DRPStatus{RequestID: r.ID, ReceivedAt: r.ReceivedAt.UTC(), AgentRequestID: link.AgentRequestID, Status: state, Reason: reason}
	switch {
	case state == drp.StateOpen || state == drp.StateInProgress:
		st.ExpectedBy = r.DueAt.UTC()
		if reason == drp.ReasonNeedUserVerification {
			st.ProcessingDetails = "The person must confirm their email address with the link emailed to it."
		}
		if r.ExtendedAt != nil {
			st.ProcessingDetails = strings.TrimSpace(st.ProcessingDetails + " Extended: " + r.ExtensionReason)
		}
	case state == drp.StateFulfilled:
		st.ProcessingDetails = "Completed; the result was emailed to the person."
	case state == drp.StateRevoked:
		st.ProcessingDetails = "Revoked by the authorized agent."
		if link.RevokeReason != "" {
			st.ProcessingDetails += " " + link.RevokeReason
		}
	case reason == drp.ReasonInsufVerification:
		st.ProcessingDetails = "The person did not confirm their email address in time."
	case r.Status == domain.StatusDuplicate:
		st.ProcessingDetails = "Closed as a duplicate of the person's request " + r.DuplicateOf + ", which continues."
	default:
		st.ProcessingDetails = r.DecisionReason
	}
	return st
}

// forbiddenRequest: the agent does not manage the request (or no agent
// does): the protocol answers 403.
var forbiddenRequest = &drp.Error{Status: http.StatusForbidden, Message: "this agent does not manage that request"}

func (s *Service) agentRequest(ctx context.Context, a *store.DRPAgent, requestID string) (*store.Request, *store.DRPRequest, error) {
	link, err := s.Store.DRPRequestOf(ctx, requestID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && link.AgentID != a.ID) {
		return nil, nil, forbiddenRequest
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := s.Store.GetRequest(ctx, requestID)
	if err != nil {
		return nil, nil, err
	}
	return r, link, nil
}

// DRPRequestStatus answers an agent's own request's status.
func (s *Service) DRPRequestStatus(ctx context.Context, a *store.DRPAgent, requestID string) (*DRPStatus, error) {
	r, link, err := s.agentRequest(ctx, a, requestID)
	if err != nil {
		return nil, err
	}
	return s.drpStatus(r, link), nil
}

// RevokeDRP ends an agent's request at the agent's signed word. The
// workflow has no withdrawal yet, so it is denied through the same
// decision an officer makes, with the reason "revoked by authorized
// agent", and reported as revoked. That is possible while it awaits
// review; before (the person has not confirmed their address) and once
// approved, it is refused (409) and nothing changes.
func (s *Service) RevokeDRP(ctx context.Context, a *store.DRPAgent, requestID string, body []byte) (*DRPStatus, error) {
	now := s.Now()
	r, link, err := s.agentRequest(ctx, a, requestID)
	if err != nil {
		return nil, err
	}
	msg, err := s.open(a, body)
	if err != nil {
		return nil, err
	}
	rv, err := drp.ParseRevoke(msg)
	if err != nil {
		return nil, err
	}
	if err := rv.Check(a.ID, s.DRPBusinessID, now); err != nil {
		return nil, err
	}
	seen := seenMessage(a.ID, msg)
	seen.ExpiresAt = rv.ExpiresAt.Time
	if used, err := s.Store.MessageSeen(ctx, seen.Hash); err != nil || used {
		return nil, cmp.Or(err, error(errReplayed))
	}
	if link.RevokedAt != nil {
		return nil, &drp.Error{Status: http.StatusConflict, Message: "the request was already revoked", Fatal: true}
	}
	if r.Status != domain.StatusInReview {
		return nil, &drp.Error{Status: http.StatusConflict, Message: fmt.Sprintf(
			"the request can be revoked only while it awaits the business's review; it is %s", r.Status)}
	}
	reason := "Revoked by authorized agent " + a.Name + " at your request."
	if rv.Reason != "" {
		reason += " Reason given: " + strings.Join(strings.Fields(rv.Reason), " ")
	}
	if _, err := s.Decide(ctx, r.ID, false, reason, "agent:"+a.ID); err != nil {
		var ref *RefusedError
		if errors.As(err, &ref) {
			return nil, &drp.Error{Status: http.StatusConflict, Message: "the request can no longer be revoked: " + ref.Reason}
		}
		return nil, err
	}
	if err := s.Store.ClaimDRPMessage(ctx, seen, now); err != nil && !errors.Is(err, store.ErrReplayed) {
		return nil, err
	}
	if err := s.Store.MarkDRPRevoked(ctx, r.ID, rv.Reason, now); err != nil {
		return nil, err
	}
	return s.DRPRequestStatus(ctx, a, r.ID)
}

// drpStore stores a request an agent sent, with its link to the agent.
func (s *Service) drpStore(ctx context.Context, r *store.Request, statusToken *store.RequestToken, d *drpIntake) error {
	if d.evidence != "" {
		at := r.ReceivedAt
		r.VerifiedAt, r.VerifiedBy = &at, "agent:"+d.link.AgentID
	}
	return s.Store.CreateDRPRequest(ctx, r, statusToken, d.link, d.seen, d.evidence, d.received)
}
