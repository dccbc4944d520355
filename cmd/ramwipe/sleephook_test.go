package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// fakeDaemon serves the control socket with handler, for this user.
func fakeDaemon(t *testing.T, handler control.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv := &control.Server{Path: sock, GID: os.Getgid(), Handler: handler}
	require.NoError(t, srv.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

func TestSleepHook(t *testing.T) {
	got := make(chan control.Request, 1)
	sock := fakeDaemon(t, func(ctx context.Context, p control.Peer, r control.Request) (string, error) {
		got <- r
		if r.Arg == "post-hibernate" {
			return "", errors.New("sleep: the on_suspend policy is not running yet")
		}
		return "suspend: RTC wake alarm set for 2026-12-03T12:01:00Z", nil
	})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-socket", sock, "sleep-hook", "pre", "suspend"}, &stdout, &stderr)
	assert.Equal(t, exitOK, code, stderr.String())
	assert.Equal(t, control.Request{Command: control.CommandSleep, Arg: "pre-suspend"}, <-got)
	assert.Equal(t, "ramwipe: suspend: RTC wake alarm set for 2026-12-03T12:01:00Z\n", stdout.String())

	stdout.Reset()
	code = run(context.Background(), []string{"-socket", sock, "sleep-hook", "post", "hibernate"}, &stdout, &stderr)
	assert.Equal(t, exitFailed, code)
	<-got
	assert.Contains(t, stderr.String(), "ramwipe: sleep-hook post hibernate: sleep: the on_suspend policy is not running yet")
}

func TestSleepHookErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, exitUsageCode, run(context.Background(), []string{"sleep-hook", "pre"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "want two arguments")
	stderr.Reset()
	assert.Equal(t, exitUsageCode, run(context.Background(), []string{"sleep-hook", "pre", "nap"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `sleep type "nap"`)
	stderr.Reset()
	sock := filepath.Join(t.TempDir(), "none.sock")
	assert.Equal(t, exitFailed, run(context.Background(), []string{"-socket", sock, "sleep-hook", "pre", "suspend"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "is ramwiped running?")
	assert.Contains(t, stderr.String(), "on_suspend is not applied to this sleep")
	assert.Empty(t, stdout.String())
}

func TestPrintStatusSuspend(t *testing.T) {
	var out bytes.Buffer
	printStatus(&out, &out, `{"state":"armed","suspend":{"policy":"allow"}}`)
	assert.Contains(t, out.String(), "on suspend:     allow (the disk keys stay in RAM while suspended)\n")
	out.Reset()
	dl := time.Date(2026, 12, 3, 12, 1, 0, 0, time.UTC)
	printStatus(&out, &out, `{"state":"armed","suspend":{"policy":"wipe-after 1m0s","deadline":"2026-12-03T12:01:00Z"}}`)
	assert.Contains(t, out.String(), "on suspend:     wipe-after 1m0s, alarm pending: wipes at "+dl.Local().Format(time.RFC3339)+" unless woken before\n")
	out.Reset()
	printStatus(&out, &out, `{"state":"armed"}`)
	assert.NotContains(t, out.String(), "on suspend")
}
