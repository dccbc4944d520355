package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchFiles calls changed, once things are quiet for settle, after any of
// paths is written, replaced, created or removed (a kernel package upgrade,
// a ramwipe upgrade). It watches the directories with inotify: no polling.
// It returns when ctx ends.
func watchFiles(ctx context.Context, paths []string, settle time.Duration, changed func(), logf func(string, ...any)) error {
	w, err := newFileWatch(paths)
	if err != nil {
		return err
	}
	return w.run(ctx, settle, changed, logf)
}

// fileWatch is an inotify watch on the directories of some files.
type fileWatch struct {
	f     *os.File
	names map[string]bool
	wds   map[int32]string
}

// newFileWatch sets the watch up: changes from now on are seen.
func newFileWatch(paths []string) (*fileWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads wait in the runtime's poller
	names := map[string]bool{}
	dirs := map[string]bool{}
	for _, p := range paths {
		names[p] = true
		dirs[filepath.Dir(p)] = true
	}
	wds := map[int32]string{}
	for d := range dirs {
		wd, err := unix.InotifyAddWatch(fd, d, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_ATTRIB)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("inotify_add_watch(%s): %w", d, err)
		}
		wds[int32(wd)] = d
	}
	return &fileWatch{f: f, names: names, wds: wds}, nil
}

// run calls changed as watchFiles says, until ctx ends; it closes the watch.
func (w *fileWatch) run(ctx context.Context, settle time.Duration, changed func(), logf func(string, ...any)) error {
	f, names, wds := w.f, w.names, w.wds
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	var timer *time.Timer
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if timer != nil {
				timer.Stop()
			}
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read inotify: %w", err)
		}
		hit := ""
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break
			}
			name := unix.ByteSliceToString(buf[off+unix.SizeofInotifyEvent : end])
			if p := filepath.Join(wds[ev.Wd], name); names[p] {
				hit = p
			}
			off = end
		}
		if hit == "" {
			continue
		}
		logf("%s changed; re-arming in %v", hit, settle)
		if timer == nil {
			timer = time.AfterFunc(settle, changed)
		} else {
			timer.Reset(settle)
		}
	}
}
