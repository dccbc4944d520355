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

// fakeKeyctl records revocations and invalidations, fails the
// invalidations in fail, and, like the kernel's garbage collector, removes
// an invalidated key's line from the file standing in for /proc/keys
// (unless gcStuck).
type fakeKeyctl struct {
	got, revoked []int32
	fail         map[int32]error
	path         string
	gcStuck      bool
}

func (k *fakeKeyctl) invalidate(cmd int, id int32) error {
	if cmd == unix.KEYCTL_REVOKE {
		k.revoked = append(k.revoked, id)
		return nil
	}
	k.got = append(k.got, id)
	if err := k.fail[id]; err != nil {
		return err
	}
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
	return nil
}

func TestSweep(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		fail     map[int32]error
		wantN    int
		wantErrs []string
	}{
		{name: "sample", content: sample, wantN: 2},
		{name: "none", content: "2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1\n", wantN: 0},
		{
			name: "a failure stops nothing", content: sample,
			fail:     map[int32]error{0x0c5aa4e9: unix.EACCES},
			wantN:    1,
			wantErrs: []string{`keyctl(KEYCTL_INVALIDATE, 0c5aa4e9 logon "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0"): permission denied`},
		},
		{
			name: "a key already gone is no error", content: sample,
			fail:  map[int32]error{0x1b2f0c33: unix.ENOKEY},
			wantN: 1,
		},
		{
			name: "a bad line is reported, the rest swept", content: "garbage\n" + sample,
			wantN: 2, wantErrs: []string{"malformed /proc/keys line: 1 bad lines; line 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := procKeysFile(t, tt.content)
			k := &fakeKeyctl{fail: tt.fail, path: path}
			s, err := open(path, k.invalidate)
			require.NoError(t, err)
			defer s.Close()
			var logs []string
			s.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
			n, err := s.Sweep()
			assert.Equal(t, tt.wantN, n)
			if tt.wantErrs == nil {
				assert.NoError(t, err)
			}
			for _, w := range tt.wantErrs {
				assert.ErrorContains(t, err, w)
			}
			keys, _ := Parse([]byte(tt.content))
			var want []int32
			for _, key := range keys {
				if key.Disk() {
					want = append(want, key.ID)
				}
			}
			assert.Equal(t, want, k.got, "every disk key is tried, in order")
			assert.Equal(t, want, k.revoked, "and revoked first")
			for _, id := range want {
				assert.Contains(t, strings.Join(logs, "\n"), fmt.Sprintf("%08x", id), "every key tried is logged")
			}
		})
	}
}

// After Open, a sweep opens no file: it reads the file opened then, from
// offset 0, again at each sweep.
// A key the garbage collector has not destroyed within GCWait is reported;
// one it destroys ends the wait.
func TestSweepWaitsForTheGarbageCollector(t *testing.T) {
	path := procKeysFile(t, sample)
	k := &fakeKeyctl{path: path, gcStuck: true}
	s, err := open(path, k.invalidate)
	require.NoError(t, err)
	defer s.Close()
	s.GCWait = 5 * time.Millisecond
	n, err := s.Sweep()
	assert.Equal(t, 2, n)
	assert.ErrorContains(t, err, "2 of 2 invalidated keys still listed after 5ms")

	path = procKeysFile(t, sample)
	k = &fakeKeyctl{path: path}
	s, err = open(path, k.invalidate)
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
	p := procKeysFile(t, sample)
	k := &fakeKeyctl{path: p + ".moved"}
	s, err := open(p, k.invalidate)
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
		fmt.Fprintf(&b, "%08x I--Q---     1 perm 3f010000  1000  1000 user      other-%d: 5\n", 0x100+i, i)
	}
	b.WriteString("7ffffff0 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:last-d0: 64\n")
	require.Greater(t, b.Len(), initialBufSize)
	k := &fakeKeyctl{}
	s, err := open(procKeysFile(t, b.String()), k.invalidate)
	require.NoError(t, err)
	defer s.Close()
	keys, err := s.Keys()
	require.NoError(t, err)
	assert.Equal(t, []Key{{0x7ffffff0, "logon", "cryptsetup:last-d0"}}, keys)
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
