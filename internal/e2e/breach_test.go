package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
	"github.com/dsar-project/dsar/workflows"
)

// breachPeople is how many customers the fan-out test notifies.
const breachPeople = 10_000

type breachJSON struct {
	ID             string     `json:"id"`
	AffectedPeople *int       `json:"affected_people"`
	EscalatedAt    *time.Time `json:"escalated_at"`
	ClosedAt       *time.Time `json:"closed_at"`
	FanoutDoneAt   *time.Time `json:"fanout_done_at"`
	DeadlineAt     time.Time  `json:"deadline_at"`
	Overdue        bool       `json:"overdue"`
	HoursLeft      float64    `json:"hours_left"`
	Progress       struct{ Total, Sent, Uncertain int }
	Events         []struct{ Action, Detail, Actor string }
	Error          string `json:"error"`
}

func (s *system) breach(id string) breachJSON {
	s.t.Helper()
	var b breachJSON
	if code := s.call("GET", "/api/v1/officer/breaches/"+id, s.token, nil, &b); code != http.StatusOK {
		s.t.Fatalf("get breach: %d %+v", code, b)
	}
	return b
}

// TestBreachFanOutReachesEveryoneOnceAcrossAWorkerRestart: a breach of
// contact data recorded 70 hours after awareness escalates at once; its
// approved notice reaches all 10,000 customers of the demo shop through
// the local SendGrid server, each exactly once, although the worker is
// stopped and replaced in the middle of the fan-out; the authority's
// notification closes it and its report says what Art. 33(3) asks.
func TestBreachFanOutReachesEveryoneOnceAcrossAWorkerRestart(t *testing.T) {
	s := newSystemEnv(t, "", map[string]string{"DSAR_BREACH_RATE": "2000"})
	s.sendgrid.KeepBodiesOff()
	ctx := context.Background()
	db, kind, err := datamap.OpenSQL(s.shop)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Seed(ctx, db, kind, demoPeople, breachPeople, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Bad input changes nothing.
	var bad struct{ Fields map[string]string }
	if code := s.call("POST", "/api/v1/officer/breaches", s.token, map[string]any{
		"title": "x", "description": "y", "aware_at": time.Now().Add(time.Hour), "systems": []string{"crm"}, "risk": "severe",
	}, &bad); code != http.StatusBadRequest || bad.Fields["aware_at"] == "" || bad.Fields["systems"] == "" || bad.Fields["risk"] == "" {
		t.Errorf("a bad breach: %d %+v", code, bad)
	}

	var b breachJSON
	code := s.call("POST", "/api/v1/officer/breaches", s.token, map[string]any{
		"title":        "Customer list exposed",
		"description":  "An export of the customer table was readable without a password for two days.",
		"aware_at":     time.Now().Add(-70 * time.Hour).UTC(),
		"systems":      []string{"shop"},
		"categories":   []string{"user.contact.email"},
		"risk":         "high",
		"consequences": "Phishing aimed at our customers.",
		"measures":     "Link revoked; access logs reviewed.",
	}, &b)
	if code != http.StatusCreated || b.ID == "" {
		t.Fatalf("record breach: %d %+v", code, b)
	}
	waitFor(t, func() bool { b = s.breach(b.ID); return b.AffectedPeople != nil && b.EscalatedAt != nil })
	if *b.AffectedPeople != breachPeople {
		t.Fatalf("%d people affected, want %d", *b.AffectedPeople, breachPeople)
	}
	if b.HoursLeft > 2.1 || b.HoursLeft < 1.9 || b.Overdue {
		t.Errorf("hours left %v, overdue %v", b.HoursLeft, b.Overdue)
	}
	alert := s.waitMail("", "officer_breach_reminder")
	if !strings.HasPrefix(alert.Subject, "URGENT: Breach "+b.ID) {
		t.Errorf("the late breach's alert: %q", alert.Subject)
	}

	var refused struct{ Error string }
	if code := s.call("POST", "/api/v1/officer/breaches/"+b.ID+"/notice", s.token, map[string]string{"subject": "About your data"}, &refused); code != http.StatusConflict || !strings.Contains(refused.Error, "needs its text") {
		t.Errorf("a notice without text: %d %+v", code, refused)
	}
	if code := s.call("POST", "/api/v1/officer/breaches/"+b.ID+"/notice", s.token, map[string]string{
		"subject": "Your email address was exposed",
		"text":    "Between 1 and 3 May a list with your name and email address could be read by anyone with its link. Beware of phishing.",
	}, nil); code != http.StatusOK {
		t.Fatalf("approve notice: %d", code)
	}
	waitFor(t, func() bool { return s.breach(b.ID).Progress.Sent >= 2000 })
	s.restartWorker()
	waitForLong(t, 120*time.Second, func() bool { return s.breach(b.ID).FanoutDoneAt != nil })

	got := map[string]int{}
	for _, m := range s.sendgrid.Mails() {
		if m.Ref == b.ID {
			got[m.To]++
		}
	}
	if len(got) != breachPeople {
		t.Errorf("%d people received the notice, want %d", len(got), breachPeople)
	}
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s received the notice %d times", to, n)
		}
	}
	if p := s.breach(b.ID).Progress; p.Uncertain != 0 || p.Total != breachPeople {
		t.Errorf("progress %+v", p)
	}
	var missing struct{ Fields map[string]string }
	if code := s.call("POST", "/api/v1/officer/breaches/"+b.ID+"/uncertain", s.token, map[string]any{}, &missing); code != http.StatusBadRequest || missing.Fields["resend"] == "" {
		t.Errorf("settling uncertain sends without a choice: %d %+v", code, missing)
	}
	var nothing struct{ Error string }
	if code := s.call("POST", "/api/v1/officer/breaches/"+b.ID+"/uncertain", s.token, map[string]any{"resend": true}, &nothing); code != http.StatusConflict || !strings.Contains(nothing.Error, "uncertain delivery") {
		t.Errorf("settling uncertain sends when there are none: %d %+v", code, nothing)
	}

	if code := s.call("POST", "/api/v1/officer/breaches/"+b.ID+"/authority", s.token, map[string]string{
		"authority": "Autoriteit Persoonsgegevens", "reference": "AP-2026-77",
	}, nil); code != http.StatusOK {
		t.Fatalf("authority: %d", code)
	}
	waitFor(t, func() bool { return s.breach(b.ID).ClosedAt != nil })
	s.recordWorkflowHistory(workflows.BreachWorkflowID(b.ID), "breach_fanout.json")
	noneInHistory(t, workflows.BreachWorkflowID(b.ID), "could be read by anyone", "AP-2026-77", "Autoriteit",
		"officer@example.org", demo.PersonAt(0).Email, demo.PersonAt(breachPeople-1).Email)
	if n := fanOutAttempts(t, s, b.ID); n < 2 {
		t.Errorf("the fan-out ran in %d attempt; the restart did not interrupt it", n)
	}

	var report map[string]any
	if code := s.call("GET", "/api/v1/officer/breaches/"+b.ID+"/report", s.token, nil, &report); code != http.StatusOK {
		t.Fatalf("report: %d", code)
	}
	for key, want := range map[string]any{
		"approximate_people": float64(breachPeople), "likely_consequences": "Phishing aimed at our customers.",
		"measures_taken_or_proposed": "Link revoked; access logs reviewed.", "authority_reference": "AP-2026-77",
	} {
		if report[key] != want {
			t.Errorf("report %s = %v, want %v", key, report[key], want)
		}
	}
	if cats := fmt.Sprint(report["categories_of_data"]); !strings.Contains(cats, "user.contact.email") {
		t.Errorf("report categories %s", cats)
	}
}

func waitForLong(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("timed out")
}

// fanOutAttempts reads the breach's history for the attempt on which its
// fan-out finished.
func fanOutAttempts(t *testing.T, s *system, id string) int32 {
	t.Helper()
	it := s.app.Temporal.GetWorkflowHistory(context.Background(), workflows.BreachWorkflowID(id), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	fanOut := map[int64]bool{}
	var attempt int32
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "FanOut" {
			fanOut[ev.GetEventId()] = true
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && fanOut[a.GetScheduledEventId()] {
			attempt = a.GetAttempt()
		}
	}
	return attempt
}
