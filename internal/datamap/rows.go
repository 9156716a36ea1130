package datamap

import "database/sql"

// EachRow scans every row of rows into one slice of values, reused from
// row to row (copy what you keep), and calls fn with it until fn fails
// or the rows end. It does not close rows.
func EachRow(rows *sql.Rows, fn func(vals []any) error) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}
