package devtemporal

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// logger adapts slog to the server's logging interface. The embedded
// server is chatty at info level, so its info lines are logged at debug;
// once it is stopping, its complaints about connections closing are
// expected and logged at debug too.
type logger struct {
	l        *slog.Logger
	stopping *atomic.Bool
}

func newLogger(l *slog.Logger, stopping *atomic.Bool) log.Logger {
	return logger{l: l.With("component", "temporal-server"), stopping: stopping}
}

func (g logger) log(level slog.Level, msg string, tags []tag.Tag) {
	if g.stopping.Load() && level < slog.LevelError {
		level = slog.LevelDebug
	}
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
