package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWatchFilesRearmsOnceAfterChanges(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	other := filepath.Join(dir, "config-unrelated")
	require.NoError(t, os.WriteFile(kernel, []byte("old"), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fired := make(chan struct{}, 10)
	done := make(chan error, 1)
	w, err := newFileWatch([]string{kernel})
	require.NoError(t, err)
	go func() {
		done <- w.run(ctx, 50*time.Millisecond, func() { fired <- struct{}{} }, t.Logf)
	}()

	require.NoError(t, os.WriteFile(other, []byte("x"), 0o644)) // not watched
	// A package upgrade: write a new file, rename it over the old one.
	tmp := kernel + ".dpkg-new"
	require.NoError(t, os.WriteFile(tmp, []byte("new"), 0o644))
	require.NoError(t, os.Rename(tmp, kernel))
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("no re-arm after the kernel image was replaced")
	}
	select {
	case <-fired:
		t.Fatal("re-armed twice for one upgrade")
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	require.NoError(t, <-done)
}
