package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// keyringFile holds the secrets linkKeys puts in the kernel keyring: a
// 64-byte volume key, then a passphrase, each byte XORed with keyringMask
// (see lab.MaskKeyring) so that the initramfs and its freed pages never hold
// them in the clear: only the keyring's payloads do.
const (
	keyringFile = "/lab/crypt/keyring"
	keyringMask = 0xa5
)

// linkKeys does what cryptsetup's --link-vk-to-keyring, systemd's crypttab
// link-volume-key= and its ask-password cache do: it leaves a LUKS2 volume
// key (a logon key "cryptsetup:<uuid>-d0") and a passphrase (a user key
// "cryptsetup") in root's user keyring. Their payloads are the lab's own
// secrets, not the volume's key, so that the dumps tell them apart from
// dm-crypt's copy. Without the file it does nothing.
func linkKeys() error {
	b, err := os.ReadFile(keyringFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(b) <= 64 {
		return fmt.Errorf("%s: %d bytes, want a 64-byte key and a passphrase", keyringFile, len(b))
	}
	for i := range b {
		b[i] ^= keyringMask
	}
	vk, pass := b[:64], b[64:]
	defer clear(b)
	id1, err := unix.AddKey("logon", "cryptsetup:3f6e2a4c-0b1d-4c8e-9a57-6d2f1e0c5b7a-d0", vk, unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		return fmt.Errorf("add_key logon: %w", err)
	}
	id2, err := unix.AddKey("user", "cryptsetup", pass, unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		return fmt.Errorf("add_key user: %w", err)
	}
	fmt.Printf("LAB KEYRING linked logon %d, user %d\n", id1, id2)
	return nil
}
