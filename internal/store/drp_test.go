package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestDRPMessagesAreAcceptedOnce: a replayed setup or request message
// stores nothing (no token, no request), on both databases; a revoked
// agent gets no token.
func TestDRPMessagesAreAcceptedOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
		a := &store.DRPAgent{ID: "AGENT_A", Name: "Agent A", VerifyKey: "key", CreatedAt: now, CreatedBy: "admin@example.org"}
		if err := db.st.CreateDRPAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := db.st.CreateDRPAgent(ctx, a); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second registration: %v", err)
		}
		seen := store.DRPSeenMessage{Hash: "setup-1", ExpiresAt: now.Add(5 * time.Minute)}
		if err := db.st.IssueDRPToken(ctx, a.ID, "token-1", seen, now); err != nil {
			t.Fatal(err)
		}
		if err := db.st.IssueDRPToken(ctx, a.ID, "token-2", seen, now); !errors.Is(err, store.ErrReplayed) {
			t.Errorf("replayed setup: %v", err)
		}
		if _, err := db.st.DRPAgentByToken(ctx, "token-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the replay's token was stored: %v", err)
		}

		newRequest := func(id, hash string) error {
			r := &store.Request{ID: id, Type: domain.TypeDeletion, Status: domain.StatusReceived, Email: "ada@example.org",
				Name: "Ada", ReceivedAt: now, DueAt: now.AddDate(0, 0, 45), Channel: domain.ChannelDRP}
			return db.st.CreateDRPRequest(ctx, r, nil, &store.DRPRequest{AgentID: a.ID, Exercise: "deletion"},
				store.DRPSeenMessage{Hash: hash, ExpiresAt: now.Add(5 * time.Minute)}, "", "received from agent")
		}
		if err := newRequest("DSR-AAAAAAAAAA", "exercise-1"); err != nil {
			t.Fatal(err)
		}
		if err := newRequest("DSR-BBBBBBBBBB", "exercise-1"); !errors.Is(err, store.ErrReplayed) {
			t.Errorf("replayed request: %v", err)
		}
		if _, err := db.st.GetRequest(ctx, "DSR-BBBBBBBBBB"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the replay's request was stored: %v", err)
		}
		link, err := db.st.DRPRequestOf(ctx, "DSR-AAAAAAAAAA")
		if err != nil || link.AgentID != a.ID {
			t.Errorf("link %+v %v", link, err)
		}

		if _, err := db.st.RevokeDRPAgent(ctx, a.ID, "admin@example.org", now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.st.RevokeDRPAgent(ctx, a.ID, "admin@example.org", now); !errors.Is(err, store.ErrAgentRevoked) {
			t.Errorf("second revoke: %v", err)
		}
		err = db.st.IssueDRPToken(ctx, a.ID, "token-3", store.DRPSeenMessage{Hash: "setup-2", ExpiresAt: now.Add(time.Minute)}, now)
		if !errors.Is(err, store.ErrAgentRevoked) {
			t.Errorf("a revoked agent's setup: %v", err)
		}
		got, err := db.st.DRPAgentByToken(ctx, "token-1")
		if err != nil || got.Active() {
			t.Errorf("the revoked agent's token answers %+v %v", got, err)
		}
		es, err := db.st.DRPAgentEvents(ctx, a.ID)
		if err != nil || len(es) != 3 || es[0].Action != "registered" || es[1].Action != "token_issued" || es[2].Action != "revoked" {
			t.Errorf("trail %+v %v", es, err)
		}
	})
}
