package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadRefusesWhatIsTooLarge(t *testing.T) {
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	if err := os.WriteFile(small, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(small, 1024); err != nil || string(b) != "key" {
		t.Errorf("small file: %q, %v", b, err)
	}
	if _, err := Read(big, 1024); err == nil || !strings.Contains(err.Error(), "larger than 1 KiB") {
		t.Errorf("big file: %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := Read("/dev/zero", 1024); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("a device read without end: %v", err)
		}
	}
}
