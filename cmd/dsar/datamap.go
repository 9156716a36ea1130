package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/demo"
)

// datamapCmd drafts and checks data maps.
//
//	dsar datamap scan --dsn URL [--system NAME] [--dsn-env VAR]
//	dsar datamap check [FILE]
func datamapCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := group("datamap", datamapHelp, args, stdout, stderr); done {
		return err
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "scan":
		fs := flag.NewFlagSet("datamap scan", flag.ContinueOnError)
		dsn := fs.String("dsn", "", "the database to scan: postgres://..., mysql://... or sqlite:PATH")
		system := fs.String("system", "main", "the system's name in the data map")
		dsnEnv := fs.String("dsn-env", "", "the variable the map will read the connection string from (default DSAR_<SYSTEM>_DSN)")
		if err := parseFlags(fs, datamapScanHelp, args, stdout); err != nil {
			return err
		}
		if err := maxArgs(fs, 0); err != nil {
			return err
		}
		if *dsn == "" {
			return fmt.Errorf("datamap scan: give the database with --dsn postgres://..., mysql://... or sqlite:PATH")
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
		fs := flag.NewFlagSet("datamap check", flag.ContinueOnError)
		if err := parseFlags(fs, datamapCheckHelp, args, stdout); err != nil {
			return err
		}
		if err := maxArgs(fs, 1); err != nil {
			return err
		}
		file := fs.Arg(0)
		if file == "" {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			file = cfg.DataMap
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
		// main's context ends on SIGINT or SIGTERM, which stops the
		// schema queries and connection attempts.
		if err := systems.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return errors.New("datamap check: interrupted before it finished")
			}
			return err
		}
		tables := 0
		for _, s := range m.Systems {
			tables += len(s.Tables)
		}
		fmt.Fprintf(stdout, "%s: %d systems, %d tables; matches the live databases\n", file, len(m.Systems), tables)
		return nil
	}
	return unknownSub("datamap", sub, datamapHelp, stderr)
}

// demoCmd seeds the demo organisation, for trying dsar and for benchmarks.
//
//	dsar demo seed --subjects N [--dsn URL]
//	dsar demo datamap
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := group("demo", demoHelp, args, stdout, stderr); done {
		return err
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "datamap":
		fs := flag.NewFlagSet("demo datamap", flag.ContinueOnError)
		if err := parseFlags(fs, demoDatamapHelp, args, stdout); err != nil {
			return err
		}
		if err := maxArgs(fs, 0); err != nil {
			return err
		}
		_, err := io.WriteString(stdout, demo.DataMapYAML())
		return err
	case "seed":
		fs := flag.NewFlagSet("demo seed", flag.ContinueOnError)
		subjects := fs.Int("subjects", 50, "how many people the demo organisation holds")
		dsn := fs.String("dsn", "", "the demo database: postgres://..., mysql://... or sqlite:PATH (default "+demo.DSNEnv+", else DSAR_DATA_DIR/demo-organisation.db)")
		if err := parseFlags(fs, demoSeedHelp, args, stdout); err != nil {
			return err
		}
		if err := maxArgs(fs, 0); err != nil {
			return err
		}
		if *subjects < 1 {
			return fmt.Errorf("demo seed: --subjects must be 1 or more")
		}
		if *dsn == "" {
			*dsn = os.Getenv(demo.DSNEnv)
		}
		if *dsn == "" {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
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
	return unknownSub("demo", sub, demoHelp, stderr)
}
