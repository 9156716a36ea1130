package datamap

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// RowStreamer is a Connector that can also stream rows without copying
// their large values: StreamRows gives the same columns and values as
// ReadRows, but a text or binary value may be a view of the driver's
// buffer, valid only until each returns. Whoever keeps a value beyond
// that must use ReadRows.
type RowStreamer interface {
	StreamRows(ctx context.Context, t *Table, keys [][]any, each func(columns []string, row []any) error) error
}

// errNotPgx says a PostgreSQL connection is not pgx's (it always is
// through OpenSQL).
var errNotPgx = errors.New("not a pgx connection")

// StreamRows is ReadRows reading PostgreSQL's rows in place: through
// database/sql, pgx copies every text value into a new string, which for
// a person's large rows is most of what the garbage collector then has
// to do (docs/benchmarks.md). Other kinds read as ReadRows does.
func (c *SQLConnector) StreamRows(ctx context.Context, t *Table, keys [][]any, each func(columns []string, row []any) error) error {
	if c.Kind != KindPostgres {
		return c.ReadRows(ctx, t, keys, each)
	}
	conn, err := c.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("system %s: read %s: %w", c.sys.Name, t.Name, err)
	}
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errNotPgx
		}
		return c.streamPgx(ctx, pc, t, keys, each)
	})
	conn.Close()
	if errors.Is(err, errNotPgx) {
		return c.ReadRows(ctx, t, keys, each)
	}
	return err
}

func (c *SQLConnector) streamPgx(ctx context.Context, pc *stdlib.Conn, t *Table, keys [][]any, each func(columns []string, row []any) error) error {
	pg := pc.Conn()
	for start := 0; start < len(keys); start += batchSize {
		end := min(start+batchSize, len(keys))
		b := c.builder()
		query := "SELECT * FROM " + c.Kind.Quote(t.Name) + " WHERE " + b.keyIn(t.PrimaryKey, keys[start:end]) + " ORDER BY " + c.Kind.QuoteList(t.PrimaryKey)
		rows, err := pg.Query(ctx, query, append([]any{sqlResultFormats}, b.args...)...)
		if err != nil {
			return fmt.Errorf("system %s: read %s: %w", c.sys.Name, t.Name, err)
		}
		fds := rows.FieldDescriptions()
		cols := make([]string, len(fds))
		decode := make([]func([]byte) (any, error), len(fds))
		for i, fd := range fds {
			cols[i] = fd.Name
			decode[i] = pgValue(pg.TypeMap(), fd)
		}
		vals := make([]any, len(fds))
		for err == nil && rows.Next() {
			for i, raw := range rows.RawValues() {
				if raw == nil {
					vals[i] = nil
					continue
				}
				var v any
				if v, err = decode[i](raw); err != nil {
					err = fmt.Errorf("column %s: %w", cols[i], err)
					break
				}
				vals[i] = normalise(v)
			}
			if err == nil {
				err = each(cols, vals)
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return fmt.Errorf("system %s: read %s: %w", c.sys.Name, t.Name, err)
		}
	}
	return nil
}

// sqlResultFormats asks for the formats pgx's database/sql driver asks
// for: binary for these types, text for every other, whose values are
// then read from their text as the driver reads them.
var sqlResultFormats = pgx.QueryResultFormatsByOID{
	pgtype.BoolOID: pgtype.BinaryFormatCode, pgtype.ByteaOID: pgtype.BinaryFormatCode, pgtype.CIDOID: pgtype.BinaryFormatCode,
	pgtype.DateOID: pgtype.BinaryFormatCode, pgtype.Float4OID: pgtype.BinaryFormatCode, pgtype.Float8OID: pgtype.BinaryFormatCode,
	pgtype.Int2OID: pgtype.BinaryFormatCode, pgtype.Int4OID: pgtype.BinaryFormatCode, pgtype.Int8OID: pgtype.BinaryFormatCode,
	pgtype.OIDOID: pgtype.BinaryFormatCode, pgtype.TimestampOID: pgtype.BinaryFormatCode, pgtype.TimestamptzOID: pgtype.BinaryFormatCode,
	pgtype.XIDOID: pgtype.BinaryFormatCode,
}

// view is a string over b without copying it, valid while b is.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// pgValue decodes a column's wire value into what pgx's database/sql
// driver gives for it (stdlib's Rows.Next), so StreamRows and ReadRows
// agree; text, and bytea sent in binary, are views of the wire bytes,
// which is what the driver copies them from.
func pgValue(m *pgtype.Map, fd pgconn.FieldDescription) func([]byte) (any, error) {
	oid, format := fd.DataTypeOID, fd.Format
	scan := func(dst any, value func() (any, error)) func([]byte) (any, error) {
		plan := m.PlanScan(oid, format, dst)
		return func(src []byte) (any, error) {
			if err := plan.Scan(src, dst); err != nil {
				return nil, err
			}
			return value()
		}
	}
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		// The same bytes in the text and the binary format.
		return func(src []byte) (any, error) { return view(src), nil }
	case pgtype.ByteaOID:
		if format == pgtype.BinaryFormatCode {
			return func(src []byte) (any, error) { return view(src), nil }
		}
		var d []byte
		return scan(&d, func() (any, error) { return d, nil })
	case pgtype.BoolOID:
		var d bool
		return scan(&d, func() (any, error) { return d, nil })
	case pgtype.CIDOID, pgtype.OIDOID, pgtype.XIDOID:
		var d pgtype.Uint32
		return scan(&d, func() (any, error) { return d.Value() })
	case pgtype.DateOID:
		var d pgtype.Date
		return scan(&d, func() (any, error) { return d.Value() })
	case pgtype.Float4OID:
		var d float32
		return scan(&d, func() (any, error) { return float64(d), nil })
	case pgtype.Float8OID:
		var d float64
		return scan(&d, func() (any, error) { return d, nil })
	case pgtype.Int2OID:
		var d int16
		return scan(&d, func() (any, error) { return int64(d), nil })
	case pgtype.Int4OID:
		var d int32
		return scan(&d, func() (any, error) { return int64(d), nil })
	case pgtype.Int8OID:
		var d int64
		return scan(&d, func() (any, error) { return d, nil })
	case pgtype.JSONOID, pgtype.JSONBOID, pgtype.XMLOID:
		// normalise copies the bytes into a string.
		var d []byte
		return scan(&d, func() (any, error) { return d, nil })
	case pgtype.TimestampOID:
		var d pgtype.Timestamp
		return scan(&d, func() (any, error) { return d.Value() })
	case pgtype.TimestamptzOID:
		var d pgtype.Timestamptz
		return scan(&d, func() (any, error) { return d.Value() })
	}
	var d string
	return scan(&d, func() (any, error) { return d, nil })
}
