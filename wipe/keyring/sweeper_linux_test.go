package keyring

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// fakeKeyctl records invalidations and fails the ones in fail.
type fakeKeyctl struct {
	got  []int32
	fail map[int32]error
}

func (k *fakeKeyctl) invalidate(id int32) error {
	k.got = append(k.got, id)
	return k.fail[id]
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
			k := &fakeKeyctl{fail: tt.fail}
			s, err := open(procKeysFile(t, tt.content), k.invalidate)
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
			for _, id := range want {
				assert.Contains(t, strings.Join(logs, "\n"), fmt.Sprintf("%08x", id), "every key tried is logged")
			}
		})
	}
}

// After Open, a sweep opens no file: it reads the file opened then, from
// offset 0, again at each sweep.
func TestSweepReadsTheOpenFile(t *testing.T) {
	p := procKeysFile(t, sample)
	k := &fakeKeyctl{}
	s, err := open(p, k.invalidate)
	require.NoError(t, err)
	defer s.Close()
	// The path is gone; the open file still reads.
	require.NoError(t, os.Remove(p))
	n, err := s.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = s.Sweep()
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the second sweep reads from offset 0 again")
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
	assert.ErrorIs(t, invalidate(1), ErrInTest)
	s := &Sweeper{path: procKeysFile(t, sample)}
	n, err := s.Sweep()
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, ErrInTest)
}
