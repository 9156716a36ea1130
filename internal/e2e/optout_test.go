package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/demo"
)

// TestOptOutStopsTheirMarketingWithoutAnOfficer: a person asks to stop
// marketing. Once they confirm their address, dsar turns their newsletter
// flag off and deletes their subscription with no officer's review,
// touches no one else's rows, emails what it changed, and a backup taken
// before the opt-out comes back from a restore opted out too.
func TestOptOutStopsTheirMarketingWithoutAnOfficer(t *testing.T) {
	s := newSystem(t)
	const person = 0 // Ada Lovelace, a subscriber
	p := demo.PersonAt(person)
	before := s.snapshot()
	if !strings.HasSuffix(before["customers"][person], "|true") && !strings.HasSuffix(before["customers"][person], "|1") {
		t.Fatalf("Ada's newsletter flag is not on before the opt-out: %q", before["customers"][person])
	}
	if _, ok := before["newsletter_subscriptions"][person]; !ok {
		t.Fatal("Ada has no subscription before the opt-out")
	}

	var r created
	if code := s.call("POST", "/api/v1/requests", "", map[string]any{"type": "opt_out", "email": p.Email, "name": p.Name, "regime": "ccpa"}, &r); code != http.StatusCreated {
		t.Fatalf("submit an opt-out: %d", code)
	}
	var detail struct {
		DueAt    time.Time `json:"due_at"`
		Received time.Time `json:"received_at"`
	}
	s.call("GET", "/api/v1/officer/requests/"+r.ID, s.token, nil, &detail)
	if days := detail.DueAt.Sub(detail.Received).Hours() / 24; days < 15 || days > 23 {
		t.Errorf("a CCPA opt-out is due %.0f days after receipt, want 15 business days", days)
	}
	link := verifyLink.FindString(s.waitMail(r.ID, "verification").Text)
	if code, _ := s.confirm(link); code != http.StatusOK {
		t.Fatalf("confirm: %d", code)
	}
	// No officer acts: the opt-out completes on its own.
	s.waitStatus(r.ID, "completed")
	mail := s.waitMail(r.ID, "completed").Text
	for _, want := range []string{"We stopped marketing to you", "shop / customers: marketing switched off (1 record)", "shop / newsletter_subscriptions: subscription removed (1 record)"} {
		if !strings.Contains(mail, want) {
			t.Errorf("the completion email lacks %q:\n%s", want, mail)
		}
	}
	var extend struct{ Detail string }
	if code := s.call("POST", "/api/v1/officer/requests/"+r.ID+"/extend", s.token, map[string]any{"reason": "busy"}, &extend); code == http.StatusOK {
		t.Error("a completed opt-out was extended")
	}

	after := s.snapshot()
	unchangedExcept(t, before, after, person)
	if row := after["customers"][person]; !strings.HasSuffix(row, "|false") && !strings.HasSuffix(row, "|0") {
		t.Errorf("Ada's newsletter flag is still on: %q", row)
	}
	if _, ok := after["newsletter_subscriptions"][person]; ok {
		t.Error("Ada's subscription is still there")
	}
	for table, rows := range before {
		for id, row := range rows {
			if table != "customers" && table != "newsletter_subscriptions" && after[table][id] != row {
				t.Errorf("the opt-out changed %s row %d", table, id)
			}
		}
	}

	// A backup taken before the opt-out, restored, is opted out again.
	ctx := context.Background()
	snaps, err := archive.List(os.Getenv(demo.ArchiveEnv))
	if err != nil || len(snaps) == 0 {
		t.Fatalf("the demo has no backups to restore: %v", err)
	}
	sys := s.app.Systems.Map.System("shop")
	tombs, err := s.app.Store.Tombstones(ctx, "shop", snaps[0].TakenAt)
	if err != nil {
		t.Fatal(err)
	}
	l, err := archive.Load(ctx, sys, snaps[0])
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	forgot, err := l.Forget(ctx, archive.Suppression{Tombstones: tombs, Hashes: s.app.Sealer.Hashes}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if forgot.OptedOut != 2 || forgot.People != 0 {
		t.Errorf("the restore forgot %+v, want Ada's flag and subscription opted out again and no one erased", forgot)
	}
	var on, subs int
	if err := l.Conn.DB.QueryRow(`SELECT count(*) FROM customers WHERE id = ? AND newsletter`, person).Scan(&on); err != nil {
		t.Fatal(err)
	}
	if err := l.Conn.DB.QueryRow(`SELECT count(*) FROM newsletter_subscriptions WHERE id = ?`, person).Scan(&subs); err != nil {
		t.Fatal(err)
	}
	if on != 0 || subs != 0 {
		t.Errorf("the restored backup still markets to Ada: flag on %d, subscriptions %d", on, subs)
	}
	s.recordHistory(r.ID, "subject_request_opt_out.json")
}
