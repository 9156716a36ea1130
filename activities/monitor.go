package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/store"
)

// Monitor are the activities of the DeadlineMonitor workflow, which a
// Temporal Schedule runs every DSAR_MONITOR_INTERVAL.
type Monitor struct {
	Requests *Requests
	// Recover starts the workflow of every stored request that has none
	// and resends lost verification signals (office.Service.Recover).
	Recover func(ctx context.Context) (int, error)
	// Window is how far ahead a due date puts a request in the digest.
	Window time.Duration
}

// BreachWindow is how close to its 72 hours an unnotified breach must be
// to appear in the digest.
const BreachWindow = 24 * time.Hour

// DigestLimit bounds the lines of one digest; the dashboard lists the rest.
const DigestLimit = 200

// RecoverRequests starts what a Temporal outage left unstarted.
func (m *Monitor) RecoverRequests(ctx context.Context) (int, error) {
	if m.Recover == nil {
		return 0, nil
	}
	return m.Recover(ctx)
}

// DigestReport is what one digest run found and did.
type DigestReport struct {
	Overdue, DueSoon, Breaches int
	// Unclassified are emails waiting for an officer to classify them;
	// Undelivered requests whose email SendGrid reported bounced or
	// dropped.
	Unclassified, Undelivered int
	// Sent is how many officers were emailed (0 when nothing needed
	// attention or the same digest went out earlier today).
	Sent int
}

// Digest emails the officers one list of the requests overdue or due
// within the window, and the open breaches near their 72 hours. The same
// list goes out at most once a day, so an hourly monitor does not repeat
// itself; a list that changes (a request newly overdue, a new breach) goes
// out at once.
func (m *Monitor) Digest(ctx context.Context) (DigestReport, error) {
	a := m.Requests
	now := a.Now()
	due, err := a.Store.DueBy(ctx, now.Add(m.Window), DigestLimit)
	if err != nil {
		return DigestReport{}, err
	}
	var rep DigestReport
	var items []mail.DigestLine
	for _, r := range due {
		line := mail.DigestLine{
			Ref: r.ID, What: r.Type.Label() + " · " + r.Status.OfficerLabel(),
			Due: formatTime(r.DueAt), Link: a.BaseURL + "/officer/requests/" + r.ID,
		}
		if r.Overdue(now) {
			line.Note = "overdue"
			rep.Overdue++
		} else {
			line.Note = "due in " + DueIn(now, r.DueAt)
			rep.DueSoon++
		}
		items = append(items, line)
	}
	// Requests needing an officer whatever their due date: an email to
	// classify, an email that did not reach the requester.
	attention := map[string]string{}
	needing, err := a.Store.NeedingAttention(ctx, DigestLimit)
	if err != nil {
		return rep, err
	}
	for _, r := range needing {
		var why string
		if r.Type == domain.TypeUnclassified {
			why = "needs classification"
			rep.Unclassified++
		}
		if r.MailFailedEvent != "" {
			word := map[string]string{store.MailBounced: "bounced", store.MailDropped: "dropped"}[r.MailFailedEvent]
			why = strings.TrimPrefix(why+"; "+r.MailFailedStep+" email "+word, "; ")
			rep.Undelivered++
		}
		attention[r.ID] = why
		listed := false
		for i := range items {
			if items[i].Ref == r.ID {
				items[i].Note += "; " + why
				listed = true
			}
		}
		if !listed {
			items = append(items, mail.DigestLine{
				Ref: r.ID, What: r.Type.Label() + " · " + r.Status.OfficerLabel(),
				Due: formatTime(r.DueAt), Link: a.BaseURL + "/officer/requests/" + r.ID, Note: why,
			})
		}
	}
	open, err := a.Store.ListBreaches(ctx, true, DigestLimit)
	if err != nil {
		return rep, err
	}
	for _, b := range open {
		if b.AuthorityNotifiedAt != nil || b.DeadlineAt.After(now.Add(BreachWindow)) {
			continue
		}
		line := mail.DigestLine{
			Ref: b.ID, What: "Breach: " + b.Title + " · authority not notified",
			Due: formatTime(b.DeadlineAt), Link: a.BaseURL + "/officer/breaches/" + b.ID,
			Note: "due in " + hoursLeft(now, b.DeadlineAt),
		}
		if b.Overdue(now) {
			line.Note = "overdue"
		}
		rep.Breaches++
		items = append(items, line)
	}
	if len(items) == 0 {
		return rep, nil
	}
	// The key names the day and what the list says, not when it ran.
	h := sha256.New()
	for _, it := range items {
		state := "soon"
		if strings.HasPrefix(it.Note, "overdue") {
			state = "overdue"
		}
		h.Write([]byte(it.Ref + "|" + it.Due + "|" + state + "|" + attention[it.Ref] + "\n"))
	}
	key := "digest/" + now.UTC().Format(time.DateOnly) + "/" + hex.EncodeToString(h.Sum(nil))[:16]
	data := mail.Data{Organisation: a.Organisation, Items: items, DashboardLink: a.BaseURL + "/officer/requests"}
	rep.Sent, err = a.alert(ctx, mail.KindOfficerDigest, key, "", data, nil)
	return rep, err
}
