// Package export builds what a requester downloads (an access report or a
// machine-readable export) and keeps it encrypted at rest: packages are
// written and read as AES-GCM sealed chunks, so neither end holds a large
// export in memory.
package export

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dsar-project/dsar/internal/store"
)

// ChunkSize is how much plaintext one sealed chunk holds.
const ChunkSize = 1 << 20

// Sealer encrypts package chunks with a key derived from DSAR_SECRET_KEY;
// previous keys still open what they sealed.
type Sealer struct {
	keyID string
	aead  cipher.AEAD
	byID  map[string]cipher.AEAD
	// hashKeys make tombstones' keyed hashes, current key first.
	hashKeys [][]byte
}

// NewSealer derives the package key from the application secret.
func NewSealer(secret string, previous ...string) (*Sealer, error) {
	s := &Sealer{byID: map[string]cipher.AEAD{}}
	for i, sec := range append([]string{secret}, previous...) {
		key, err := hkdf.Key(sha256.New, []byte(sec), nil, "dsar packages v1", 32)
		if err != nil {
			return nil, fmt.Errorf("export: derive key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		hashKey, err := hkdf.Key(sha256.New, []byte(sec), nil, "dsar tombstones v1", 32)
		if err != nil {
			return nil, fmt.Errorf("export: derive key: %w", err)
		}
		s.hashKeys = append(s.hashKeys, hashKey)
		sum := sha256.Sum256(key)
		id := hex.EncodeToString(sum[:4])
		if i == 0 {
			s.keyID, s.aead = id, aead
		}
		s.byID[id] = aead
	}
	return s, nil
}

// Hash is a keyed hash (HMAC-SHA256) of the parts, with the current key:
// it matches the same identifier again without revealing it.
func (s *Sealer) Hash(parts ...string) string { return keyedHash(s.hashKeys[0], parts) }

// Hashes are Hash with every key, current and previous, so a tombstone
// made before a key rotation is still recognised.
func (s *Sealer) Hashes(parts ...string) []string {
	out := make([]string, len(s.hashKeys))
	for i, k := range s.hashKeys {
		out[i] = keyedHash(k, parts)
	}
	return out
}

func keyedHash(key []byte, parts []string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		binary.Write(m, binary.BigEndian, uint32(len(p)))
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// KeyID names the key new packages are sealed with.
func (s *Sealer) KeyID() string { return s.keyID }

// additional data binds each chunk to its package and position, so chunks
// cannot be swapped between packages or reordered.
func chunkAD(packageID string, seq int) []byte {
	ad := binary.BigEndian.AppendUint32([]byte(packageID+"/"), uint32(seq))
	return ad
}

func (s *Sealer) seal(packageID string, seq int, plain []byte) []byte {
	return s.sealTo(nil, packageID, seq, plain)
}

// sealTo is seal into dst's memory when it is large enough.
func (s *Sealer) sealTo(dst []byte, packageID string, seq int, plain []byte) []byte {
	n := s.aead.NonceSize()
	nonce := append(dst[:0], make([]byte, n)...)
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return s.aead.Seal(nonce, nonce, plain, chunkAD(packageID, seq))
}

func (s *Sealer) open(keyID, packageID string, seq int, sealed []byte) ([]byte, error) {
	aead, ok := s.byID[keyID]
	if !ok {
		return nil, fmt.Errorf("export: package sealed with unknown key %s (was DSAR_SECRET_KEY changed without DSAR_SECRET_KEY_PREVIOUS?)", keyID)
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("export: chunk too short")
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], chunkAD(packageID, seq))
	if err != nil {
		return nil, fmt.Errorf("export: chunk %d of package does not decrypt: %w", seq, err)
	}
	return plain, nil
}

// SealBlob seals a small value (a webhook's answer) bound to name; it
// returns the key ID to open it with.
func (s *Sealer) SealBlob(name string, plain []byte) (keyID string, sealed []byte) {
	return s.keyID, s.seal("blob:"+name, 0, plain)
}

// OpenBlob opens what SealBlob sealed under the same name.
func (s *Sealer) OpenBlob(keyID, name string, sealed []byte) ([]byte, error) {
	return s.open(keyID, "blob:"+name, 0, sealed)
}

// Writer seals what is written to it into a package's chunks.
type Writer struct {
	ctx    context.Context
	st     *store.Store
	sealer *Sealer
	pkg    *store.Package
	buf    []byte
	// sealed holds each chunk sealed, reused from chunk to chunk: a
	// large export would otherwise give the garbage collector a new
	// chunk's worth for every MiB written.
	sealed []byte
	seq    int
	size   int64
	now    func() time.Time
}

// Create starts a package (ID, request, name, type, expiry and downloads
// set by the caller) and returns a writer for its contents. Close
// completes it.
func Create(ctx context.Context, st *store.Store, sealer *Sealer, p *store.Package, now func() time.Time) (*Writer, error) {
	p.KeyID = sealer.keyID
	p.CreatedAt = now()
	if err := st.CreatePackage(ctx, p); err != nil {
		return nil, err
	}
	return &Writer{ctx: ctx, st: st, sealer: sealer, pkg: p, buf: make([]byte, 0, ChunkSize), now: now}, nil
}

func (w *Writer) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		take := min(len(b), ChunkSize-len(w.buf))
		w.buf = append(w.buf, b[:take]...)
		b = b[take:]
		if len(w.buf) == ChunkSize {
			if err := w.flush(); err != nil {
				return n - len(b), err
			}
		}
	}
	return n, nil
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.sealed = w.sealer.sealTo(w.sealed, w.pkg.ID, w.seq, w.buf)
	if err := w.st.PutPackageChunk(w.ctx, w.pkg.ID, w.seq, w.sealed); err != nil {
		return err
	}
	w.size += int64(len(w.buf))
	w.seq++
	w.buf = w.buf[:0]
	return nil
}

// Close seals the last chunk and marks the package complete.
func (w *Writer) Close() error {
	if err := w.flush(); err != nil {
		return err
	}
	w.pkg.Size, w.pkg.Chunks = w.size, w.seq
	return w.st.CompletePackage(w.ctx, w.pkg.ID, w.size, w.seq, w.now())
}

// Stream decrypts a package into w chunk by chunk.
func Stream(ctx context.Context, st *store.Store, sealer *Sealer, p *store.Package, w io.Writer) error {
	for seq := range p.Chunks {
		sealed, err := st.PackageChunk(ctx, p.ID, seq)
		if err != nil {
			return err
		}
		plain, err := sealer.open(p.KeyID, p.ID, seq, sealed)
		if err != nil {
			return err
		}
		if _, err := w.Write(plain); err != nil {
			return err
		}
	}
	return nil
}
