package export_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/pgtest"
	"github.com/dsar-project/dsar/internal/store"
	"github.com/dsar-project/dsar/internal/storetest"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*store.Store, string) {
	t.Helper()
	st := storetest.SQLite(t)
	r := &store.Request{ID: "DSR-SEALTEST01", Type: domain.TypeExport, Status: domain.StatusReceived,
		Email: "ada@example.com", Name: "Ada", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	return st, r.ID
}

func write(t *testing.T, st *store.Store, sealer *export.Sealer, requestID, id string, data []byte) *store.Package {
	t.Helper()
	p := &store.Package{ID: id, RequestID: requestID, FileName: "x.zip", ContentType: "application/zip", ExpiresAt: now.Add(time.Hour), DownloadsLeft: 5}
	w, err := export.Create(context.Background(), st, sealer, p, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes, to cross chunk boundaries mid-write.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 300_001)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPackagesRoundTripSealedInChunks(t *testing.T) {
	st, id := setup(t)
	sealer, err := export.NewSealer(strings.Repeat("a", 40))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*export.ChunkSize+12345)
	rand.Read(data)
	p := write(t, st, sealer, id, "pkg1", data)
	if p.Chunks != 3 || p.Size != int64(len(data)) {
		t.Fatalf("package of %d chunks, %d bytes", p.Chunks, p.Size)
	}
	stored, err := st.PackageChunk(context.Background(), p.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, data[:64]) {
		t.Error("a chunk is stored in clear")
	}
	var out bytes.Buffer
	if err := export.Stream(context.Background(), st, sealer, p, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Error("the package does not read back as written")
	}

	// After a key rotation the old key still opens it; a stranger's does not.
	rotated, _ := export.NewSealer(strings.Repeat("b", 40), strings.Repeat("a", 40))
	if err := export.Stream(context.Background(), st, rotated, p, &bytes.Buffer{}); err != nil {
		t.Errorf("after rotation: %v", err)
	}
	other, _ := export.NewSealer(strings.Repeat("c", 40))
	if err := export.Stream(context.Background(), st, other, p, &bytes.Buffer{}); err == nil {
		t.Error("a different key opened the package")
	}
}

func TestChunksCannotBeSwapped(t *testing.T) {
	st, id := setup(t)
	sealer, _ := export.NewSealer(strings.Repeat("a", 40))
	data := bytes.Repeat([]byte("x"), 2*export.ChunkSize)
	p := write(t, st, sealer, id, "pkg1", data)
	q := write(t, st, sealer, id, "pkg2", data)
	if p.KeyID != q.KeyID {
		t.Fatal("one sealer, two key IDs")
	}
	ctx := context.Background()
	// Copy q's sealed chunks into another package: the associated data
	// binds each chunk to its package and position.
	c0, _ := st.PackageChunk(ctx, q.ID, 0)
	c1, _ := st.PackageChunk(ctx, q.ID, 1)
	forged := &store.Package{ID: "pkg3", RequestID: id, FileName: "x.zip", ContentType: "application/zip",
		KeyID: p.KeyID, ExpiresAt: now.Add(time.Hour), DownloadsLeft: 5, Chunks: 2}
	if err := st.CreatePackage(ctx, forged); err != nil {
		t.Fatal(err)
	}
	st.PutPackageChunk(ctx, "pkg3", 0, c0)
	st.PutPackageChunk(ctx, "pkg3", 1, c1)
	if err := export.Stream(ctx, st, sealer, forged, &bytes.Buffer{}); err == nil {
		t.Error("another package's chunks opened")
	}
	blobKey, sealed := sealer.SealBlob("DSR-1/crm", []byte(`{"summary":"ok"}`))
	if _, err := sealer.OpenBlob(blobKey, "DSR-2/crm", sealed); err == nil {
		t.Error("a sealed answer opened under another name")
	}
	if plain, err := sealer.OpenBlob(blobKey, "DSR-1/crm", sealed); err != nil || string(plain) != `{"summary":"ok"}` {
		t.Errorf("OpenBlob = %q, %v", plain, err)
	}
}

// On PostgreSQL chunks are stored with COPY; they read back as written,
// and a chunk stored twice is refused as an INSERT would refuse it.
func TestPackagesRoundTripOnPostgreSQL(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDatabase(t), "")
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	r := &store.Request{ID: "DSR-SEALTEST02", Type: domain.TypeExport, Status: domain.StatusReceived,
		Email: "ada@example.com", Name: "Ada", ReceivedAt: now, DueAt: now.AddDate(0, 0, 30)}
	if err := st.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	sealer, err := export.NewSealer(strings.Repeat("a", 40))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*export.ChunkSize+12345)
	rand.Read(data)
	p := write(t, st, sealer, r.ID, "pkg-pg", data)
	if p.Chunks != 3 || p.Size != int64(len(data)) {
		t.Fatalf("package of %d chunks, %d bytes", p.Chunks, p.Size)
	}
	var out bytes.Buffer
	if err := export.Stream(ctx, st, sealer, p, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Error("the package does not read back as written")
	}
	if err := st.PutPackageChunk(ctx, p.ID, 1, []byte("again")); err == nil {
		t.Error("a chunk was stored twice")
	}
}
