package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	procKeys = "/proc/keys"
	// The read buffer holds all of /proc/keys (about 100 bytes a key); it
	// grows by doubling when full, up to maxBufSize.
	initialBufSize = 64 << 10
	maxBufSize     = 16 << 20
)

// ErrInTest is returned by the real KEYCTL_INVALIDATE in a test binary: no
// go test may drop this machine's keys.
var ErrInTest = errors.New("refused in a test binary")

// Sweeper invalidates the secret keys ([Key.Secret]: disk-encryption keys
// under any name, and every other logon, user, encrypted, trusted or
// big_key key it may view) in the kernel keyrings. Build it with [Open] when arming; set Logf before the first
// call. A zero Sweeper works too, but opens /proc/keys at each sweep.
// Its methods may be called concurrently; they run one at a time.
type Sweeper struct {
	// Logf, if set, is told each key invalidated or not (serial, type,
	// description; never a payload).
	Logf func(format string, args ...any)
	// GCWait bounds how long [Sweeper.Sweep] waits for the kernel to
	// destroy the keys it invalidated (default [DefaultGCWait]).
	GCWait time.Duration
	// Settle is how long [Sweeper.Sweep] waits after the keys left
	// /proc/keys (default [DefaultSettle]; see there).
	Settle time.Duration

	mu     sync.Mutex
	path   string   // "" means /proc/keys
	f      *os.File // open when arming; nil: opened at each read
	buf    []byte
	keyctl func(cmd int, id int32) error // keyctl(2) on one key; a seam for tests
}

// DefaultGCWait is how long a sweep waits, at most, for the kernel's key
// garbage collector to destroy the invalidated keys.
const DefaultGCWait = 250 * time.Millisecond

// DefaultSettle is how long a sweep pauses after the keys it invalidated
// left /proc/keys, or after it had to revoke one instead. The garbage
// collector takes a key out of the listing a moment before the same work
// item destroys it (user and logon keys: kfree_sensitive of the payload);
// a revoked key's payload is zeroed and freed by an RCU callback, after a
// grace period, on the kernel's own schedule. Userspace cannot wait for
// either; an idle pause lets both run before a panic that powers off at
// once (no wipe image loaded). It costs nothing on a machine with no such
// keys.
const DefaultSettle = 50 * time.Millisecond

// Open opens /proc/keys and reads it once, so that [Sweeper.Sweep] opens no
// file: it reads the open file again with pread at offset 0, on which
// procfs regenerates the listing from the kernel's key tree (seq_file
// supports pread; no disk is involved), into a buffer allocated here.
func Open() (*Sweeper, error) { return open(procKeys, keyctl) }

func open(path string, inv func(int, int32) error) (*Sweeper, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w (a kernel without CONFIG_KEYS has no keyrings to sweep)", err)
	}
	s := &Sweeper{path: path, f: f, buf: make([]byte, initialBufSize), keyctl: inv}
	if _, err := s.read(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Close closes /proc/keys.
func (s *Sweeper) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Keys returns the disk-encryption keys this process can see now.
func (s *Sweeper) Keys() ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.diskKeys()
}

// Sweep takes every disk-encryption key this process can see out of the
// kernel, and waits (up to GCWait) until the kernel has destroyed them:
//
//   - keyctl(KEYCTL_INVALIDATE): the key is dead at once, and the kernel's
//     key garbage collector (a work item) unlinks it from every keyring and
//     destroys it, which for user and logon keys zeroes the payload
//     (kfree_sensitive) then and there;
//   - a key this process may not search (invalidate needs search
//     permission) but may write is revoked instead, keyctl(KEYCTL_REVOKE):
//     its payload is dropped at once and freed, zeroed, after an RCU grace
//     period. Only one of the two can be done to a key: the kernel refuses
//     either on a key that is revoked or invalidated (EKEYREVOKED), which
//     Sweep takes as already done by someone else;
//   - then it reads /proc/keys again until no invalidated key is listed, so
//     that a panic which kexecs or powers off at once does not leave before
//     the collector ran (it needs a CPU, which a sleep gives it); then it
//     pauses for Settle, so that the destruction and any revoked payload's
//     RCU callback run too (see [DefaultSettle]).
//
// A key that is already gone is not an error. Sweep never stops at a
// failure; it returns how many keys it took out (invalidated or revoked)
// and every error, joined. A key it may neither search nor write (not
// possessed by this process and not granted to its user, such as one left
// in the thread keyring of a cryptsetup process whose credentials something
// still holds) keeps its payload in RAM until the memory wipe: the error
// says so.
func (s *Sweeper) Sweep() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.diskKeys()
	errs := []error{err}
	ctl := s.keyctl
	if ctl == nil {
		ctl = keyctl
	}
	n := 0
	invalidated := map[int32]bool{}
	for _, k := range keys {
		err := ctl(unix.KEYCTL_INVALIDATE, k.ID)
		switch {
		case err == nil && k.Kernel:
			// The kernel keeps its own reference: the collector
			// unlinks the key but does not destroy it, so waiting for
			// that would only delay the panic.
			n++
			s.logf("keyring: invalidated %v (the kernel's own key: not waited for)", k)
			continue
		case err == nil:
			n++
			invalidated[k.ID] = true
			s.logf("keyring: invalidated %v", k)
			continue
		case errors.Is(err, unix.ENOKEY), errors.Is(err, unix.EKEYREVOKED), errors.Is(err, unix.EKEYEXPIRED):
			s.logf("keyring: %v: already gone, revoked or expired", k)
			continue
		}
		// No search permission: revoking needs write (or setattr) instead.
		rerr := ctl(unix.KEYCTL_REVOKE, k.ID)
		switch {
		case rerr == nil:
			n++
			s.logf("keyring: revoked %v (may not invalidate it: %v)", k, err)
		case errors.Is(rerr, unix.ENOKEY), errors.Is(rerr, unix.EKEYREVOKED):
			s.logf("keyring: %v: already gone or revoked", k)
		default:
			errs = append(errs, fmt.Errorf("%v: neither invalidated (%w) nor revoked (%w): its payload stays in RAM until the memory wipe; this process neither possesses it nor may its user search or write it", k, err, rerr))
		}
	}
	if len(invalidated) > 0 {
		errs = append(errs, s.waitDestroyed(invalidated))
	}
	if n > 0 {
		s.settle()
	}
	err = errors.Join(errs...)
	if err != nil {
		s.logf("keyring: %v", err)
	}
	return n, err
}

