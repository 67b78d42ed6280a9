package vectors

import (
	"bytes"
	"os"
	"testing"
)

func TestCopyMatchesShared(t *testing.T) {
	shared, err := os.ReadFile("../../../../shared/vectors/zoom-signatures.json")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI runs with ../shared beside the checkout, but it cannot be read: %v", err)
		}
		t.Skipf("no ../shared next to this checkout (%v); the testdata copy is used", err)
	}
	if !bytes.Equal(shared, Data) {
		t.Fatal("internal/vectors/testdata/zoom-signatures.json differs from ../shared/vectors; copy it again")
	}
}

func TestLoad(t *testing.T) {
	f := Load(t)
	if f.Meeting[0].Input.Secret == "" || f.Legacy[0].Expected.Signature == "" {
		t.Fatalf("fields did not decode: %+v", f.Meeting[0])
	}
}
