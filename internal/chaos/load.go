package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsar-project/dsar/internal/demo"
)

// outcome is one request the load drove.
type outcome struct {
	n      int
	person int
	typ    string
	id     string
	status string
	err    string
	start  time.Time
	end    time.Time
}

var (
	verifyPath    = regexp.MustCompile(`/verify/[A-Za-z0-9_-]+`)
	confirmButton = regexp.MustCompile(`<form method="post" action="/verify">\s*<input type="hidden" name="token" value="([A-Za-z0-9_-]{43})">`)
)

// firstPerson is the first demo person the load uses; the breach reaches
// everyone, the requests each come from a different person after it.
const firstPerson = 4

// exercise runs the load and the faults together, then waits for every
// request and the breach to end.
func (r *run) exercise(ctx context.Context) {
	breachDone := make(chan struct{})
	go func() {
		defer close(breachDone)
		r.breach(ctx)
	}()

	faultsDone := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	// Each request has the time the faults still need plus the drain.
	deadline := time.Now().Add(time.Duration(len(Kinds)*r.o.FaultsPerKind)*r.o.Interval*2 + r.o.Drain)
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for range r.o.Concurrency {
		wg.Go(func() {
			for {
				select {
				case <-faultsDone:
					return
				default:
				}
				n := int(next.Add(1)) - 1
				if firstPerson+n >= r.o.People {
					r.problem("the shop has too few people (%d) for more requests; raise People", r.o.People)
					return
				}
				r.request(lctx, n)
				if lctx.Err() != nil {
					return
				}
			}
		})
	}
	r.faults(ctx)
	close(faultsDone)
	r.log("faults done; draining: waiting for the requests in flight and the breach (at most %s)", r.o.Drain)
	drain, cancelDrain := context.WithTimeout(ctx, r.o.Drain)
	defer cancelDrain()
	go func() {
		<-drain.Done()
		cancel() // the requests still driven stop here
	}()
	// The breach is watched beside the requests, so a request that
	// never ends does not leave it unlooked-at until the drain is over.
	<-breachDone
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		r.waitBreach(drain)
	}()
	wg.Wait()
	<-watched
}

// request drives one request through the public flow: submit, confirm
// the address through the emailed link, approve as an officer, wait for
// its end state.
func (r *run) request(ctx context.Context, n int) {
	o := &outcome{n: n, person: firstPerson + n, typ: requestTypes[n%len(requestTypes)], start: time.Now()}
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	r.report.Requests++
	r.report.ByType[o.typ]++
	r.mu.Unlock()
	err := r.drive(ctx, o)
	r.mu.Lock()
	defer r.mu.Unlock()
	o.end = time.Now()
	if err != nil {
		o.err = err.Error()
		r.log("request %d (%s, %s): %v", n, o.typ, o.id, err)
	}
}

func (r *run) drive(ctx context.Context, o *outcome) error {
	p := demo.PersonAt(o.person)
	body := map[string]any{"type": o.typ, "email": p.Email, "name": p.Name}
	if o.typ == "correction" {
		body["corrections"] = []map[string]string{{"field": "name", "value": p.Name + " Corrected"}}
	}
	// Submitting is not idempotent: when no answer came back, the
	// request may have been stored, so look for it before sending again.
	for o.id == "" {
		var created struct {
			ID string `json:"id"`
		}
		code, b, err := r.client.once(ctx, "POST", "/api/v1/requests", false, body, &created)
		switch {
		case err == nil && code == http.StatusCreated && created.ID != "":
			o.id = created.ID
			continue
		case err == nil && code < 500:
			return fmt.Errorf("submit answered %d: %.200s", code, b)
		}
		var found struct {
			Requests []struct {
				ID string `json:"id"`
			} `json:"requests"`
		}
		if _, _, err := r.client.call(ctx, "GET", "/api/v1/officer/requests?q="+url.QueryEscape(p.Email), true, nil, &found); err != nil {
			return fmt.Errorf("looking for a submission that got no answer: %w", err)
		}
		if len(found.Requests) > 0 {
			o.id = found.Requests[0].ID
			continue
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("submit: %w", err)
		}
	}
	for {
		status, err := r.status(ctx, o.id)
		if err != nil {
			return err
		}
		r.mu.Lock()
		o.status = status
		r.mu.Unlock()
		switch status {
		case "completed":
			// The status is written before the completion email goes
			// out; a send that a fault cut off is retried after it. The
			// request is done once the email is in too (or the drain
			// ends, and the check reports it missing).
			if r.mailed(o.id, "completed") {
				return nil
			}
		case "denied", "withdrawn", "expired_unverified":
			return fmt.Errorf("ended %s", status)
		case "received", "verifying":
			if err := r.confirm(ctx, o.id); err != nil {
				return err
			}
		case "in_review":
			var body any
			if o.typ == "deletion" || o.typ == "correction" {
				// Approving these confirms a dry run of what they will do.
				var d struct {
					ID string `json:"id"`
				}
				code, b, err := r.client.call(ctx, "POST", "/api/v1/officer/requests/"+o.id+"/dry-run", true, nil, &d)
				if err != nil {
					return fmt.Errorf("dry run: %w", err)
				}
				if code != http.StatusOK {
					// Still working it out, or a fault: ask again.
					r.log("%s: dry run answered %d: %.200s", o.id, code, b)
					if err := sleep(ctx, 500*time.Millisecond); err != nil {
						return fmt.Errorf("dry run of %s: %w", o.id, err)
					}
					continue
				}
				body = map[string]string{"dry_run_id": d.ID}
			}
			code, b, err := r.client.call(ctx, "POST", "/api/v1/officer/requests/"+o.id+"/approve", true, body, nil)
			if err != nil {
				return fmt.Errorf("approve: %w", err)
			}
			if code != http.StatusOK && code != http.StatusAccepted && code != http.StatusConflict {
				return fmt.Errorf("approve answered %d: %.200s", code, b)
			}
		case "awaiting_release":
			if _, _, err := r.client.call(ctx, "POST", "/api/v1/officer/requests/"+o.id+"/release", true, nil, nil); err != nil {
				return fmt.Errorf("release: %w", err)
			}
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for %s to leave %q: %w", o.id, status, err)
		}
	}
}

