package tpmstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tesseracard/tessera/firmware/nvm"
	"github.com/tesseracard/tessera/simulator/tpmstore"
)

// A card's state file, encrypted with a key sealed by the TPM and bound to
// the card's NV counter. Against swtpm: tpmstore.Open(ctx, "unix:/run/swtpm.sock");
// against the machine's TPM: tpmstore.Open(ctx, "/dev/tpmrm0").
func Example() {
	tpm, err := tpmstore.Open(context.Background(), "sim")
	if err != nil {
		log.Fatal(err)
	}
	defer tpm.Close()
	dir, _ := os.MkdirTemp("", "card")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "card.state")
	f, err := nvm.OpenFile(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := tpm.Protect(path, f)
	if err != nil {
		log.Fatal(err)
	}
	store, err := nvm.Open(m, nvm.Options{})
	if err != nil {
		log.Fatal(err) // wraps nvm.ErrRolledBack for a state put back
	}
	if err := store.Put("tries", []byte{3}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(store.Generation())
}