// waitDestroyed reads /proc/keys until none of ids is listed, for up to
// GCWait.
func (s *Sweeper) waitDestroyed(ids map[int32]bool) error {
	wait := s.GCWait
	if wait <= 0 {
		wait = DefaultGCWait
	}
	start := time.Now()
	for {
		b, err := s.read()
		if err != nil {
			return err
		}
		keys, _ := Parse(b)
		var left []string
		for _, k := range keys {
			if ids[k.ID] {
				left = append(left, k.String())
			}
		}
		switch {
		case len(left) == 0:
			s.logf("keyring: the kernel destroyed the %d keys after %v", len(ids), time.Since(start).Round(time.Microsecond))
			return nil
		case time.Since(start) >= wait:
			return fmt.Errorf("keyring: %d of %d invalidated keys still listed after %v: the kernel's key garbage collector has not destroyed them yet: %s", len(left), len(ids), wait, strings.Join(left, ", "))
		}
		time.Sleep(time.Millisecond) // the garbage collector's kworker needs a CPU
	}
}

// settle pauses for Settle (see [DefaultSettle]).
func (s *Sweeper) settle() {
	d := s.Settle
	if d <= 0 {
		d = DefaultSettle
	}
	time.Sleep(d)
}

// diskKeys reads /proc/keys and returns its secret keys ([Key.Secret]),
// and any error: with malformed lines or a cut listing, the keys it could
// read.
func (s *Sweeper) diskKeys() ([]Key, error) {
	b, err := s.read()
	if b == nil {
		return nil, err
	}
	keys, perr := Parse(b)
	var disk []Key
	for _, k := range keys {
		if k.Secret() {
			disk = append(disk, k)
		}
	}
	if perr != nil {
		err = errors.Join(err, fmt.Errorf("%s: %w", s.name(), perr))
	}
	return disk, err
}

// read returns the content of /proc/keys, in s.buf.
func (s *Sweeper) read() ([]byte, error) {
	f := s.f
	if f == nil {
		var err error
		if f, err = os.Open(s.name()); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		defer f.Close()
	}
	if s.buf == nil {
		s.buf = make([]byte, initialBufSize)
	}
	for {
		n, err := f.ReadAt(s.buf, 0) // pread until the buffer is full or EOF
		switch {
		case errors.Is(err, io.EOF):
			return s.buf[:n], nil
		case err != nil:
			return nil, fmt.Errorf("keyring: %w", err)
		case len(s.buf) >= maxBufSize:
			// Keep whole lines only: a cut one could match by its start.
			return s.buf[:bytes.LastIndexByte(s.buf, '\n')+1], fmt.Errorf("keyring: %s is longer than %d bytes: the keys after that are not swept", s.name(), len(s.buf))
		}
		s.buf = make([]byte, 2*len(s.buf)) // full: it may go on
	}
}

func (s *Sweeper) name() string {
	if s.path == "" {
		return procKeys
	}
	return s.path
}

func (s *Sweeper) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// keyctl is keyctl(cmd, id) for KEYCTL_REVOKE and KEYCTL_INVALIDATE. It
// refuses in a test binary.
func keyctl(cmd int, id int32) error {
	if testing.Testing() {
		return ErrInTest
	}
	_, err := unix.KeyctlInt(cmd, int(id), 0, 0, 0)
	return err
}
