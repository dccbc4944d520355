// Package keyring invalidates the disk-encryption keys that cryptsetup and
// systemd keep in the kernel's keyrings: LUKS2 volume keys (type logon,
// description "cryptsetup:<uuid>-d<digest>") and the cached passphrase
// (type user, description "cryptsetup").
//
// [Sweeper.Sweep] reads /proc/keys, which lists the keys the caller may
// view (root sees all of them with CONFIG_KEYS and procfs), and calls
// keyctl(KEYCTL_INVALIDATE) on each match; the kernel's garbage collector
// then frees the payload (user and logon payloads with kfree_sensitive).
// /proc/keys is procfs: reading it touches no disk.
//
// Not guaranteed: keys in keyrings root cannot view (another user's session
// keyring without the view permission) are not listed and stay.
package keyring

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Key is a key /proc/keys lists.
type Key struct {
	ID          int32
	Type        string
	Description string
}

// Disk reports whether k holds disk-encryption key material.
func (k Key) Disk() bool {
	return k.Type == "logon" && strings.HasPrefix(k.Description, "cryptsetup:") ||
		k.Type == "user" && k.Description == "cryptsetup"
}

// ParseProcKeys parses /proc/keys:
//
//	0c5aa4e9 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:…-d0: 64
//
// id (hex), flags, usage, timeout, permissions, uid, gid, type, then
// "description: summary". Malformed lines are skipped and counted.
func ParseProcKeys(b []byte) (keys []Key, bad int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 {
			bad++
			continue
		}
		id, err := strconv.ParseUint(f[0], 16, 32)
		if err != nil || id == 0 || id > 1<<31-1 {
			bad++
			continue
		}
		// The description is everything after the type up to the last ": ".
		rest := strings.Join(f[8:], " ")
		desc := rest
		if i := strings.LastIndex(rest, ": "); i >= 0 {
			desc = rest[:i]
		} else {
			desc = strings.TrimSuffix(rest, ":")
		}
		keys = append(keys, Key{ID: int32(id), Type: f[7], Description: desc})
	}
	return keys, bad
}

// Sweeper invalidates disk-encryption keys.
type Sweeper struct {
	// ProcKeys is the keys listing (default /proc/keys).
	ProcKeys string
	// invalidate is keyctl(KEYCTL_INVALIDATE); a seam for tests.
	invalidate func(id int32) error
}

// ErrInTest is returned by the real invalidate in a test binary.
var ErrInTest = errors.New("refused in a test binary")

// Sweep invalidates every disk-encryption key it can see. It never stops
// at a failure; it returns how many keys it invalidated and every error.
func (s *Sweeper) Sweep() (int, error) {
	path := s.ProcKeys
	if path == "" {
		path = "/proc/keys"
	}
	inv := s.invalidate
	if inv == nil {
		inv = invalidate
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("keyring: %w", err)
	}
	keys, _ := ParseProcKeys(b)
	n := 0
	var errs []error
	for _, k := range keys {
		if !k.Disk() {
			continue
		}
		if err := inv(k.ID); err != nil {
			errs = append(errs, fmt.Errorf("keyctl(KEYCTL_INVALIDATE, %d %s %q): %w", k.ID, k.Type, k.Description, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func invalidate(id int32) error {
	if testing.Testing() {
		return ErrInTest
	}
	_, err := unix.KeyctlInt(unix.KEYCTL_INVALIDATE, int(id), 0, 0, 0)
	return err
}
