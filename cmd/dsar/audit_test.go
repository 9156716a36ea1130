package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/auditchain"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestAuditVerifyFindsTampering: `dsar audit verify` passes a trail written
// with the configured key, then fails with exit status 1, naming the
// entry, once a row is changed in the SQLite database behind dsar's back.
func TestAuditVerifyFindsTampering(t *testing.T) {
	dir := env(t)
	ctx := context.Background()
	if _, _, err := dsar(t, "", "audit", "verify"); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("verify before any database: %v", err)
	}
	if _, _, err := dsar(t, "", "migrate"); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, "", filepath.Join(dir, "dsar.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auditchain.Keys(os.Getenv("DSAR_SECRET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	st.SetAuditKeys(keys...)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"DSR-AUDITCMD01", "DSR-AUDITCMD02"} {
		r := &store.Request{ID: id, Type: domain.TypeAccess, Status: domain.StatusReceived, Email: "ada@example.com",
			Name: "Ada", ReceivedAt: at, DueAt: at.AddDate(0, 1, 0)}
		if err := st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Transition(ctx, store.Transition{RequestID: id, To: domain.StatusVerifying, Actor: store.ActorSystem, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out, _, err := dsar(t, "", "audit", "verify")
	if err != nil || !strings.Contains(out, "4 entries verified") || !strings.Contains(out, "head: 4:") {
		t.Fatalf("verify of an untouched trail: %q, %v", out, err)
	}
	head := strings.TrimSpace(out[strings.Index(out, "head: ")+len("head: "):])
	if out, _, err := dsar(t, "", "audit", "verify", "--anchor", head); err != nil {
		t.Errorf("verify with the head as anchor: %q, %v", out, err)
	}
	if _, _, err := dsar(t, "", "audit", "verify", "--anchor", "4:abc"); err == nil || !strings.Contains(err.Error(), "SEQ:MAC") {
		t.Errorf("a malformed anchor: %v", err)
	}

	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "dsar.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var id int64
	if err := raw.QueryRow(`SELECT id FROM audit_events WHERE request_id = 'DSR-AUDITCMD02' AND action = 'status'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE audit_events SET detail = 'received → completed' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}

	cmd, stdout, stderr := dsarProcess(t, dir, []string{"DSAR_DATA_DIR=" + dir, "DSAR_SECRET_KEY=" + os.Getenv("DSAR_SECRET_KEY")}, "audit", "verify")
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("verify of a tampered trail: %v; stdout %q, stderr %q", err, stdout, stderr)
	}
	want := "entry 4 (request DSR-AUDITCMD02, sequence 4): changed"
	if id != 4 || !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if !strings.Contains(stdout.String(), "3 entries verified before the break") {
		t.Errorf("stdout %q", stdout)
	}

	// Without the key there is nothing to check with; with another key
	// nothing checks.
	t.Setenv("DSAR_SECRET_KEY", "")
	if _, _, err := dsar(t, "", "audit", "verify"); err == nil || !strings.Contains(err.Error(), "DSAR_SECRET_KEY") {
		t.Errorf("verify without a key: %v", err)
	}
	t.Setenv("DSAR_SECRET_KEY", "another-secret-key-of-enough-length-456")
	if _, _, err := dsar(t, "", "audit", "verify"); err == nil || !strings.Contains(err.Error(), "unverifiable") {
		t.Errorf("verify with another key: %v", err)
	}
}
