package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dsar-project/dsar/internal/deadline"
)

// deadlineCmd prints a request's legal dates under a regime.
//
//	dsar deadline --regime R --received RFC3339 [--extended] [--tz ZONE]
func deadlineCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deadline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	regime := fs.String("regime", string(deadline.Default), "default, gdpr or ccpa")
	received := fs.String("received", "", "when the request was received, RFC 3339 (2026-05-04T09:00:00Z)")
	extended := fs.Bool("extended", false, "the request was extended: due_at is the extended date")
	tz := fs.String("tz", "UTC", "the time zone days and months are counted in (IANA name)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := deadline.Parse(*regime)
	if err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	if *received == "" {
		return fmt.Errorf("deadline: give --received, e.g. --received 2026-05-04T09:00:00Z")
	}
	at, err := time.Parse(time.RFC3339, *received)
	if err != nil {
		return fmt.Errorf("deadline: --received %q is not an RFC 3339 time such as 2026-05-04T09:00:00Z", *received)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("deadline: --tz %q is not a time zone name such as Europe/Amsterdam", *tz)
	}
	d, err := deadline.For(r, at, loc)
	if err != nil {
		return err
	}
	if *extended {
		d.DueAt = d.ExtendedDueAt
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
