package shutdown

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/wipe/kexec"
)

func staged(t *testing.T) (dir string, img kexec.Image) {
	t.Helper()
	src := t.TempDir()
	img = kexec.Image{Kernel: filepath.Join(src, "vmlinuz-6.1"), Initrd: filepath.Join(src, "ramwipe-initramfs.cpio"),
		Cmdline: "console=ttyS0 memtest=1 init_on_free=1 ramwipe.action=poweroff ramwipe.quiet"}
	require.NoError(t, os.WriteFile(img.Kernel, []byte("kernel"), 0o644))
	require.NoError(t, os.WriteFile(img.Initrd, []byte("cpio"), 0o644))
	dir = filepath.Join(t.TempDir(), "run", "ramwipe", "shutdown")
	require.NoError(t, Stage(dir, img))
	return dir, img
}

func TestStageAndPlan(t *testing.T) {
	dir, _ := staged(t)
	for _, tt := range []struct{ verb, action string }{
		{"poweroff", "poweroff"},
		{"reboot", "reboot"},
		{"halt", "halt"},
		{"kexec", "reboot"}, // over whatever is loaded: see Plan
	} {
		verb := tt.verb
		img, err := Plan(verb, "BOOT_IMAGE=/vmlinuz root=/dev/mapper/root ro quiet", dir)
		require.NoError(t, err, verb)
		assert.Equal(t, "console=ttyS0 memtest=1 init_on_free=1 ramwipe.quiet ramwipe.action="+tt.action, img.Cmdline, "Plan(%s): the staged action is dropped, the verb's added", verb)
		k, err := os.ReadFile(img.Kernel)
		require.NoError(t, err)
		assert.Equal(t, "kernel", string(k))
		i, err := os.ReadFile(img.Initrd)
		require.NoError(t, err)
		assert.Equal(t, "cpio", string(i))
		assert.Equal(t, dir, filepath.Dir(img.Kernel), "the copies, not the originals: /boot is gone by then")
	}
}

func TestPlanSkips(t *testing.T) {
	dir, _ := staged(t)
	for name, c := range map[string]struct{ verb, cmdline, dir string }{
		"unknown verb":   {"suspend", "", dir},
		"empty verb":     {"", "", dir},
		"ramwipe.skip":   {"poweroff", "root=/dev/sda1 ramwipe.skip quiet", dir},
		"ramwipe.skip=1": {"kexec", "ramwipe.skip=1", dir},
		"skip, bad next": {"reboot", "ramwipe.skip ramwipe.bogus", dir},
		"not staged":     {"reboot", "", filepath.Join(t.TempDir(), "none")},
	} {
		_, err := Plan(c.verb, c.cmdline, c.dir)
		assert.True(t, errors.Is(err, ErrSkip), "%s: %v", name, err)
	}
	for _, cmdline := range []string{"ramwipe.skipped=1", "ramwipe.skip=0", "xramwipe.skip"} {
		_, err := Plan("poweroff", cmdline, dir)
		assert.NoError(t, err, "Plan(poweroff, %q): only ramwipe.skip itself skips", cmdline)
	}
}

func TestStageReplacesAndUnstage(t *testing.T) {
	dir, img := staged(t)
	img.Cmdline = "memtest=1 ramwipe.action=reboot"
	require.NoError(t, Stage(dir, img))
	p, err := Plan("halt", "", dir)
	require.NoError(t, err)
	assert.Equal(t, "memtest=1 ramwipe.action=halt", p.Cmdline)

	img.Initrd = filepath.Join(t.TempDir(), "missing.cpio")
	assert.Error(t, Stage(dir, img), "a missing initramfs")
	_, err = Plan("halt", "", dir)
	assert.NoError(t, err, "a failed Stage keeps what was staged")
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".shutdown-*"))
	assert.Empty(t, left, "no temporary directory left behind")

	require.NoError(t, Unstage(dir))
	_, err = Plan("halt", "", dir)
	assert.ErrorIs(t, err, ErrSkip)
}
