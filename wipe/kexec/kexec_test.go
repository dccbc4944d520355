package kexec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestRefusedInTests(t *testing.T) {
	// The guard that keeps go test from touching the machine's kexec state.
	assert.ErrorIs(t, Exec(), ErrInTest)
	assert.ErrorIs(t, Unload(), ErrInTest)
	assert.ErrorIs(t, Load(Image{Kernel: "/nonexistent", Cmdline: "x"}), ErrInTest)
}

func TestLoadRejectsNUL(t *testing.T) {
	assert.ErrorContains(t, Load(Image{Kernel: "k", Cmdline: "a\x00b"}), "NUL")
}

func TestLoaded(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kexec_loaded")
	require.NoError(t, os.WriteFile(p, []byte("1\n"), 0o644))
	ok, err := loaded(p)
	require.NoError(t, err)
	assert.True(t, ok)
	require.NoError(t, os.WriteFile(p, []byte("0\n"), 0o644))
	ok, err = loaded(p)
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = loaded(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

func TestHint(t *testing.T) {
	for err, want := range map[error]string{
		unix.ENOSYS:       "CONFIG_KEXEC_FILE",
		unix.EPERM:        "kexec_load_disabled",
		unix.EKEYREJECTED: "signed",
		unix.EBADMSG:      "signed",
		unix.ENOEXEC:      "bzImage",
		unix.ETXTBSY:      "writing",
		unix.EIO:          "",
	} {
		if want == "" {
			assert.Empty(t, hint(err))
			continue
		}
		assert.Contains(t, hint(err), want, "hint(%v)", err)
	}
}
