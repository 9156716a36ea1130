package export

import (
	"archive/zip"
	"context"
	"errors"
	"io"

	"github.com/dsar-project/dsar/internal/store"
)

// ErrNoReport: the package holds no readable report (an export).
var ErrNoReport = errors.New("export: the package holds no report")

// chunkReader reads a sealed package at any offset, opening the chunk
// that holds it; every chunk but the last holds ChunkSize bytes. It
// keeps the last chunk opened, as reads mostly move forward.
type chunkReader struct {
	ctx    context.Context
	st     *store.Store
	sealer *Sealer
	p      *store.Package
	seq    int
	plain  []byte
}

func (r *chunkReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		if pos >= r.p.Size {
			return n, io.EOF
		}
		seq := int(pos / ChunkSize)
		if r.plain == nil || seq != r.seq {
			sealed, err := r.st.PackageChunk(r.ctx, r.p.ID, seq)
			if err != nil {
				return n, err
			}
			plain, err := r.sealer.open(r.p.KeyID, r.p.ID, seq, sealed)
			if err != nil {
				return n, err
			}
			r.seq, r.plain = seq, plain
		}
		n += copy(b[n:], r.plain[pos-int64(seq)*ChunkSize:])
	}
	return n, nil
}

// OpenReport opens the access report inside a package, decrypting only
// the chunks it needs: a person can read it in the browser without the
// whole ZIP being sent or held in memory.
func OpenReport(ctx context.Context, st *store.Store, sealer *Sealer, p *store.Package) (io.ReadCloser, int64, error) {
	z, err := zip.NewReader(&chunkReader{ctx: ctx, st: st, sealer: sealer, p: p}, p.Size)
	if err != nil {
		return nil, 0, err
	}
	for _, f := range z.File {
		if f.Name == ReportFile {
			rc, err := f.Open()
			return rc, int64(f.UncompressedSize64), err
		}
	}
	return nil, 0, ErrNoReport
}
