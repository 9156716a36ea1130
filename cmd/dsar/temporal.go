package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/dsar-project/dsar/internal/devtemporal"
)

var temporalServerHelp = help{
	usage: "dsar temporal-server --database URL --visibility-database URL [--address HOST:PORT] [--namespace N]",
	about: `
Runs a single-node Temporal server (the server dsar dev embeds) as a
process of its own, persisting to two PostgreSQL databases with
Temporal's postgres12 plugin: one for workflow state, one for
visibility. Both must exist; their tables are created on the first start
and kept after. It is the Temporal of ` + "`make chaos`" + ` (docs/reliability.md), which
kills and restarts it; production runs a Temporal cluster instead.
Logs JSON on stderr; stops on SIGINT or SIGTERM.`,
	env: envNone,
}

// temporalServer runs devtemporal on PostgreSQL until ctx ends.
func temporalServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("temporal-server", flag.ContinueOnError)
	addr := fs.String("address", "127.0.0.1:7233", "the frontend's host:port")
	namespace := fs.String("namespace", "default", "the namespace to register")
	database := fs.String("database", "", "the workflow state's PostgreSQL database, postgres://user:password@host:port/name")
	visibility := fs.String("visibility-database", "", "the visibility records' PostgreSQL database")
	if err := parseFlags(fs, temporalServerHelp, args, stdout); err != nil {
		return err
	}
	if err := maxArgs(fs, 0); err != nil {
		return err
	}
	if *database == "" || *visibility == "" {
		return fmt.Errorf("temporal-server: give --database and --visibility-database (see `dsar temporal-server --help`)")
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := devtemporal.Start(devtemporal.Options{
		Address: *addr, Namespace: *namespace, Logger: log,
		PostgresURL: *database, PostgresVisibilityURL: *visibility,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "temporal server listening on %s\n", srv.Address())
	<-ctx.Done()
	return srv.Stop()
}
