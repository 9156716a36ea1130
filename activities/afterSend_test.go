package activities_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/testsuite"

	"github.com/dsar-project/dsar/activities"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/mail"
	"github.com/dsar-project/dsar/internal/metrics"
	"github.com/dsar-project/dsar/internal/pgtest"
	"github.com/dsar-project/dsar/internal/store"
)

// cutSender accepts every message, but while it is sending, dsar's
// database drops every connection (pg_terminate_backend), as in a
// failover or an operator's kill.
type cutSender struct {
	t     *testing.T
	admin *sql.DB
	db    string
	sent  []mail.Message
}

func (c *cutSender) Send(ctx context.Context, m mail.Message) (string, error) {
	var n int
	if err := c.admin.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()) t`, c.db).Scan(&n); err != nil {
		c.t.Errorf("terminate: %v", err)
	}
	if n == 0 {
		c.t.Error("no connection of dsar's database was open to terminate")
	}
	c.sent = append(c.sent, m)
	return "msg-cut", nil
}

// TestEmailSentAsTheDatabaseDropsItsConnectionsIsNotSentAgain (found
// while building the chaos run's terminate_pg fault, docs/reliability.md):
// the database drops dsar's
// connections while SendGrid takes the email. The activity still records
// the send and succeeds, so Temporal does not run it again, and when it
// does run again the email is not sent twice.
func TestEmailSentAsTheDatabaseDropsItsConnectionsIsNotSentAgain(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := &store.Request{ID: "DSR-CUTCONN01", Type: domain.TypeAccess, Status: domain.StatusReceived,
		Email: "ada@example.com", Name: "Ada Lovelace", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	adminURL := os.Getenv("DSAR_TEST_DATABASE_URL")
	if adminURL == "" {
		adminURL = pgtest.DefaultAdminURL
	}
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	sender := &cutSender{t: t, admin: admin, db: strings.TrimPrefix(u.Path, "/")}
	renderer, err := mail.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Requests{
		Store: st, Mail: sender, Templates: renderer, Metrics: metrics.NewEmail(prometheus.NewRegistry()),
		BaseURL: "https://privacy.example.org", Organisation: "Example Ltd",
		Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	email := activities.Email{RequestID: r.ID, Kind: mail.KindAcknowledgement}
	if _, err := env.ExecuteActivity(requests.SendEmail, email); err != nil {
		t.Fatalf("the email went out, but the activity failed, so Temporal would send it again: %v", err)
	}
	// Temporal may still run it again (a worker lost before it reported):
	// the record stops a second send.
	if _, err := env.ExecuteActivity(requests.SendEmail, email); err != nil {
		t.Fatal(err)
	}
	if len(sender.sent) != 1 {
		t.Errorf("the acknowledgement was sent %d times, want once", len(sender.sent))
	}
	if sent, err := st.EmailSent(ctx, r.ID, "acknowledgement"); err != nil || !sent {
		t.Errorf("the send is not recorded: %v %v", sent, err)
	}
}
