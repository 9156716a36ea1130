package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dsar-project/dsar/internal/auditchain"
	"github.com/dsar-project/dsar/internal/store"
)

// auditCmd checks the audit trail's chain.
//
//	dsar audit verify [-anchor SEQ:MAC]
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := group("audit", auditHelp, args, stdout, stderr); done {
		return err
	}
	sub, args := args[0], args[1:]
	if sub != "verify" {
		return unknownSub("audit", sub, auditHelp, stderr)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	var anchors []auditchain.Link
	fs.Func("anchor", "`SEQ:MAC`, the head an earlier verification printed: the chain must still hold it (repeatable)", func(s string) error {
		l, err := auditchain.ParseLink(s)
		if err == nil {
			anchors = append(anchors, l)
		}
		return err
	})
	cfg, err := configure(fs, auditVerifyHelp, args, stdout, 0)
	if err != nil {
		return err
	}
	if cfg.SecretKey == "" {
		return errors.New("audit verify: set DSAR_SECRET_KEY (or DSAR_SECRET_KEY_FILE) to the key dsar runs with: the chain is keyed with it")
	}
	if cfg.DatabaseURL == "" {
		// Opening a missing SQLite file would create an empty database.
		if _, err := os.Stat(cfg.SQLitePath()); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit verify: no database in DSAR_DATA_DIR (%s); set DSAR_DATABASE_URL or DSAR_DATA_DIR", cfg.DataDir)
		}
	}
	keys, err := auditchain.Keys(cfg.SecretKey, cfg.PreviousKeys...)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath())
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetAuditKeys(keys...)
	rep, err := st.VerifyAudit(ctx, anchors...)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if rep.Unchained > 0 {
		fmt.Fprintf(stdout, "%d entries from before the chain started (%s) are not chained and were not checked\n",
			rep.Unchained, rep.StartedAt.Format("2 January 2006, 15:04 MST"))
	}
	if rep.Break != nil {
		fmt.Fprintf(stdout, "%d entries verified before the break\n", rep.Verified)
		return fmt.Errorf("audit verify: the audit chain is broken: %w", rep.Break)
	}
	fmt.Fprintf(stdout, "%d entries verified\nhead: %s\n", rep.Verified, rep.Head)
	return nil
}
