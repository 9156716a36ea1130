package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The Data Rights Protocol's records (docs/drp.md): authorized agents, the
// bearer tokens they were issued, their trail, their requests, and the
// signed messages already accepted.

// DRPAgent is an authorized agent an admin registered.
type DRPAgent struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	VerifyKey string     `json:"verify_key"`
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
}

// TableName names the table.
func (DRPAgent) TableName() string { return "drp_agents" }

// Agent statuses.
const (
	AgentActive  = "active"
	AgentRevoked = "revoked"
)

// Active reports whether the agent may still make requests.
func (a *DRPAgent) Active() bool { return a.Status == AgentActive }

// DRPAgentToken is a bearer token issued by an agent's pairwise key
// setup, stored hashed.
type DRPAgentToken struct {
	Hash      string `gorm:"primaryKey"`
	AgentID   string
	CreatedAt time.Time
}

// TableName names the table.
func (DRPAgentToken) TableName() string { return "drp_agent_tokens" }

// DRPAgentEvent is one line of an agent's trail.
type DRPAgentEvent struct {
	ID      int64     `json:"-"`
	AgentID string    `json:"-"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}

// TableName names the table.
func (DRPAgentEvent) TableName() string { return "drp_agent_events" }

// Agent trail actions.
const (
	AgentEventRegistered  = "registered"
	AgentEventRevoked     = "revoked"
	AgentEventTokenIssued = "token_issued"
)

// DRPRequest links a request to the agent that made it.
type DRPRequest struct {
	RequestID      string `gorm:"primaryKey"`
	AgentID        string
	AgentRequestID string
	Exercise       string
	StatusCallback string
	RevokedAt      *time.Time
	RevokeReason   string
}

// TableName names the table.
func (DRPRequest) TableName() string { return "drp_requests" }

// DRPSeenMessage is a signed message already accepted, kept until it
// expires.
type DRPSeenMessage struct {
	Hash      string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

// TableName names the table.
func (DRPSeenMessage) TableName() string { return "drp_seen_messages" }

// Errors of the agent records.
var (
	// ErrReplayed: the signed message was accepted before.
	ErrReplayed = errors.New("the signed message was already used")
	// ErrAgentRevoked: the agent was revoked.
	ErrAgentRevoked = errors.New("the authorized agent was revoked")
)

// remember records a signed message as accepted, in the transaction that
// acts on it, and forgets those expired. A message seen before answers
// ErrReplayed and rolls the transaction back.
func remember(tx *gorm.DB, seen DRPSeenMessage, now time.Time) error {
	if err := tx.Where("expires_at < ?", now.UTC()).Delete(&DRPSeenMessage{}).Error; err != nil {
		return err
	}
	seen.ExpiresAt = seen.ExpiresAt.UTC()
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&seen)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrReplayed
	}
	return nil
}

// MessageSeen reports whether a signed message was accepted before.
func (s *Store) MessageSeen(ctx context.Context, hash string) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&DRPSeenMessage{}).Where("hash = ?", hash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("store: seen message: %w", err)
	}
	return n > 0, nil
}

// CreateDRPAgent registers an agent with its first trail entry; an ID
// already registered answers ErrConflict.
func (s *Store) CreateDRPAgent(ctx context.Context, a *DRPAgent) error {
	a.CreatedAt = a.CreatedAt.UTC()
	a.Status = AgentActive
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		return tx.Create(&DRPAgentEvent{AgentID: a.ID, Actor: a.CreatedBy, Action: AgentEventRegistered,
			Detail: "verify key " + a.VerifyKey, At: a.CreatedAt}).Error
	})
	if err != nil {
		return notFound(err, "register agent")
	}
	return nil
}

// RevokeDRPAgent revokes an agent: its tokens stop working at once (the
// office refuses a revoked agent's) and it can set up no new one. Revoking twice answers ErrAgentRevoked.
func (s *Store) RevokeDRPAgent(ctx context.Context, id, actor string, now time.Time) (*DRPAgent, error) {
	now = now.UTC()
	var a DRPAgent
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&DRPAgent{}).Where("id = ? AND status = ?", id, AgentActive).
			Updates(map[string]any{"status": AgentRevoked, "revoked_at": now, "revoked_by": actor})
		if res.Error != nil {
			return res.Error
		}
		if err := tx.Take(&a, "id = ?", id).Error; err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return ErrAgentRevoked
		}
		// Its tokens stay, so an agent presenting one is told it was
		// revoked rather than that the token is unknown.
		return tx.Create(&DRPAgentEvent{AgentID: id, Actor: actor, Action: AgentEventRevoked,
			Detail: "its tokens no longer work", At: now}).Error
	})
	if errors.Is(err, ErrAgentRevoked) {
		return &a, err
	}
	if err != nil {
		return nil, notFound(err, "agent "+id)
	}
	return &a, nil
}

// DRPAgent loads one agent.
func (s *Store) DRPAgent(ctx context.Context, id string) (*DRPAgent, error) {
	var a DRPAgent
	if err := s.db.WithContext(ctx).Take(&a, "id = ?", id).Error; err != nil {
		return nil, notFound(err, "agent "+id)
	}
	return &a, nil
}

// DRPAgents lists the agents, active first, then by ID.
func (s *Store) DRPAgents(ctx context.Context) ([]DRPAgent, error) {
	var as []DRPAgent
	if err := s.db.WithContext(ctx).Order("status, id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("store: agents: %w", err)
	}
	return as, nil
}

// DRPAgentEvents is an agent's trail, oldest first.
func (s *Store) DRPAgentEvents(ctx context.Context, id string) ([]DRPAgentEvent, error) {
	var es []DRPAgentEvent
	if err := s.db.WithContext(ctx).Where("agent_id = ?", id).Order("id").Find(&es).Error; err != nil {
		return nil, fmt.Errorf("store: agent trail: %w", err)
	}
	return es, nil
}

// IssueDRPToken stores a bearer token for an active agent, with the
// setup message that asked for it (ErrReplayed if it asked before).
func (s *Store) IssueDRPToken(ctx context.Context, agentID, hash string, seen DRPSeenMessage, now time.Time) error {
	now = now.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a DRPAgent
		if err := tx.Take(&a, "id = ?", agentID).Error; err != nil {
			return err
		}
		if !a.Active() {
			return ErrAgentRevoked
		}
		if err := remember(tx, seen, now); err != nil {
			return err
		}
		if err := tx.Create(&DRPAgentToken{Hash: hash, AgentID: agentID, CreatedAt: now}).Error; err != nil {
			return err
		}
		return tx.Create(&DRPAgentEvent{AgentID: agentID, Actor: "agent", Action: AgentEventTokenIssued,
			Detail: "pairwise key setup", At: now}).Error
	})
	if errors.Is(err, ErrReplayed) || errors.Is(err, ErrAgentRevoked) {
		return err
	}
	if err != nil {
		return notFound(err, "issue agent token")
	}
	return nil
}

// DRPAgentByToken finds the agent a bearer token (its hash) was issued
// to, revoked or not; an unknown token answers ErrNotFound.
func (s *Store) DRPAgentByToken(ctx context.Context, hash string) (*DRPAgent, error) {
	var a DRPAgent
	err := s.db.WithContext(ctx).Joins("JOIN drp_agent_tokens t ON t.agent_id = drp_agents.id").
		Where("t.hash = ?", hash).Take(&a).Error
	if err != nil {
		return nil, notFound(err, "agent token")
	}
	return &a, nil
}

// CreateDRPRequest stores a request an agent made, its link to the
// agent and the message it came in, in one transaction: a replayed
// message (ErrReplayed) stores nothing. With evidence, the request is
// stored verified (r.VerifiedAt and VerifiedBy set), as a logged one is.
func (s *Store) CreateDRPRequest(ctx context.Context, r *Request, statusToken *RequestToken, link *DRPRequest, seen DRPSeenMessage, evidence, receivedDetail string) error {
	if (evidence != "") != (r.VerifiedAt != nil) {
		return errors.New("store: evidence goes with a verification")
	}
	err := s.createRequest(ctx, r, statusToken, evidence, nil, true, func(tx *gorm.DB, received *AuditEvent) error {
		if err := remember(tx, seen, r.ReceivedAt); err != nil {
			return err
		}
		link.RequestID = r.ID
		if err := tx.Create(link).Error; err != nil {
			return err
		}
		received.Actor, received.Detail = "agent:"+link.AgentID, receivedDetail
		return nil
	})
	if errors.Is(err, ErrReplayed) {
		return ErrReplayed
	}
	return err
}

// DRPRequestOf loads a request's link to its agent; a request no agent
// made answers ErrNotFound.
func (s *Store) DRPRequestOf(ctx context.Context, requestID string) (*DRPRequest, error) {
	var d DRPRequest
	if err := s.db.WithContext(ctx).Take(&d, "request_id = ?", requestID).Error; err != nil {
		return nil, notFound(err, "agent request "+requestID)
	}
	return &d, nil
}

// ClaimDRPMessage records a signed message as accepted on its own, for a
// command whose effect is recorded elsewhere (a revocation, carried out
// by the workflow). ErrReplayed if it was accepted before.
func (s *Store) ClaimDRPMessage(ctx context.Context, seen DRPSeenMessage, now time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return remember(tx, seen, now) })
	if errors.Is(err, ErrReplayed) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: claim message: %w", err)
	}
	return nil
}

// MarkDRPRevoked records that the agent revoked its request.
func (s *Store) MarkDRPRevoked(ctx context.Context, requestID, reason string, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&DRPRequest{}).Where("request_id = ? AND revoked_at IS NULL", requestID).
		Updates(map[string]any{"revoked_at": now.UTC(), "revoke_reason": reason}).Error
	if err != nil {
		return fmt.Errorf("store: mark revoked: %w", err)
	}
	return nil
}
