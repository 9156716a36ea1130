package devtemporal

import (
	"context"
	"log/slog"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// logger adapts slog to the server's logging interface. The embedded
// server is chatty at info level, so its info lines are logged at debug.
type logger struct{ l *slog.Logger }

func newLogger(l *slog.Logger) log.Logger { return logger{l.With("component", "temporal-server")} }

func (g logger) log(level slog.Level, msg string, tags []tag.Tag) {
	if !g.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		attrs = append(attrs, t.Key(), t.Value())
	}
	g.l.Log(context.Background(), level, msg, attrs...)
}

func (g logger) Debug(msg string, tags ...tag.Tag)  { g.log(slog.LevelDebug, msg, tags) }
func (g logger) Info(msg string, tags ...tag.Tag)   { g.log(slog.LevelDebug, msg, tags) }
func (g logger) Warn(msg string, tags ...tag.Tag)   { g.log(slog.LevelWarn, msg, tags) }
func (g logger) Error(msg string, tags ...tag.Tag)  { g.log(slog.LevelError, msg, tags) }
func (g logger) DPanic(msg string, tags ...tag.Tag) { g.log(slog.LevelError, msg, tags) }
func (g logger) Panic(msg string, tags ...tag.Tag) {
	g.log(slog.LevelError, msg, tags)
	panic(msg)
}
func (g logger) Fatal(msg string, tags ...tag.Tag) {
	g.log(slog.LevelError, msg, tags)
	panic(msg)
}
