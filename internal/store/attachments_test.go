package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/store"
)

// TestAttachmentsAreAuditedListedAndGoWithTheirRequest: an attachment is
// stored and audited without its file name, listed without its content,
// found only under its own request, and deleted when the request's
// record is.
func TestAttachmentsAreAuditedListedAndGoWithTheirRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		at := time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)
		var ids []string
		for _, id := range []string{"DSR-ATTACH0001", "DSR-ATTACH0002"} {
			r := &store.Request{ID: id, Type: domain.TypeAccess, Status: domain.StatusReceived,
				Email: "grace@example.com", Name: "Grace Hopper", ReceivedAt: at, DueAt: at.AddDate(0, 0, 30)}
			if err := db.st.CreateRequest(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		a := &store.Attachment{ID: "ATT-0000000001", RequestID: ids[0], Kind: "identity", FileName: "grace-hopper-passport.pdf",
			ContentType: "application/pdf", Size: 3, KeyID: "k", Sealed: []byte{1, 2, 3}, AddedBy: "officer@example.org", CreatedAt: at}
		if err := db.st.AddAttachment(ctx, a); err != nil {
			t.Fatal(err)
		}
		missing := *a
		missing.ID, missing.RequestID = "ATT-0000000002", "DSR-NOSUCH0001"
		if err := db.st.AddAttachment(ctx, &missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an attachment to no request: %v, want ErrNotFound", err)
		}

		list, err := db.st.Attachments(ctx, ids[0])
		if err != nil || len(list) != 1 || list[0].FileName != a.FileName || list[0].Sealed != nil || !list[0].CreatedAt.Equal(at) {
			t.Errorf("Attachments = %+v, %v; want the one, without its content", list, err)
		}
		if got, err := db.st.AttachmentOf(ctx, ids[0], a.ID); err != nil || string(got.Sealed) != "\x01\x02\x03" {
			t.Errorf("AttachmentOf = %+v, %v", got, err)
		}
		if _, err := db.st.AttachmentOf(ctx, ids[1], a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another request's attachment: %v, want ErrNotFound", err)
		}
		trail := strings.Join(actions(t, db, ids[0]), "\n")
		if !strings.Contains(trail, "attachment_added:attachment ATT-0000000001 (identity, application/pdf, 3 bytes)") || strings.Contains(trail, "passport") {
			t.Errorf("trail:\n%s", trail)
		}

		// The request's record goes, and its attachment with it. dsar
		// deletes no request itself; whoever does (an operator ending a
		// record's retention) takes its files with it.
		conn, err := db.raw.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if db.dialect == store.SQLite {
			if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = ON"); err != nil {
				t.Fatal(err)
			}
		}
		q := func(s string) string {
			if db.dialect == store.SQLite {
				return s
			}
			return strings.Replace(s, "?", "$1", 1)
		}
		for _, stmt := range []string{"DELETE FROM audit_events WHERE request_id = ?", "DELETE FROM requests WHERE id = ?"} {
			if _, err := conn.ExecContext(ctx, q(stmt), ids[0]); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM request_attachments").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d attachments outlived their request (%v)", n, err)
		}
	})
}
