package datamap

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
)

// Systems holds one connector per system of a map that dsar queries
// itself, opened on first use and shared by every request a worker runs.
type Systems struct {
	Map *Map

	mu    sync.Mutex
	conns map[string]Connector
}

// NewSystems returns the systems of m, not yet connected.
func NewSystems(m *Map) *Systems { return &Systems{Map: m} }

// Connectors returns a connector to every system dsar queries itself
// (SQL databases, document stores), in map order.
func (s *Systems) Connectors() ([]Connector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[string]Connector{}
	}
	var out []Connector
	for _, sys := range s.Map.Systems {
		if !sys.Kind.Queried() {
			continue
		}
		c, ok := s.conns[sys.Name]
		if !ok {
			var err error
			if c, err = Open(sys); err != nil {
				return nil, err
			}
			s.conns[sys.Name] = c
		}
		out = append(out, c)
	}
	return out, nil
}

// Close closes every open connector.
func (s *Systems) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// Check connects to every system dsar queries and compares the map with
// what it holds (the live schema, the collections), and makes sure every
// webhook has its URL and secret, so a worker refuses to start on a map
// it could not act on.
func (s *Systems) Check(ctx context.Context) error {
	conns, err := s.Connectors()
	if err != nil {
		return err
	}
	var errs []error
	for _, sys := range s.Map.Systems {
		if sys.Kind != KindWebhook {
			continue
		}
		u, err := sys.DSN()
		if err == nil {
			if p, perr := url.Parse(u); perr != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				err = fmt.Errorf("system %s: %s is not an http(s) URL", sys.Name, sys.DSNEnv)
			}
		}
		if err == nil {
			_, err = sys.Secret()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range s.Map.Archives {
		if _, err := a.Dir(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range conns {
		list, err := c.CheckLive(ctx)
		if err != nil {
			return err
		}
		p := &problems{list: list}
		if err := p.err(s.Map.Source); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
