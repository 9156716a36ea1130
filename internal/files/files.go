// Package files reads small files that come from outside (secrets,
// manifests, credentials) with a size limit, so a wrong path such as a
// device or a huge file is refused instead of read without end.
package files

import (
	"fmt"
	"io"
	"os"
)

// Limits for the files dsar reads whole.
const (
	SecretMax   = 64 << 10 // a key or password file
	ManifestMax = 1 << 20  // a snapshot manifest, dev credentials
)

// Read reads the file at path, refusing it when it holds more than max
// bytes. A file that is not regular (a device, a pipe) is read up to the
// limit and no further.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > max {
		return nil, fmt.Errorf("%s is larger than %s", path, size(max))
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %s", path, size(max))
	}
	return b, nil
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
