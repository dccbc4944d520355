package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/readiness"
)

// TestREADMEUsage keeps the README's usage block equal to `ramwipe -h`.
func TestREADMEUsage(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, exitOK, run(context.Background(), []string{"-h"}, &out, &out))
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	if !strings.Contains(string(readme), "$ ramwipe -h\n"+out.String()) {
		t.Fatalf("README.md must show `ramwipe -h` exactly:\n%s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{}, want: "no command given"},
		{args: []string{"explode"}, want: `unknown command "explode"`},
		{args: []string{"test"}, want: "test: wrong arguments"},
		{args: []string{"panic", "now"}, want: "panic: wrong arguments"},
		{args: []string{"status", "--yaml"}, want: "status: wrong arguments"},
		{args: []string{"test", "Hot Key"}, want: `invalid trigger name "Hot Key"`},
		{args: []string{"check", "--yaml"}, want: "check: wrong arguments"},
		{args: []string{"-bogus"}, want: "flag provided but not defined"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, exitUsageCode, run(context.Background(), tt.args, &stdout, &stderr), "run(%q)", tt.args)
		assert.Contains(t, stderr.String(), tt.want, "run(%q)", tt.args)
		assert.NotContains(t, stderr.String(), "ramwipe: ramwipe", "no doubled prefix")
		assert.Empty(t, stdout.String(), "errors go to stderr")
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, exitOK, run(context.Background(), args, &stdout, &stderr), "run(%q)", args)
		assert.Contains(t, stdout.String(), "test TRIGGER     rehearse a trigger (cli, hotkey, bootmedium, usb, suspend)", "run(%q): the usage, on stdout", args)
		assert.Empty(t, stderr.String())
	}
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}} {
		var stdout bytes.Buffer
		assert.Equal(t, exitOK, run(context.Background(), args, &stdout, &stdout), "run(%q)", args)
		assert.Equal(t, "ramwipe devel\n", stdout.String())
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
	printStatus(&out, &out, `{"state":"armed","watching":[{"trigger":"hotkey","on":true,"what":"left ctrl + right ctrl + backspace on 1 keyboards: kbd (/dev/input/event0)"},{"trigger":"bootmedium","what":"off: nothing removable"}]}`)
	assert.Contains(t, out.String(), "  hotkey      on   left ctrl + right ctrl + backspace on 1 keyboards")
	assert.Contains(t, out.String(), "  bootmedium  off  off: nothing removable")
	out.Reset()
	assert.Equal(t, exitOK, printStatus(&out, &out, `{"state":"armed"}`))
	assert.Equal(t, exitFailed, printStatus(&out, &out, `not json`))
}

func TestCheckExitCode(t *testing.T) {
	tests := []struct {
		name string
		sevs []readiness.Severity
		want int
	}{
		{name: "nothing", want: exitOK},
		{name: "ok and info", sevs: []readiness.Severity{readiness.OK, readiness.Info}, want: exitOK},
		{name: "warn", sevs: []readiness.Severity{readiness.OK, readiness.Warn, readiness.Info}, want: 1},
		{name: "fail", sevs: []readiness.Severity{readiness.Warn, readiness.Fail}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &readiness.Report{}
			for _, s := range tt.sevs {
				r.Findings = append(r.Findings, readiness.Finding{Check: readiness.CheckSwap, Severity: s, What: s.String()})
			}
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.want, check(r, false, &stdout, &stderr), "check(%v)", tt.sevs)
			assert.Contains(t, stdout.String(), "worst: ")
			assert.Empty(t, stderr.String())

			stdout.Reset()
			assert.Equal(t, tt.want, check(r, true, &stdout, &stderr), "check(%v, json)", tt.sevs)
			var got struct {
				Worst    readiness.Severity  `json:"worst"`
				Findings []readiness.Finding `json:"findings"`
			}
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), stdout.String())
			assert.Equal(t, r.Worst(), got.Worst)
			assert.Len(t, got.Findings, len(tt.sevs))
		})
	}
}

// TestCheckRuns runs the real audit: it only reads, and must end in one of
// its three exit codes whatever this machine is.
func TestCheckRuns(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "--json"}, &stdout, &stderr)
	assert.Contains(t, []int{exitOK, 1, 2}, code)
	assert.True(t, json.Valid(stdout.Bytes()), stdout.String())
}
