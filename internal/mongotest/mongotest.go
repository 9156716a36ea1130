// Package mongotest starts a server speaking MongoDB's wire protocol for
// tests: FerretDB, embedded, on its SQLite backend in a temporary
// directory, listening on a free port. It is for tests only; dsar itself
// talks to MongoDB with the official driver.
package mongotest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Start runs a fresh server for the test and returns the URI of a
// database on it (mongodb://127.0.0.1:PORT/NAME) and a client to fill
// it. Both stop when the test ends.
func Start(t testing.TB, name string) (uri string, db *mongo.Database) {
	t.Helper()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + t.TempDir() + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("FerretDB: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	base := f.MongoDBURI() // waits for the listener
	uri = strings.TrimSuffix(base, "/") + "/" + name
	client, err := mongo.Connect(options.Client().ApplyURI(base).SetTimeout(20 * time.Second))
	if err != nil {
		cancel()
		t.Fatalf("connect to FerretDB: %v", err)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	if err := client.Ping(pctx, nil); err != nil {
		cancel()
		t.Fatalf("FerretDB did not answer a ping within 20s: %v", err)
	}
	t.Cleanup(func() {
		client.Disconnect(context.Background())
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error(fmt.Errorf("FerretDB did not stop within 10s"))
		}
	})
	return uri, client.Database(name)
}
