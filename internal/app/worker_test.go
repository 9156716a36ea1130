package app

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/devtemporal"
)

// lockedBuffer is a log a test reads while the app writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A worker started while Temporal is down waits for it, saying so, and
// runs once it answers, instead of exiting into a restart loop.
func TestWorkerStartedBeforeTemporalWaitsForIt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there until the server starts below

	env := map[string]string{
		"DSAR_DATA_DIR":    t.TempDir(),
		"DSAR_SECRET_KEY":  "a-worker-test-secret-of-enough-length-0123",
		"TEMPORAL_ADDRESS": addr,
		"DSAR_TASK_QUEUE":  "worker-wait-test",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := Open(ctx, cfg, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	type started struct {
		stop func()
		err  error
	}
	done := make(chan started, 1)
	go func() {
		stop, err := a.StartWorker(ctx)
		done <- started{stop, err}
	}()

	waited := time.After(30 * time.Second)
	for !strings.Contains(logs.String(), "the worker waits for it") {
		select {
		case s := <-done:
			t.Fatalf("StartWorker returned while Temporal was down: %v", s.err)
		case <-waited:
			t.Fatalf("no warning that the worker waits for Temporal within 30 s; log:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}

	srv, err := devtemporal.Start(devtemporal.Options{Address: addr, Namespace: cfg.TemporalNamespace, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	select {
	case s := <-done:
		if s.err != nil {
			t.Fatalf("StartWorker once Temporal answered: %v", s.err)
		}
		s.stop()
	case <-time.After(90 * time.Second):
		t.Fatalf("the worker did not start within 90 s of Temporal answering; log:\n%s", logs.String())
	}
}
