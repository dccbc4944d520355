package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadOrderLabKernels resolves the lab's module lists against the
// kernels in the lab cache, when they are there (make lab fetches them).
func TestLoadOrderLabKernels(t *testing.T) {
	dirs, _ := filepath.Glob("/var/cache/ramwipe-lab/linux-image-*")
	if len(dirs) == 0 {
		t.Skip("no lab kernel in /var/cache/ramwipe-lab (make lab fetches one)")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tree, err := findModuleTree(dir)
			require.NoError(t, err)
			names, images, err := tree.loadOrder(append(append([]string{}, usbModules...), cryptModules...))
			require.NoError(t, err)
			require.Len(t, images, len(names))
			t.Logf("load order: %s", strings.Join(names, " "))
			pos := map[string]int{}
			for i, n := range names {
				pos[n] = i
			}
			for _, pair := range [][2]string{{"dm_mod", "dm_crypt"}, {"usbcore", "usb_storage"}, {"scsi_mod", "sd_mod"}, {"jbd2", "ext4"}} {
				if _, ok := pos[pair[0]]; ok {
					assert.Less(t, pos[pair[0]], pos[pair[1]], "%s before %s", pair[0], pair[1])
				}
			}
			for _, ko := range images {
				assert.Equal(t, "\x7fELF", string(ko[:4]), "decompressed")
			}
		})
	}
}

func TestLoadOrderErrors(t *testing.T) {
	dir := t.TempDir()
	mods := filepath.Join(dir, "usr/lib/modules/6.99")
	require.NoError(t, os.MkdirAll(mods, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mods, "modules.builtin"), []byte("kernel/crypto/ecb.ko\n"), 0o644))
	tree, err := findModuleTree(dir)
	require.NoError(t, err)
	_, _, err = tree.loadOrder([]string{"ecb", "?aes_generic"})
	assert.NoError(t, err, "built in, and an optional one that is not there")
	_, _, err = tree.loadOrder([]string{"dm-crypt"})
	assert.ErrorContains(t, err, "module dm_crypt (needed by ): neither a module nor built in")
}