func (r *run) status(ctx context.Context, id string) (string, error) {
	var got struct {
		Status string `json:"status"`
	}
	code, b, err := r.client.call(ctx, "GET", "/api/v1/officer/requests/"+id, true, nil, &got)
	if err != nil {
		return "", fmt.Errorf("status of %s: %w", id, err)
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("status of %s answered %d: %.200s", id, code, b)
	}
	return got.Status, nil
}

// confirm does what the person does once the verification email is
// there: opens its link and presses the button. No email yet is no
// error: the caller asks again.
func (r *run) confirm(ctx context.Context, id string) error {
	var link string
	for _, m := range r.sg.Mails() {
		if m.RequestID == id && m.Step == "verification" {
			link = verifyPath.FindString(m.Text)
		}
	}
	if link == "" {
		return nil
	}
	code, page, err := r.client.once(ctx, "GET", link, false, nil, nil)
	if err != nil || code != http.StatusOK {
		return nil // a web server down, or used already: the status says
	}
	m := confirmButton.FindSubmatch(page)
	if m == nil {
		return nil
	}
	_, _, _ = r.client.once(ctx, "POST", "/verify", false, url.Values{"token": {string(m[1])}}, nil)
	return nil
}

// breach records a breach of every customer's contact data, approves
// its notice and waits for the fan-out to end.
func (r *run) breach(ctx context.Context) {
	var b struct {
		ID             string `json:"id"`
		AffectedPeople *int   `json:"affected_people"`
	}
	code, body, err := r.client.call(ctx, "POST", "/api/v1/officer/breaches", true, map[string]any{
		"title":       "Customer list exposed",
		"description": "An export of the customer table was readable without a password.",
		"aware_at":    time.Now().Add(-time.Hour).UTC(),
		"systems":     []string{"shop"},
		"categories":  []string{"user.contact.email"},
		"risk":        "high",
	}, &b)
	if err != nil || code != http.StatusCreated {
		r.problem("recording the breach: %d %v %.200s", code, err, body)
		return
	}
	r.mu.Lock()
	r.report.BreachID = b.ID
	r.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for b.AffectedPeople == nil {
		if err := sleep(wctx, 500*time.Millisecond); err != nil {
			r.problem("breach %s: the people affected were not counted within 2 minutes", b.ID)
			return
		}
		if _, _, err := r.client.call(wctx, "GET", "/api/v1/officer/breaches/"+b.ID, true, nil, &b); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			r.problem("breach %s: %v", b.ID, err)
			return
		}
	}
	code, body, err = r.client.call(ctx, "POST", "/api/v1/officer/breaches/"+b.ID+"/notice", true, map[string]string{
		"subject": "Your email address was exposed",
		"text":    "A list with your name and email address could be read by anyone with its link. Beware of phishing.",
	}, nil)
	if err != nil || code != http.StatusOK {
		r.problem("approving the breach notice: %d %v %.200s", code, err, body)
		return
	}
	r.log("breach %s: notice approved for %d people", b.ID, *b.AffectedPeople)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// mailed tells whether the SendGrid server took the request's email of
// that step.
func (r *run) mailed(id, step string) bool {
	for _, m := range r.sg.Mails() {
		if m.RequestID == id && m.Step == step {
			return true
		}
	}
	return false
}
