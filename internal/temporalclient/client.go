// Package temporalclient connects dsar to Temporal: one place that sets the
// namespace, the logger and the payload encryption every client and worker
// must share.
package temporalclient

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
)

// Options say where Temporal is and how to encrypt payloads.
type Options struct {
	HostPort  string
	Namespace string
	SecretKey string
	// PreviousKeys still decrypt payloads sealed before a rotation.
	PreviousKeys []string
	Logger       *slog.Logger
}

// New returns a client that connects on first use, so a web process can
// start, take requests and keep them while Temporal is down.
func New(o Options) (client.Client, error) {
	codec, err := NewCodec(o.SecretKey, o.PreviousKeys...)
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(client.Options{
		HostPort:      o.HostPort,
		Namespace:     o.Namespace,
		Logger:        log.NewStructuredLogger(o.Logger.With("component", "temporal-client")),
		DataConverter: codec.DataConverter(),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", o.HostPort, err)
	}
	return c, nil
}
