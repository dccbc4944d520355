package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// TestREADMEUsage keeps the README's usage block equal to `ramwipe-notify -h`.
func TestREADMEUsage(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, exitOK, run(context.Background(), []string{"-h"}, &out, &out))
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	if !strings.Contains(string(readme), "$ ramwipe-notify -h\n"+out.String()) {
		t.Fatalf("README.md must show `ramwipe-notify -h` exactly:\n%s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{args: []string{"now"}, want: `unexpected arguments ["now"]`},
		{args: []string{"-bogus"}, want: "flag provided but not defined"},
		{args: []string{"-interval", "10ms"}, want: "-interval 10ms: want 1s or more"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, exitUsageCode, run(context.Background(), tt.args, &stdout, &stderr), "run(%q)", tt.args)
		assert.Contains(t, stderr.String(), tt.want, "run(%q)", tt.args)
		assert.Empty(t, stdout.String(), "errors go to stderr")
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, exitOK, run(context.Background(), args, &stdout, &stderr), "run(%q)", args)
		assert.Contains(t, stdout.String(), "usage: ramwipe-notify [options]", "run(%q): the usage, on stdout", args)
		assert.Empty(t, stderr.String())
	}
	var stdout bytes.Buffer
	assert.Equal(t, exitOK, run(context.Background(), []string{"--version"}, &stdout, &stdout))
	assert.Equal(t, "ramwipe-notify devel\n", stdout.String())
}

func TestNoSessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	var stderr bytes.Buffer
	assert.Equal(t, exitFailed, run(context.Background(), nil, &bytes.Buffer{}, &stderr))
	assert.Contains(t, stderr.String(), "no session D-Bus")
}

// TestPanicRefusedWithoutBus: the launcher's panic, refused by a fake
// ramwiped, in a session without D-Bus: the refusal still reaches stderr.
func TestPanicRefusedWithoutBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir, err := os.MkdirTemp("", "ramwipe-notify-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "control.sock")
	srv := &control.Server{Path: sock, GID: os.Getgid(), Logf: t.Logf,
		Handler: func(context.Context, control.Peer, control.Request) (string, error) {
			return "", errors.New("not authorized: uid 1000 is not root and not in group ramwipe, …")
		}}
	require.NoError(t, srv.Listen())
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { stop(); <-served }()

	var stderr bytes.Buffer
	assert.Equal(t, exitFailed, run(context.Background(), []string{"-socket", sock, "--panic"}, &bytes.Buffer{}, &stderr))
	assert.Contains(t, stderr.String(), "panic: not authorized: uid 1000")
	assert.Contains(t, stderr.String(), "show the error as a notification: connect to the session D-Bus: no address")
}
