package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/dsar-project/dsar/internal/config"
)

// help is what `dsar COMMAND --help` prints: the synopsis, what the
// command does, its flags with their defaults (from the flag set) and the
// environment it reads. Asking for help needs no configuration: commands
// parse their flags before they load any.
type help struct {
	usage string // the synopsis, after "Usage: "
	about string // what the command does
	env   string // the environment it reads, indented lines
}

// errHelp ends a command that printed the help it was asked for; run
// answers it with success.
var errHelp = errors.New("help printed")

func (h help) print(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", h.usage, strings.TrimSpace(h.about))
	hasFlags := false
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	}
	if hasFlags {
		fmt.Fprint(w, "\nFlags (-name or --name):\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	fmt.Fprintf(w, "\nEnvironment (see docs/configuration.md):\n%s\n", strings.TrimRight(h.env, "\n"))
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// parseFlags parses a command's arguments. Asked for help (-h, --help, or
// `help` first), it prints the help to stdout and returns errHelp; a bad
// flag is one line naming the command.
func parseFlags(fs *flag.FlagSet, h help, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard) // errors are returned, help is printed below
	fs.Usage = func() {}
	if len(args) > 0 && args[0] == "help" {
		h.print(stdout, fs)
		return errHelp
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		h.print(stdout, fs)
		return errHelp
	}
	if err != nil {
		return fmt.Errorf("%s: %v (see `dsar %s --help`)", fs.Name(), err, fs.Name())
	}
	return nil
}

// maxArgs refuses more than n arguments after the flags.
func maxArgs(fs *flag.FlagSet, n int) error {
	if fs.NArg() > n {
		return fmt.Errorf("%s: unexpected argument %q (see `dsar %s --help`)", fs.Name(), fs.Arg(n), fs.Name())
	}
	return nil
}

// group is a command with subcommands: `dsar NAME` alone, or with -h,
// --help or help, prints its help; it reports whether the caller is done.
func group(name string, h help, args []string, stdout, stderr io.Writer) (done bool, err error) {
	switch {
	case len(args) == 0:
		h.print(stderr, nil)
		return true, fmt.Errorf("%s: say which subcommand", name)
	case isHelp(args[0]):
		h.print(stdout, nil)
		return true, nil
	}
	return false, nil
}

// unknownSub is the error for a subcommand a group does not have.
func unknownSub(name, sub string, h help, stderr io.Writer) error {
	h.print(stderr, nil)
	return fmt.Errorf("%s: unknown subcommand %q", name, sub)
}

// The environment most commands share.
const (
	envServe = `  DSAR_SECRET_KEY     required: at least 32 characters, the same in every process
  SENDGRID_API_KEY    required
  DSAR_PRIVACY_NOTICE_URL, DSAR_PRIVACY_ADDRESS
                      required: the privacy notice and postal address every page and email gives
  DSAR_DATABASE_URL   the database, postgres://...; empty means SQLite in DSAR_DATA_DIR
  DSAR_DATA_DIR       embedded databases and files (default .dsar)
  TEMPORAL_ADDRESS    the Temporal frontend (default 127.0.0.1:7233)
  DSAR_ADDR           where to listen (default 127.0.0.1:8080)`
	envOptional = `
  and the optional settings in docs/configuration.md, all checked before start`
	envDatabase = `  the settings of ` + "`dsar serve`" + `, all checked first; it uses the database:
  DSAR_DATABASE_URL   postgres://...; empty means SQLite in DSAR_DATA_DIR
  DSAR_DATA_DIR       embedded databases and files (default .dsar)
  DSAR_SECRET_KEY     required: at least 32 characters
  SENDGRID_API_KEY    required
  DSAR_PRIVACY_NOTICE_URL, DSAR_PRIVACY_ADDRESS  required`
	envNone  = `  none needed`
	envAudit = `  DSAR_SECRET_KEY     required: the key dsar runs with (the chain is keyed with it)
  DSAR_SECRET_KEY_PREVIOUS  older keys, if the key was rotated since
  DSAR_DATABASE_URL   dsar's database, postgres://...; empty means SQLite in DSAR_DATA_DIR
  DSAR_DATA_DIR       embedded databases and files (default .dsar)`
)

var (
	devHelp = help{
		usage: "dsar dev",
		about: `
Runs everything in one process on embedded defaults: the web server, the
Temporal worker, an embedded Temporal server and SQLite databases under
DSAR_DATA_DIR, and a dev outbox that keeps email instead of sending it.
It seeds the demo organisation and uses its data map unless DSAR_DATAMAP
is set, and prints where to sign in. Stops on SIGINT or SIGTERM.`,
		env: `  all optional:
  DSAR_DATA_DIR       embedded databases and files (default .dsar)
  DSAR_ADDR           where the web server listens (default 127.0.0.1:8080)
  DSAR_SECRET_KEY     generated and kept in DSAR_DATA_DIR/secret.key when unset
  DSAR_DATAMAP        your data map instead of the demo organisation's
  DSAR_DEMO_DSN       the demo database (default DSAR_DATA_DIR/demo-organisation.db)
  SENDGRID_API_KEY    send email through SendGrid instead of the dev outbox`,
	}
	serveHelp = help{
		usage: "dsar serve",
		about: `
Runs the web server (the request form, the officers' dashboard and the
API) and the loop that starts requests kept while Temporal was
unreachable. It does not migrate the database: run ` + "`dsar migrate`" + ` first.
Stops on SIGINT or SIGTERM.`,
		env: envServe + envOptional,
	}
	workerHelp = help{
		usage: "dsar worker",
		about: `
Runs the Temporal worker, which carries requests through searching,
exporting, erasing and emailing, and keeps the deadline monitor scheduled.
It serves health and metrics on DSAR_ADDR. Stops on SIGINT or SIGTERM.`,
		env: envServe + `
  DSAR_DATAMAP        the data map of the systems to search and act on
  and the connection strings and secrets the data map names` + envOptional,
	}
	migrateHelp = help{
		usage: "dsar migrate",
		about: `
Applies the database migrations and exits. Any number may run at once.`,
		env: envDatabase,
	}
	configHelp = help{
		usage: "dsar config",
		about: `
Prints every setting in effect as NAME=value with secrets redacted, then
any problems with them on stderr, including those of the email templates
in DSAR_MAIL_TEMPLATES (file and line). It exits 0 even when the settings are
invalid, so that it can show them.`,
		env: `  every variable in docs/configuration.md; none is required`,
	}
	healthHelp = help{
		usage: "dsar health [URL]",
		about: `
Asks a running dsar whether it is ready: prints the status and body of
URL (default http://DSAR_ADDR/readyz) and exits 0 only if it answers 200
within 5 seconds. It is the health check of images with no shell or curl.`,
		env: `  DSAR_ADDR           the dsar to ask when no URL is given (default 127.0.0.1:8080)`,
	}

	officerHelp = help{
		usage: "dsar officer add|token|reset-totp [flags] EMAIL",
		about: `
Manages the officers who sign in to the dashboard and the API.

Subcommands:
  add     create an officer (password on stdin); prints an API token
  token   print a new API token for an officer, revoking the earlier ones
  reset-totp  turn an officer's two-factor sign-in off (a lost phone)

Run ` + "`dsar officer SUBCOMMAND --help`" + ` for its flags.`,
		env: envDatabase,
	}
	officerAddHelp = help{
		usage: "dsar officer add -email E [-role R] < PASSWORD",
		about: fmt.Sprintf(`
Creates an officer and prints an API token for them. The password is the
first line of stdin, %d to %d bytes. The email address may instead be
given as the only argument.`, minPasswordLen, maxPasswordLen),
		env: envDatabase,
	}
	officerTokenHelp = help{
		usage: "dsar officer token -email E",
		about: `
Prints a new API token for an officer and revokes their earlier tokens.
Tokens expire 90 days after they are made. The email address may instead
be given as the only argument.`,
		env: envDatabase,
	}

	officerResetTOTPHelp = help{
		usage: "dsar officer reset-totp -email E",
		about: `
Turns an officer's two-factor sign-in off and drops their recovery codes,
for an officer (or the last admin) who lost their phone and their
recovery codes; an admin can do the same on the Officers page. It is
recorded in the officer's account events. If an admin requires two-factor,
the officer sets it up again right after their password.`,
		env: envDatabase,
	}

	datamapHelp = help{
		usage: "dsar datamap scan|check ...",
		about: `
Drafts and checks the data map: where personal data lives in your systems
(docs/datamap.md).

Subcommands:
  scan    draft a data map from a live PostgreSQL or SQLite database
  check   check a data map against the live databases

Run ` + "`dsar datamap SUBCOMMAND --help`" + ` for its flags.`,
		env: `  DSAR_DATAMAP        the data map ` + "`check`" + ` reads when given no file`,
	}
	datamapScanHelp = help{
		usage: "dsar datamap scan -dsn URL [-system NAME] [-dsn-env VAR]",
		about: `
Reads the schema of a live PostgreSQL or SQLite database (it writes
nothing) and prints a draft data map as YAML on stdout. Review the lines
marked "# review" before use.`,
		env: envNone + ` (the database is given with -dsn)`,
	}
	datamapCheckHelp = help{
		usage: "dsar datamap check [FILE]",
		about: `
Checks a data map (FILE, default DSAR_DATAMAP) against the live databases
it names: every table and column exists and the keys match; webhook and
archive settings are usable. Prints a summary and exits 0 if all is
well, else every problem with its line in the file. Stops on SIGINT or
SIGTERM.`,
		env: `  DSAR_DATAMAP        the data map, when FILE is not given
  and the connection strings and secrets the data map names`,
	}

	demoHelp = help{
		usage: "dsar demo seed|datamap ...",
		about: `
The demo organisation, for trying dsar and for benchmarks.

Subcommands:
  seed      seed the demo organisation's database with N people
  datamap   print the demo organisation's data map

Run ` + "`dsar demo SUBCOMMAND --help`" + ` for its flags.`,
		env: `  DSAR_DEMO_DSN       the demo database (default DSAR_DATA_DIR/demo-organisation.db)`,
	}
	demoSeedHelp = help{
		usage: "dsar demo seed [-subjects N] [-dsn URL]",
		about: `
Creates the demo organisation's tables and seeds them deterministically
with N people.`,
		env: `  DSAR_DEMO_DSN       the demo database when -dsn is not given
  DSAR_DATA_DIR       else the database is DSAR_DATA_DIR/demo-organisation.db (default .dsar)`,
	}
	demoDatamapHelp = help{
		usage: "dsar demo datamap",
		about: `
Prints the demo organisation's data map as YAML on stdout.`,
		env: envNone,
	}

	archiveHelp = help{
		usage: "dsar archive snapshot|restore ...",
		about: `
Takes and restores backup snapshots of the archives the data map names,
so that a restored backup does not bring back people dsar erased.

Subcommands:
  snapshot   write a backup snapshot of an archive's system
  restore    restore a snapshot into an empty database, forgetting
             everyone dsar erased since (by their tombstones)

Run ` + "`dsar archive SUBCOMMAND --help`" + ` for its flags.`,
		env: `  DSAR_DATAMAP        required: the data map that names the archives`,
	}
	archiveSnapshotHelp = help{
		usage: "dsar archive snapshot [-archive NAME]",
		about: `
Writes a backup snapshot of an archive's system into the archive's folder:
one JSON-lines file per table of the data map and snapshot.json with the
time it was taken.`,
		env: `  DSAR_DATAMAP        required: the data map that names the archives
  and the connection string and folder variables it names for the archive`,
	}
	archiveRestoreHelp = help{
		usage: "dsar archive restore -snapshot DIR -into URL [-archive NAME]",
		about: `
Restores a snapshot into an empty database (schema in place, no rows).
First it forgets everyone dsar erased after the snapshot was taken (by
their tombstones, except people and tables under a legal hold) and
applies the corrections recorded since. The snapshot itself is not
changed.`,
		env: `  DSAR_DATAMAP        required: the data map that names the archives
  DSAR_SECRET_KEY     required: the key dsar runs with (tombstones are keyed with it)
  DSAR_SECRET_KEY_PREVIOUS  older keys, if the key was rotated since
  DSAR_DATABASE_URL   dsar's database, which holds the tombstones;
                      empty means SQLite in DSAR_DATA_DIR (default .dsar)`,
	}

	auditHelp = help{
		usage: "dsar audit verify ...",
		about: `
Checks the audit trail: every entry is chained to the one before it by a
keyed hash (HMAC-SHA256 under a key derived from DSAR_SECRET_KEY), so
entries changed, deleted, inserted or reordered in the database are found.

Subcommands:
  verify   walk the whole chain and report the first broken link

Run ` + "`dsar audit SUBCOMMAND --help`" + ` for its flags.`,
		env: envAudit,
	}
	auditVerifyHelp = help{
		usage: "dsar audit verify [-anchor SEQ:MAC]",
		about: `
Walks the whole audit chain and checks each entry's MAC and its link to
the entry before it. Prints "N entries verified" and the chain's head
(SEQ:MAC) and exits 0, or names the first broken link (the entry, its
request, and whether entries were changed, deleted, inserted or
reordered) and exits 1. Entries from before the chain existed are
counted, not checked. Keep the printed head somewhere else: given back as
-anchor, it also catches the chain's end being cut off and its head
rewritten. It only reads the database.`,
		env: envAudit,
	}

	deadlineHelp = help{
		usage: "dsar deadline -received TIME [-regime R] [-extended] [-tz ZONE]",
		about: fmt.Sprintf(`
Prints a request's legal dates under a regime as JSON: due_at,
extended_due_at, ack_due_at and extension_notice_by. TIME is RFC 3339,
such as 2026-05-04T09:00:00Z, in the years %d to %d.`, minDeadlineYear, maxDeadlineYear),
		env: envNone,
	}
)

// parseArgs parses a command's flags (printing its help when asked) and
// refuses more than max arguments.
func parseArgs(fs *flag.FlagSet, h help, args []string, stdout io.Writer, max int) error {
	if err := parseFlags(fs, h, args, stdout); err != nil {
		return err
	}
	return maxArgs(fs, max)
}

// configure is parseArgs, then the settings from the environment.
func configure(fs *flag.FlagSet, h help, args []string, stdout io.Writer, max int) (*config.Config, error) {
	if err := parseArgs(fs, h, args, stdout, max); err != nil {
		return nil, err
	}
	return loadConfig()
}
