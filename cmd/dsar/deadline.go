package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dsar-project/dsar/internal/deadline"
)

// The years a request may be received in: enough for any real request
// and far from the end of the years times can be written in (9999), which
// a deadline months after the receipt must stay within.
const (
	minDeadlineYear = 1970
	maxDeadlineYear = 2999
)

// deadlineCmd prints a request's legal dates under a regime.
//
//	dsar deadline --regime R --received RFC3339 [--extended] [--tz ZONE]
func deadlineCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("deadline", flag.ContinueOnError)
	regime := fs.String("regime", string(deadline.Default), "default, gdpr or ccpa")
	received := fs.String("received", "", "when the request was received, RFC 3339 (2026-05-04T09:00:00Z)")
	extended := fs.Bool("extended", false, "the request was extended: due_at is the extended date")
	tz := fs.String("tz", "UTC", "the time zone days and months are counted in (IANA name)")
	if err := parseArgs(fs, deadlineHelp, args, stdout, 0); err != nil {
		return err
	}
	r, err := deadline.Parse(*regime)
	if err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	if *received == "" {
		return fmt.Errorf("deadline: give --received, e.g. --received 2026-05-04T09:00:00Z")
	}
	at, err := parseReceived(*received)
	if err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fmt.Errorf("deadline: --tz %q is not a time zone name such as Europe/Amsterdam", *tz)
	}
	d, err := deadline.For(r, at, loc)
	if err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	if *extended {
		d.DueAt = d.ExtendedDueAt
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil { // not for a receipt in range; said plainly all the same
		return fmt.Errorf("deadline: the dates of a request received %s cannot be written", *received)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// parseReceived reads an RFC 3339 time in the years a request may be
// received in; its error is one line saying what is wrong and what is
// expected.
func parseReceived(s string) (time.Time, error) {
	const want = "give an RFC 3339 time such as 2026-05-04T09:00:00Z"
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		// A time of the right shape with an impossible part (a 30
		// February, a month 13) says which part; anything else is the
		// wrong shape.
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			return time.Time{}, fmt.Errorf("--received %q: %s; %s", s, strings.TrimPrefix(pe.Message, ": "), want)
		}
		return time.Time{}, fmt.Errorf("--received %q is not in the expected format; %s", s, want)
	}
	if y := at.Year(); y < minDeadlineYear || y > maxDeadlineYear {
		return time.Time{}, fmt.Errorf("--received %q: year %d is out of range; give a time in the years %d to %d, such as 2026-05-04T09:00:00Z", s, y, minDeadlineYear, maxDeadlineYear)
	}
	return at, nil
}
