// Package stripemock starts stripe-mock, Stripe's own mock of its API,
// for tests: built from its Go module at a pinned version (the module
// cache and build cache make later runs quick), listening on a free
// port. stripe-mock is stateless: it checks every request against
// Stripe's OpenAPI description (parameters, content type, credentials)
// and answers from fixtures, reflecting the parameters written. The
// fixtures are given a customer of the test's choosing, so a search
// answers that customer whatever was asked.
package stripemock

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Module and Version pin the mock.
const (
	Module  = "github.com/stripe/stripe-mock"
	Version = "v0.203.0"
)

// Customer is the customer every customer request is answered with.
type Customer struct {
	ID, Email, Name string
}

// Start runs stripe-mock for the test and returns its base URL
// (http://127.0.0.1:PORT). It stops when the test ends. Any key of the
// form sk_test_... is accepted.
func Start(t testing.TB, c Customer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	install := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	install.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("building stripe-mock %s: %v\n%s", Version, err, out)
	}
	fixtures, err := customerFixtures(ctx, c)
	if err != nil {
		t.Fatalf("stripe-mock fixtures: %v", err)
	}
	path := filepath.Join(dir, "fixtures.json")
	if err := os.WriteFile(path, fixtures, 0o600); err != nil {
		t.Fatal(err)
	}
	// Both listeners on free ports: with only -http-addr it would also
	// take its fixed HTTPS port.
	cmd := exec.Command(filepath.Join(dir, "stripe-mock"), "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0", "-fixtures", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	type listening struct {
		addr string
		said []string
	}
	ch := make(chan listening, 1)
	go func() {
		s := bufio.NewScanner(out)
		var said []string
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), "Listening for HTTP at address: "); ok {
				ch <- listening{addr: a}
				for s.Scan() { // keep the pipe drained
				}
				return
			}
			said = append(said, s.Text())
		}
		ch <- listening{said: said}
	}()
	select {
	case l := <-ch:
		if l.addr == "" {
			t.Fatalf("stripe-mock stopped without listening:\n%s", strings.Join(l.said, "\n"))
		}
		return "http://" + l.addr
	case <-time.After(60 * time.Second):
		t.Fatal("stripe-mock did not listen within 60s")
	}
	return ""
}

// customerFixtures is stripe-mock's own fixtures with the customer in
// place of its sample one.
func customerFixtures(ctx context.Context, c Customer) ([]byte, error) {
	dl, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", Module+"@"+Version).Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download: %w", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(dl, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("go mod download: no directory in %s", dl)
	}
	raw, err := os.ReadFile(filepath.Join(mod.Dir, "embedded", "openapi", "fixtures3.json"))
	if err != nil {
		return nil, err
	}
	var f map[string]map[string]map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	cust := f["resources"]["customer"]
	if cust == nil {
		return nil, fmt.Errorf("no customer fixture")
	}
	cust["id"], cust["email"], cust["name"] = c.ID, c.Email, c.Name
	return json.Marshal(f)
}
