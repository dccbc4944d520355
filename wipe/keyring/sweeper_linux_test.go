package keyring

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// procKeysFile writes content to a file standing in for /proc/keys.
func procKeysFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// fakeKeyctl behaves as the kernel does to the keys of the file standing in
// for /proc/keys: it records each call; a key in noSearch may not be
// invalidated (EACCES), one in noWrite may not be revoked; a revoked or
// invalidated key refuses both with EKEYREVOKED; like the key garbage
// collector, it removes an invalidated key's line from the file (unless
// gcStuck), while a revoked key stays listed (for kernel.keys.gc_delay).
type fakeKeyctl struct {
	invalidated, revoked []int32
	noSearch, noWrite    map[int32]bool
	dead                 map[int32]bool
	path                 string
	gcStuck              bool
}

func (k *fakeKeyctl) keyctl(cmd int, id int32) error {
	if k.dead[id] {
		return unix.EKEYREVOKED
	}
	switch cmd {
	case unix.KEYCTL_REVOKE:
		if k.noWrite[id] {
			return unix.EACCES
		}
		k.revoked = append(k.revoked, id)
	case unix.KEYCTL_INVALIDATE:
		if k.noSearch[id] {
			return unix.EACCES
		}
		k.invalidated = append(k.invalidated, id)
		if k.path != "" && !k.gcStuck {
			b, _ := os.ReadFile(k.path)
			var keep []string
			for _, l := range strings.SplitAfter(string(b), "\n") {
				if !strings.HasPrefix(l, fmt.Sprintf("%08x ", id)) {
					keep = append(keep, l)
				}
			}
			os.WriteFile(k.path, []byte(strings.Join(keep, "")), 0o644)
		}
	}
	if k.dead == nil {
		k.dead = map[int32]bool{}
	}
	k.dead[id] = true
	return nil
}

func TestSweep(t *testing.T) {
	// sample's secret keys: a volume key and systemd's passphrase cache,
	// another user's user key root may view, an fscrypt key.
	const vk, pass, other, fscrypt = 0x0c5aa4e9, 0x1b2f0c33, 0x3f00aa01, 0x04d0e0f1
	// Volume keys linked under names the admin chose: crypttab's
	// link-volume-key=@u::%logon:kdump-cryptsetup:vk-<uuid> (RHEL's kdump)
	// and link-volume-key=@u::vk (the default type, user).
	const linked = `11111111 I--Q---     1 perm 3f010000     0     0 logon     kdump-cryptsetup:vk-6f4b1f51: 64
22222222 I--Q---     1 perm 3f010000     0     0 user      vk: 64
2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1
`
	tests := []struct {
		name                 string
		content              string
		k                    fakeKeyctl
		wantN                int
		wantInval, wantRevok []int32
		wantErrs             []string
	}{
		{name: "sample", content: sample, wantN: 4, wantInval: []int32{vk, pass, other, fscrypt}},
		{name: "volume keys linked under any name", content: linked, wantN: 2, wantInval: []int32{0x11111111, 0x22222222}},
		{name: "none", content: "2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1\n", wantN: 0},
		{
			name: "no search permission: revoked instead", content: sample,
			k:     fakeKeyctl{noSearch: map[int32]bool{vk: true}},
			wantN: 4, wantInval: []int32{pass, other, fscrypt}, wantRevok: []int32{vk},
		},
		{
			name: "neither: reported, the rest swept", content: sample,
			k:         fakeKeyctl{noSearch: map[int32]bool{vk: true}, noWrite: map[int32]bool{vk: true}},
			wantN:     3,
			wantInval: []int32{pass, other, fscrypt},
			wantErrs:  []string{`0c5aa4e9 logon "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0": neither invalidated (permission denied) nor revoked (permission denied): its payload stays in RAM until the memory wipe`},
		},
		{
			name: "a key revoked by someone else is no error", content: sample,
			k:     fakeKeyctl{dead: map[int32]bool{pass: true}},
			wantN: 3, wantInval: []int32{vk, other, fscrypt},
		},
		{
			name: "a bad line is reported, the rest swept", content: "garbage\n" + sample,
			wantN: 4, wantInval: []int32{vk, pass, other, fscrypt}, wantErrs: []string{"malformed /proc/keys line: 1 bad lines; line 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := procKeysFile(t, tt.content)
			k := &tt.k
			k.path = path
			s, err := open(path, k.keyctl)
			require.NoError(t, err)
			defer s.Close()
			var logs []string
			s.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
			s.Settle = time.Millisecond
			n, err := s.Sweep()
			assert.Equal(t, tt.wantN, n)
			if tt.wantErrs == nil {
				assert.NoError(t, err)
			}
			for _, w := range tt.wantErrs {
				assert.ErrorContains(t, err, w)
			}
			assert.Equal(t, tt.wantInval, k.invalidated, "invalidated")
			assert.Equal(t, tt.wantRevok, k.revoked, "revoked")
			keys, _ := Parse([]byte(tt.content))
			for _, key := range keys {
				if key.Secret() {
					assert.Contains(t, strings.Join(logs, "\n"), fmt.Sprintf("%08x", key.ID), "every secret key is logged")
				}
			}
		})
	}
}

