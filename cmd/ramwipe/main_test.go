package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEUsage keeps the README's usage block equal to `ramwipe -h`.
func TestREADMEUsage(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, exitUsageCode, run(context.Background(), []string{"-h"}, &out, &out))
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), "$ ramwipe -h\n"+out.String(), "README.md must show `ramwipe -h` exactly:\n%s", out.String())
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"explode"}, {"test"}, {"panic", "now"}} {
		var out bytes.Buffer
		assert.Equal(t, exitUsageCode, run(context.Background(), args, &out, &out), "run(%q)", args)
		assert.Contains(t, out.String(), "usage: ramwipe")
	}
}

func TestNoDaemon(t *testing.T) {
	var out bytes.Buffer
	sock := filepath.Join(t.TempDir(), "none.sock")
	assert.Equal(t, exitFailed, run(context.Background(), []string{"-socket", sock, "status"}, &out, &out))
	assert.Contains(t, out.String(), "ramwipe:")
}

func TestPrintStatus(t *testing.T) {
	var out bytes.Buffer
	code := printStatus(&out, &out, `{"state":"degraded","why":"NO WIPE IMAGE LOADED: x","kernel":"/boot/k","crypt_devices":["cryptroot"],"triggers":["cli","hotkey"]}`)
	assert.Equal(t, exitNotArmed, code)
	assert.Contains(t, out.String(), "state:          DEGRADED")
	assert.Contains(t, out.String(), "crypt devices:  cryptroot")
	assert.Contains(t, out.String(), "triggers:       cli, hotkey")
	out.Reset()
	assert.Equal(t, exitOK, printStatus(&out, &out, `{"state":"armed"}`))
	assert.Equal(t, exitFailed, printStatus(&out, &out, `not json`))
}
