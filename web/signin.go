package web

import (
	"crypto/rand"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Sign-in throttling slows a password guesser without letting anyone
// lock a real officer out. Three counts of failed attempts, each with an
// exponential backoff rather than a hard lock:
//   - per client address, over every account (the token bucket in
//     loginLimit, before this);
//   - per account and address: a guesser at one address slows only
//     themself;
//   - per account over all addresses, for guessers spread over many: it
//     starts late and is skipped by a browser that has signed in to the
//     account before (a signed "known device" cookie), so the real officer
//     is never the one kept out.
//
// The counts live in each web process's memory: with several replicas a
// guesser gets each replica's allowance, which the backoff still keeps
// to a handful of guesses an hour.
type signinGuard struct {
	mu        sync.Mutex
	byPair    map[string]*failures
	byAccount map[string]*failures
	swept     time.Time
}

type failures struct {
	n    int
	last time.Time
}

const (
	pairFreeFailures    = 3  // per account and address before the backoff starts
	accountFreeFailures = 20 // per account over every address
	maxSigninBackoff    = 15 * time.Minute
	// knownDeviceLifetime is how long a browser that signed in stays
	// exempt from the per-account backoff.
	knownDeviceLifetime = 180 * 24 * time.Hour
	knownDeviceCookie   = "dsar_known_device"
)

func newSigninGuard() *signinGuard {
	return &signinGuard{byPair: map[string]*failures{}, byAccount: map[string]*failures{}}
}

// backoff is how long after the last of n failures the next attempt
// waits, once free failures are spent: 1 s, 2 s, 4 s ... up to the cap.
func backoff(n, free int) time.Duration {
	if n < free {
		return 0
	}
	d := time.Duration(math.Pow(2, float64(min(n-free, 20)))) * time.Second
	return min(d, maxSigninBackoff)
}

// wait answers how long the attempt must wait; zero lets it through.
func (g *signinGuard) wait(account, addr string, knownDevice bool, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	var wait time.Duration
	if f := g.byPair[account+"\x00"+addr]; f != nil {
		wait = max(wait, f.last.Add(backoff(f.n, pairFreeFailures)).Sub(now))
	}
	if f := g.byAccount[account]; f != nil && !knownDevice {
		wait = max(wait, f.last.Add(backoff(f.n, accountFreeFailures)).Sub(now))
	}
	return max(wait, 0)
}

func (g *signinGuard) failed(account, addr string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for key, m := range map[string]map[string]*failures{account + "\x00" + addr: g.byPair, account: g.byAccount} {
		f := m[key]
		if f == nil {
			f = &failures{}
			m[key] = f
		}
		f.n++
		f.last = now
	}
}

// succeeded forgets the account's failures from this address; the
// account's own count stays, so a guesser who also knows one officer's
// password gains nothing for another account.
func (g *signinGuard) succeeded(account, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.byPair, account+"\x00"+addr)
}

// sweep drops counts idle for longer than the longest backoff, so memory
// stays bounded by recent attempts.
func (g *signinGuard) sweep(now time.Time) {
	if now.Sub(g.swept) < time.Minute {
		return
	}
	g.swept = now
	for _, m := range []map[string]*failures{g.byPair, g.byAccount} {
		for k, f := range m {
			if now.Sub(f.last) > 2*maxSigninBackoff {
				delete(m, k)
			}
		}
	}
}

// knownDevice reports whether the browser carries a known-device cookie
// for the account, signed with the secret key.
func (s *Server) knownDevice(c echo.Context, account string) bool {
	if s.sealer == nil {
		return false
	}
	cookie, err := c.Cookie(knownDeviceCookie)
	if err != nil {
		return false
	}
	nonce, mac, ok := strings.Cut(cookie.Value, ".")
	if !ok {
		return false
	}
	for _, want := range s.sealer.Hashes("known-device", account, nonce) {
		if sameToken(mac, want) {
			return true
		}
	}
	return false
}

// rememberDevice gives a browser that signed in its known-device cookie.
func (s *Server) rememberDevice(c echo.Context, account string) {
	if s.sealer == nil {
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	nonce := hex.EncodeToString(b)
	s.setCookiePath(c, knownDeviceCookie, nonce+"."+s.sealer.Hash("known-device", account, nonce), "/officer/login", int(knownDeviceLifetime.Seconds()))
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// humanWait says a wait as people read it: "4 seconds", "2 minutes".
func humanWait(d time.Duration) string {
	if d < time.Minute {
		n := int(math.Ceil(d.Seconds()))
		if n == 1 {
			return "a second"
		}
		return strconv.Itoa(n) + " seconds"
	}
	n := int(math.Ceil(d.Minutes()))
	if n == 1 {
		return "a minute"
	}
	return strconv.Itoa(n) + " minutes"
}
