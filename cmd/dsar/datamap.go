package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// datamapCmd drafts and checks data maps.
//
//	dsar datamap scan --dsn URL [--system NAME] [--dsn-env VAR]
//	dsar datamap check [FILE]
func datamapCmd(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("datamap: say `scan` or `check`")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "scan":
		fs := flag.NewFlagSet("datamap scan", flag.ContinueOnError)
		fs.SetOutput(stderr)
		dsn := fs.String("dsn", "", "the database to scan: postgres://... or sqlite:PATH")
		system := fs.String("system", "main", "the system's name in the data map")
		dsnEnv := fs.String("dsn-env", "", "the variable the map will read the connection string from (default DSAR_<SYSTEM>_DSN)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *dsn == "" {
			return fmt.Errorf("datamap scan: give the database with --dsn postgres://... or --dsn sqlite:PATH")
		}
		if *dsnEnv == "" {
			*dsnEnv = "DSAR_" + strings.ToUpper(strings.ReplaceAll(*system, "-", "_")) + "_DSN"
		}
		db, kind, err := datamap.OpenSQL(*dsn)
		if err != nil {
			return fmt.Errorf("datamap scan: %w", err)
		}
		defer db.Close()
		live, err := datamap.ReadSchema(ctx, db, kind)
		if err != nil {
			return fmt.Errorf("datamap scan: reading the schema: %w", err)
		}
		if len(live.Tables) == 0 {
			return fmt.Errorf("datamap scan: the database has no tables")
		}
		return datamap.Draft(stdout, live, datamap.DraftOptions{
			System: *system, Kind: kind, DSNEnv: *dsnEnv, Source: fmt.Sprintf("a %s database (%d tables)", kind, len(live.Tables)),
		})
	case "check":
		file := cfg.DataMap
		if len(args) > 0 {
			file = args[0]
		}
		if file == "" {
			return fmt.Errorf("datamap check: name the file, or set DSAR_DATAMAP")
		}
		m, err := datamap.LoadFile(file)
		if err != nil {
			return err
		}
		systems := datamap.NewSystems(m)
		defer systems.Close()
		if err := systems.Check(ctx); err != nil {
			return err
		}
		tables := 0
		for _, s := range m.Systems {
			tables += len(s.Tables)
		}
		fmt.Fprintf(stdout, "%s: %d systems, %d tables; matches the live databases\n", file, len(m.Systems), tables)
		return nil
	}
	return fmt.Errorf("datamap: unknown subcommand %q (say `scan` or `check`)", sub)
}

// demoCmd seeds the demo organisation, for trying dsar and for benchmarks.
//
//	dsar demo seed --subjects N [--dsn URL]
//	dsar demo datamap
func demoCmd(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("demo: say `seed` or `datamap`")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "datamap":
		_, err := io.WriteString(stdout, demo.DataMapYAML())
		return err
	case "seed":
		fs := flag.NewFlagSet("demo seed", flag.ContinueOnError)
		fs.SetOutput(stderr)
		subjects := fs.Int("subjects", 50, "how many people the demo organisation holds")
		dsn := fs.String("dsn", os.Getenv(demo.DSNEnv), "the demo database (default "+demo.DSNEnv+", else the file dsar dev uses)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *subjects < 1 {
			return fmt.Errorf("demo seed: --subjects must be 1 or more")
		}
		if *dsn == "" {
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			*dsn = "sqlite:" + filepath.Join(cfg.DataDir, "demo-organisation.db")
		}
		start := time.Now()
		last := start
		progress := func(done int) {
			if time.Since(last) >= 2*time.Second || done == *subjects {
				last = time.Now()
				fmt.Fprintf(stderr, "seeded %d of %d people (%.0f%%)\n", done, *subjects, 100*float64(done)/float64(*subjects))
			}
		}
		if _, err := demo.Prepare(ctx, *dsn, *subjects, progress); err != nil {
			return fmt.Errorf("demo seed: %w", err)
		}
		fmt.Fprintf(stdout, "the demo organisation holds %d people (%s)\n", *subjects, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return fmt.Errorf("demo: unknown subcommand %q (say `seed` or `datamap`)", sub)
}
