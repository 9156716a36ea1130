package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/dsar-project/dsar/internal/archive"
	"github.com/dsar-project/dsar/internal/config"
	"github.com/dsar-project/dsar/internal/datamap"
	"github.com/dsar-project/dsar/internal/domain"
	"github.com/dsar-project/dsar/internal/export"
	"github.com/dsar-project/dsar/internal/store"
)

// archiveCmd takes and restores backup snapshots.
//
//	dsar archive snapshot --archive NAME
//	dsar archive restore --snapshot DIR --into DSN [--archive NAME]
func archiveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := group("archive", archiveHelp, args, stdout, stderr); done {
		return err
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("archive "+sub, flag.ContinueOnError)
	name := fs.String("archive", "", "the archive's name in the data map (default: the only one; on restore, the one whose folder holds the snapshot)")
	switch sub {
	case "snapshot":
		if err := parseFlags(fs, archiveSnapshotHelp, args, stdout); err != nil {
			return err
		}
		if err := maxArgs(fs, 0); err != nil {
			return err
		}
		_, m, err := archiveConfig()
		if err != nil {
			return err
		}
		ar, err := pickArchive(m, *name, "")
		if err != nil {
			return err
		}
		dir, err := ar.Dir()
		if err != nil {
			return err
		}
		c, err := datamap.ConnectSQL(m.System(ar.System))
		if err != nil {
			return err
		}
		defer c.Close()
		snap, err := archive.Take(ctx, c, dir, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "snapshot %s of %s written to %s\n", snap.Name, ar.System, snap.Dir)
		return nil
	case "restore":
		snapDir := fs.String("snapshot", "", "the snapshot folder to restore")
		into := fs.String("into", "", "the database to restore into (postgres://..., mysql://... or sqlite:PATH), with the schema in place and no rows")
		if err := parseFlags(fs, archiveRestoreHelp, args, stdout); err != nil {
			return err
		}
		if err := maxArgs(fs, 0); err != nil {
			return err
		}
		if *snapDir == "" || *into == "" {
			return fmt.Errorf("archive restore: give --snapshot DIR and --into DSN")
		}
		cfg, m, err := archiveConfig()
		if err != nil {
			return err
		}
		ar, err := pickArchive(m, *name, filepath.Dir(filepath.Clean(*snapDir)))
		if err != nil {
			return err
		}
		return restore(ctx, cfg, m.System(ar.System), *snapDir, *into, stdout)
	}
	return unknownSub("archive", sub, archiveHelp, stderr)
}

// archiveConfig reads the settings and the data map that names the
// archives.
func archiveConfig() (*config.Config, *datamap.Map, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if cfg.DataMap == "" {
		return nil, nil, fmt.Errorf("archive: set DSAR_DATAMAP to the data map that names the archives")
	}
	m, err := datamap.LoadFile(cfg.DataMap)
	if err != nil {
		return nil, nil, err
	}
	return cfg, m, nil
}

// pickArchive finds the archive by name, by the folder that holds the
// snapshot, or as the map's only archive.
func pickArchive(m *datamap.Map, name, parent string) (*datamap.Archive, error) {
	if len(m.Archives) == 0 {
		return nil, fmt.Errorf("archive: the data map %s names no archives", m.Source)
	}
	for _, ar := range m.Archives {
		if ar.Name == name {
			return ar, nil
		}
	}
	if name != "" {
		return nil, fmt.Errorf("archive: the data map has no archive %q", name)
	}
	for _, ar := range m.Archives {
		if dir, err := ar.Dir(); err == nil && parent != "" && filepath.Clean(dir) == parent {
			return ar, nil
		}
	}
	if len(m.Archives) == 1 {
		return m.Archives[0], nil
	}
	return nil, fmt.Errorf("archive: the data map names %d archives; say which with --archive", len(m.Archives))
}

// restore loads a snapshot, forgets everyone dsar erased since (by their
// tombstones), and copies what remains into the target database.
func restore(ctx context.Context, cfg *config.Config, sys *datamap.System, snapDir, into string, stdout io.Writer) error {
	if cfg.SecretKey == "" {
		return fmt.Errorf("archive restore: DSAR_SECRET_KEY must be the key dsar runs with: tombstones are keyed with it")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return err
	}
	defer st.Close()
	sealer, err := export.NewSealer(cfg.SecretKey, cfg.PreviousKeys...)
	if err != nil {
		return err
	}
	snap, err := archive.Read(snapDir)
	if err != nil {
		return err
	}
	// Only what dsar erased or corrected after the snapshot was taken: a
	// person erased before it and back since is someone new.
	tombs, err := st.Tombstones(ctx, sys.Name, snap.TakenAt)
	if err != nil {
		return err
	}
	holds, err := st.Holds(ctx, true, time.Now())
	if err != nil {
		return err
	}
	sup := archive.Suppression{Tombstones: tombs, Hashes: sealer.Hashes, HeldPerson: func(email string) bool {
		return slices.ContainsFunc(holds, func(h store.LegalHold) bool { return h.Scope == domain.HoldPerson && h.Covers(email, sys.Name, "") })
	}}
	for _, t := range sys.Tables {
		if slices.ContainsFunc(holds, func(h store.LegalHold) bool { return h.Scope != domain.HoldPerson && h.Covers("", sys.Name, t.Name) }) {
			sup.Held = append(sup.Held, t.Name)
		}
	}
	l, err := archive.Load(ctx, sys, snap)
	if err != nil {
		return err
	}
	defer l.Close()
	forgot, err := l.Forget(ctx, sup, time.Now())
	if err != nil {
		return err
	}
	recorded, err := st.RecordedCorrections(ctx, sys.Name, snap.TakenAt)
	if err != nil {
		return err
	}
	var cs []archive.Correction
	for _, rc := range recorded {
		plain, err := sealer.OpenBlob(rc.KeyID, archive.CorrectionName(rc.SystemName, rc.TableName, rc.ColumnName, rc.KeyHash), rc.Value)
		if err != nil {
			return fmt.Errorf("archive restore: a recorded correction cannot be opened (was DSAR_SECRET_KEY changed without keeping the old one in DSAR_SECRET_KEY_PREVIOUS?): %w", err)
		}
		cs = append(cs, archive.Correction{Table: rc.TableName, Column: rc.ColumnName, KeyHash: rc.KeyHash, Value: string(plain)})
	}
	corrected, err := l.Correct(ctx, cs, sealer.Hashes)
	if err != nil {
		return err
	}
	db, kind, err := datamap.OpenSQL(into)
	if err != nil {
		return err
	}
	defer db.Close()
	counts, err := l.CopyInto(ctx, db, kind)
	if err != nil {
		return err
	}
	tables := make([]string, 0, len(counts))
	for t := range counts {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	fmt.Fprintf(stdout, "restored snapshot %s of %s (taken %s)\n", snap.Name, sys.Name, snap.TakenAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "forgot %d erased people and %d rows by their tombstones, opted %d rows out again, and applied %d recorded corrections, before restoring\n", forgot.People, forgot.Rows, forgot.OptedOut, corrected)
	for _, t := range tables {
		fmt.Fprintf(stdout, "  %-28s %d rows\n", t, counts[t])
	}
	return nil
}
