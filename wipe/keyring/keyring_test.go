package keyring

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const procKeys = `0c5aa4e9 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0: 64
1b2f0c33 I--Q---     1 perm 3f010000     0     0 user      cryptsetup: 19
2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1
3f00aa01 I--Q---     1 perm 3f010000  1000  1000 user      cryptsetup-other: 5
04d0e0f1 I--Q---     1 perm 3f010000     0     0 logon     fscrypt:abcd: 64
garbage line
`

func TestParseProcKeys(t *testing.T) {
	keys, bad := ParseProcKeys([]byte(procKeys))
	assert.Equal(t, 1, bad)
	require.Len(t, keys, 5)
	assert.Equal(t, Key{ID: 0x0c5aa4e9, Type: "logon", Description: "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0"}, keys[0])
	assert.Equal(t, Key{ID: 0x1b2f0c33, Type: "user", Description: "cryptsetup"}, keys[1])
	var disk []int32
	for _, k := range keys {
		if k.Disk() {
			disk = append(disk, k.ID)
		}
	}
	assert.Equal(t, []int32{0x0c5aa4e9, 0x1b2f0c33}, disk)
}

func TestSweep(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(p, []byte(procKeys), 0o644))
	var got []int32
	s := &Sweeper{ProcKeys: p, invalidate: func(id int32) error {
		got = append(got, id)
		if id == 0x0c5aa4e9 {
			return unix.EACCES
		}
		return nil
	}}
	n, err := s.Sweep()
	assert.Equal(t, 1, n)
	assert.ErrorContains(t, err, "permission denied")
	assert.Equal(t, []int32{0x0c5aa4e9, 0x1b2f0c33}, got, "a failure does not stop the sweep")
}

func TestRealInvalidateRefusedInTests(t *testing.T) {
	assert.ErrorIs(t, invalidate(1), ErrInTest)
}

func FuzzParseProcKeys(f *testing.F) {
	f.Add([]byte(procKeys))
	f.Add([]byte("ffffffff I 1 perm 0 0 0 logon cryptsetup:x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, _ := ParseProcKeys(b)
		for _, k := range keys {
			if k.ID <= 0 {
				t.Fatalf("key id %d from %q", k.ID, b)
			}
		}
	})
}
