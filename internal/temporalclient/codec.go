package temporalclient

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Payloads are encrypted before they reach Temporal, so workflow inputs,
// update arguments (a denial reason, say) and results are never stored in
// clear in its history. The key is derived from DSAR_SECRET_KEY; its ID (a
// hash prefix) travels in the payload metadata so a rotated key can be told
// apart from a wrong one.
const (
	metadataEncoding = "binary/encrypted"
	metadataKeyID    = "encryption-key-id"
)

// Codec encrypts payloads with AES-256-GCM under the current key and
// decrypts with the current or any previous key, so the secret can be
// rotated while requests are open.
type Codec struct {
	keyID string
	aead  cipher.AEAD
	byID  map[string]cipher.AEAD
}

// NewCodec derives the payload key from the application secret. Previous
// secrets (DSAR_SECRET_KEY_PREVIOUS) still decrypt what they sealed.
func NewCodec(secret string, previous ...string) (*Codec, error) {
	c := &Codec{byID: map[string]cipher.AEAD{}}
	for i, s := range append([]string{secret}, previous...) {
		id, aead, err := deriveKey(s)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			c.keyID, c.aead = id, aead
		}
		c.byID[id] = aead
	}
	return c, nil
}

func deriveKey(secret string) (string, cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "dsar temporal payloads v1", 32)
	if err != nil {
		return "", nil, fmt.Errorf("codec: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", nil, err
	}
	id := sha256.Sum256(key)
	return hex.EncodeToString(id[:4]), aead, nil
}

// Encode encrypts each payload whole, metadata included.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, c.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(metadataEncoding),
				metadataKeyID:              []byte(c.keyID),
			},
			Data: c.aead.Seal(nonce, nonce, plain, nil),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec encrypted and passes others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.Metadata[converter.MetadataEncoding]) != metadataEncoding {
			out[i] = p
			continue
		}
		id := string(p.Metadata[metadataKeyID])
		aead, ok := c.byID[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload was encrypted with key %s, this process has key %s (was DSAR_SECRET_KEY changed without keeping the old one in DSAR_SECRET_KEY_PREVIOUS?)", id, c.keyID)
		}
		ns := aead.NonceSize()
		if len(p.Data) < ns {
			return nil, fmt.Errorf("codec: encrypted payload too short")
		}
		plain, err := aead.Open(nil, p.Data[:ns], p.Data[ns:], nil)
		if err != nil {
			return nil, fmt.Errorf("codec: decrypt payload: %w", err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter is the SDK's default converter behind this codec.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
