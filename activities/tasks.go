package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// Tasks are the activities for the systems dsar does not reach itself:
// a task per webhook and manual system, the webhook calls, and the
// officers' progress on the manual ones.
type Tasks struct {
	Store   *store.Store
	Systems *datamap.Systems // nil: no data map configured
	Sealer  *export.Sealer   // seals what webhooks answer
	Now     func() time.Time
}

// Task is what the workflow knows of a task: a system's name and kind,
// nothing about the person.
type Task struct {
	System string `json:"system"`
	Kind   string `json:"kind"`
	Done   bool   `json:"done"`
}

// Webhook signing: the receiver recomputes HMAC-SHA256 over
// "<timestamp>.<body>" with the shared secret and compares.
const (
	HeaderSignature = "X-DSAR-Signature" // "sha256=" + hex HMAC
	HeaderTimestamp = "X-DSAR-Timestamp" // Unix seconds
	// maxWebhookAnswer bounds what a webhook may answer.
	maxWebhookAnswer = 32 << 20
	webhookTimeout   = time.Minute
)

// WebhookRequest is the JSON body a webhook system receives.
type WebhookRequest struct {
	RequestID   string              `json:"request_id"`
	Type        domain.RequestType  `json:"type"`
	Identities  datamap.Identities  `json:"identities"`
	Corrections []WebhookCorrection `json:"corrections,omitempty"`
	SentAt      time.Time           `json:"sent_at"`
}

// WebhookCorrection is one corrected value, with its category.
type WebhookCorrection struct {
	Field    string `json:"field"`
	Category string `json:"category,omitempty"`
	Value    string `json:"value"`
}

// WebhookAnswer is what dsar reads from a webhook's 2xx answer: records
// go into access and export packages as they are; summary is shown to the
// officer and the requester. Both are optional.
type WebhookAnswer struct {
	Summary string          `json:"summary,omitempty"`
	Records json.RawMessage `json:"records,omitempty"`
}

// Sign returns the signature header value for a webhook body.
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// PrepareTasks creates a request's tasks for the data map's webhook and
// manual systems (once; a retry finds them) and returns them.
func (a *Tasks) PrepareTasks(ctx context.Context, requestID string) ([]Task, error) {
	if a.Systems == nil {
		return nil, nil
	}
	var want []store.Task
	for _, s := range a.Systems.Map.Systems {
		if s.Kind == datamap.KindWebhook || s.Kind == datamap.KindManual {
			want = append(want, store.Task{System: s.Name, Kind: string(s.Kind), Instructions: s.Instructions})
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	ts, err := a.Store.EnsureTasks(ctx, requestID, want, a.Now())
	if err != nil {
		return nil, classify(err)
	}
	return tasksOf(ts), nil
}

// PendingTasks lists a request's tasks with whether each is done; the
// workflow asks in case a completion signal was lost.
func (a *Tasks) PendingTasks(ctx context.Context, requestID string) ([]Task, error) {
	ts, err := a.Store.Tasks(ctx, requestID)
	if err != nil {
		return nil, err
	}
	return tasksOf(ts), nil
}

func tasksOf(ts []store.Task) []Task {
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = Task{System: t.System, Kind: t.Kind, Done: t.DoneAt != nil}
	}
	return out
}

// CallWebhook sends the request to a webhook system, signed, and stores
// its answer sealed. Any answer but 2xx is an error, so Temporal retries
// until the system answers; a task already done is not called again.
func (a *Tasks) CallWebhook(ctx context.Context, requestID, system string) error {
	ts, err := a.Store.Tasks(ctx, requestID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.System == system && t.DoneAt != nil {
			return nil
		}
	}
	if a.Systems == nil || a.Systems.Map.System(system) == nil {
		return fmt.Errorf("webhook %s is no longer in the data map", system)
	}
	s := a.Systems.Map.System(system)
	url, err := s.DSN()
	if err != nil {
		return err
	}
	secret, err := s.Secret()
	if err != nil {
		return err
	}
	r, err := a.Store.GetRequest(ctx, requestID)
	if err != nil {
		return classify(err)
	}
	in := WebhookRequest{RequestID: r.ID, Type: r.Type, Identities: identities(r), SentAt: a.Now().UTC()}
	for _, c := range r.Corrections {
		cat, _ := domain.CorrectionCategory(c.Field)
		in.Corrections = append(in.Corrections, WebhookCorrection{Field: c.Field, Category: cat, Value: c.Value})
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	answer, err := a.post(ctx, url, secret, body)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", system, err)
	}
	var parsed WebhookAnswer
	if len(bytes.TrimSpace(answer)) > 0 {
		if err := json.Unmarshal(answer, &parsed); err != nil {
			return fmt.Errorf("webhook %s: its answer is not a JSON object: %w", system, err)
		}
	}
	keyID, sealed := a.Sealer.SealBlob(requestID+"/"+system, answer)
	err = a.Store.CompleteTask(ctx, store.Task{
		RequestID: requestID, System: system, DoneBy: store.ActorSystem,
		Note: truncate(parsed.Summary, 500), AnswerKey: keyID, Answer: sealed,
	}, a.Now())
	if errors.Is(err, store.ErrTaskDone) {
		return nil
	}
	return err
}

func (a *Tasks) post(ctx context.Context, url, secret string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	now := a.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now, 10))
	req.Header.Set(HeaderSignature, Sign(secret, now, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	if len(answer) > maxWebhookAnswer {
		return nil, fmt.Errorf("answered more than %d MiB", maxWebhookAnswer>>20)
	}
	return answer, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
