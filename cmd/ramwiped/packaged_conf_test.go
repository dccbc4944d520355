package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPackagedConfig: the conffile the package installs parses to the
// defaults, and every setting it shows, uncommented, parses too — so the
// examples a user copies from it work, and it names every setting there is.
func TestPackagedConfig(t *testing.T) {
	data, err := os.ReadFile("../../debian/ramwipe.conf")
	require.NoError(t, err)
	cfg, err := ParseConfig("ramwipe.conf", data, DefaultConfig())
	require.NoError(t, err)
	assert.Equal(t, DefaultConfig(), cfg, "as shipped, everything is commented out")

	uncommented := regexp.MustCompile(`(?m)^#([a-z_]+ =)`).ReplaceAll(data, []byte("$1"))
	cfg, err = ParseConfig("ramwipe.conf", uncommented, DefaultConfig())
	require.NoError(t, err)
	for _, key := range []string{"kernel", "initramfs", "cmdline_extra", "socket", "group", "hotkey", "boot_medium", "kill_cord", "shutdown_wipe", "lock_kexec", "key_deadline_ms", "usb_insert", "usb_allow", "on_suspend"} {
		assert.Regexp(t, `(?m)^#`+key+` =`, string(data), "the shipped file shows %s", key)
	}
	assert.Equal(t, DefaultConfig().Hotkey, cfg.Hotkey, "the example chord is the default")
}