// twoDiskKeys is a listing with a volume key and systemd's passphrase
// cache as its only secret keys.
const twoDiskKeys = `0c5aa4e9 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0: 64
1b2f0c33 I--Q---     1  99s 3f010000     0     0 user      cryptsetup: 19
2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1
`

// A revoked key stays listed (the kernel keeps its husk for
// kernel.keys.gc_delay): the sweep does not wait for it, but pauses for its
// payload's RCU callback.
func TestSweepRevokedOnlyPauses(t *testing.T) {
	path := procKeysFile(t, twoDiskKeys)
	k := &fakeKeyctl{path: path, noSearch: map[int32]bool{0x0c5aa4e9: true, 0x1b2f0c33: true}}
	s, err := open(path, k.keyctl)
	require.NoError(t, err)
	defer s.Close()
	s.GCWait = time.Hour
	s.Settle = 20 * time.Millisecond
	start := time.Now()
	n, err := s.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.GreaterOrEqual(t, time.Since(start), s.Settle)
	assert.Less(t, time.Since(start), time.Minute, "no wait for the garbage collector")
}

// After Open, a sweep opens no file: it reads the file opened then, from
// offset 0, again at each sweep.
// A key the garbage collector has not destroyed within GCWait is reported;
// one it destroys ends the wait.
func TestSweepWaitsForTheGarbageCollector(t *testing.T) {
	path := procKeysFile(t, twoDiskKeys)
	k := &fakeKeyctl{path: path, gcStuck: true}
	s, err := open(path, k.keyctl)
	require.NoError(t, err)
	defer s.Close()
	s.GCWait = 5 * time.Millisecond
	n, err := s.Sweep()
	assert.Equal(t, 2, n)
	assert.ErrorContains(t, err, "2 of 2 invalidated keys still listed after 5ms")

	path = procKeysFile(t, twoDiskKeys)
	k = &fakeKeyctl{path: path}
	s, err = open(path, k.keyctl)
	require.NoError(t, err)
	defer s.Close()
	var logs []string
	s.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	s.Settle = 30 * time.Millisecond
	start := time.Now()
	_, err = s.Sweep()
	require.NoError(t, err)
	assert.Contains(t, strings.Join(logs, "\n"), "the kernel destroyed the 2 keys after")
	assert.GreaterOrEqual(t, time.Since(start), s.Settle, "the pause for the payloads' RCU callbacks")
}

func TestSweepReadsTheOpenFile(t *testing.T) {
	p := procKeysFile(t, twoDiskKeys)
	k := &fakeKeyctl{path: p + ".moved"}
	s, err := open(p, k.keyctl)
	require.NoError(t, err)
	defer s.Close()
	// The path is gone; the open file still reads (and the fake's garbage
	// collector writes it under its new name).
	require.NoError(t, os.Rename(p, p+".moved"))
	n, err := s.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = s.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "the second sweep reads the file again from offset 0: the keys are gone")
}

// A listing bigger than the buffer is read whole.
func TestSweepGrowsTheBuffer(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "%08x I--Q---     1 perm 3f030000  1000  1000 keyring   other-%d: 1\n", 0x100+i, i)
	}
	b.WriteString("7ffffff0 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:last-d0: 64\n")
	require.Greater(t, b.Len(), initialBufSize)
	k := &fakeKeyctl{}
	s, err := open(procKeysFile(t, b.String()), k.keyctl)
	require.NoError(t, err)
	defer s.Close()
	keys, err := s.Keys()
	require.NoError(t, err)
	assert.Equal(t, []Key{{0x7ffffff0, "logon", "cryptsetup:last-d0", false}}, keys)
}

func TestOpenMissing(t *testing.T) {
	_, err := open(filepath.Join(t.TempDir(), "keys"), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The zero Sweeper reads /proc/keys itself, and in a test binary its real
// KEYCTL_INVALIDATE refuses.
func TestRealInvalidateRefusedInTests(t *testing.T) {
	assert.ErrorIs(t, keyctl(unix.KEYCTL_INVALIDATE, 1), ErrInTest)
	assert.ErrorIs(t, keyctl(unix.KEYCTL_REVOKE, 1), ErrInTest)
	s := &Sweeper{path: procKeysFile(t, sample)}
	n, err := s.Sweep()
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, ErrInTest)
}

// The kernel's own keys (no Q flag), such as the SED-OPAL boot PIN, are
// invalidated but not waited for: the kernel's reference keeps them
// listed, and the panic must not wait GCWait for nothing. systemd's
// invocation_id keys are no secret and are left alone.
func TestSweepKernelKeyNotWaitedFor(t *testing.T) {
	content := `2fe1efd7 I------     2 perm 000d0000     0     0 user      opal-boot-pin: 255
0698e55b I--Q---     1 perm 0b0b0000     0     0 user      invocation_id: 16
`
	path := procKeysFile(t, content)
	k := &fakeKeyctl{path: path, gcStuck: true}
	s, err := open(path, k.keyctl)
	require.NoError(t, err)
	defer s.Close()
	var logs []string
	s.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	s.GCWait = time.Hour
	s.Settle = time.Millisecond
	n, err := s.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []int32{0x2fe1efd7}, k.invalidated)
	assert.Contains(t, strings.Join(logs, "\n"), `2fe1efd7 user "opal-boot-pin" (the kernel's own key: not waited for)`)
}
