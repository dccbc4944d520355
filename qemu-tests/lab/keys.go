package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// KeyScan is what a dump holds of a known dm-crypt volume key.
type KeyScan struct {
	// Raw counts copies of the whole key; Halves copies of either half
	// (an aes-xts key is two AES keys); Hex copies of the key in
	// lower-case hex, as dm-crypt tables and cryptsetup print it.
	Raw    int `json:"raw"`
	Halves int `json:"halves"`
	Hex    int `json:"hex"`
	// Schedules counts expanded AES key schedules of either half that
	// aeskeyfind (an independent tool) finds; Other its other finds.
	Schedules int     `json:"aeskeyfind_schedules"`
	Other     int     `json:"aeskeyfind_other"`
	Seconds   float64 `json:"aeskeyfind_s"`
}

// Total is every trace of the key found.
func (k KeyScan) Total() int { return k.Raw + k.Halves + k.Hex + k.Schedules }

// ScanKey looks for key in dump (the contents of the file at path) and
// runs aeskeyfind over the file.
func ScanKey(ctx context.Context, dump []byte, path string, key []byte) (KeyScan, error) {
	var ks KeyScan
	ks.Raw = bytes.Count(dump, key)
	half := len(key) / 2
	ks.Halves = bytes.Count(dump, key[:half]) + bytes.Count(dump, key[half:]) - 2*ks.Raw
	ks.Hex = bytes.Count(dump, []byte(hex.EncodeToString(key)))

	halves := map[string]bool{hex.EncodeToString(key[:half]): true, hex.EncodeToString(key[half:]): true}
	t := time.Now()
	out, err := exec.CommandContext(ctx, "aeskeyfind", "-q", path).Output()
	ks.Seconds = time.Since(t).Seconds()
	if err != nil {
		return ks, fmt.Errorf("aeskeyfind: %w (apt-get install aeskeyfind)", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k := strings.TrimSpace(sc.Text())
		if k == "" || strings.HasPrefix(k, "Keyfind") {
			continue
		}
		if halves[k] {
			ks.Schedules++
		} else {
			ks.Other++
		}
	}
	return ks, nil
}

// FormatLUKS writes a LUKS2 aes-xts-plain64 volume of size bytes to path
// whose volume key is key (64 bytes: two AES-256 keys) and whose
// passphrase is pass, with Debian's cryptsetup. Only the header is
// written: this needs no device-mapper on the host. The key derivation is
// cheap on purpose (the lab's guests are emulated).
func FormatLUKS(path string, size int64, key []byte, pass string) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".luks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	vk, pf := filepath.Join(dir, "vk"), filepath.Join(dir, "pass")
	if err := os.WriteFile(vk, key, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pf, []byte(pass), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return err
	}
	if err := os.Truncate(path, size); err != nil {
		return err
	}
	cmd := exec.Command("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode",
		"--cipher", "aes-xts-plain64", "--key-size", "512", "--volume-key-file", vk,
		"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
		"--luks2-metadata-size", "16k", "--luks2-keyslots-size", "256k",
		"--key-file", pf, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cryptsetup luksFormat: %v: %s (apt-get install cryptsetup-bin)", err, bytes.TrimSpace(out))
	}
	return nil
}

// String says what the scan found, for failures: "2 raw, 0 halves, 0 hex,
// 1 aeskeyfind schedules"; "not scanned" for nil.
func (k *KeyScan) String() string {
	if k == nil {
		return "not scanned"
	}
	return fmt.Sprintf("%d raw, %d halves, %d hex, %d aeskeyfind schedules", k.Raw, k.Halves, k.Hex, k.Schedules)
}
