package web

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// limiter hands out a token bucket per key (a client address, an email
// address being signed in to). Buckets idle for longer than it takes to
// refill are dropped, so memory stays bounded by recent clients.
type limiter struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perMinute, burst int) *limiter {
	return &limiter{every: time.Minute / time.Duration(perMinute), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes a token for key at now.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	idle := l.every * time.Duration(l.burst)
	if now.Sub(l.swept) > idle {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idle {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// errTooMany is the answer when a client is over its limit.
var errTooMany = echo.NewHTTPError(http.StatusTooManyRequests, "Too many attempts. Please wait a minute and try again.")

// limitByClient refuses a client address over its limit. The address comes
// from the connection (Echo's IPExtractor), not from headers a client can
// forge.
func (s *Server) limitByClient(l *limiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if l != nil && !l.allow(c.RealIP(), s.now()) {
				c.Response().Header().Set("Retry-After", "60")
				return errTooMany
			}
			return next(c)
		}
	}
}

// retryAfter is when a client over its limit gets a token again, in
// whole seconds, for the Retry-After header.
func (l *limiter) retryAfter() string {
	return strconv.Itoa(int((l.every + time.Second - 1) / time.Second))
}

// limitInbound refuses an inbound email over the limit of its sender
// (key; empty when no sender could be read) or of everyone, with 429 and
// Retry-After. SendGrid tries a refused post again later, so nothing is
// lost; a flood from one address (or a loop with an auto-responder)
// only delays itself.
func (s *Server) limitInbound(c echo.Context, l *limiter, key, who string) error {
	if l == nil || key == "" || l.allow(key, s.now()) {
		return nil
	}
	c.Response().Header().Set("Retry-After", l.retryAfter())
	s.log.Warn("inbound email refused: rate limit", "limit", who)
	return echo.NewHTTPError(http.StatusTooManyRequests, "too many emails "+who+"; try again later")
}
