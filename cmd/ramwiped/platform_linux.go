package main

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/wipe"
	"github.com/ramwipe/ramwipe/wipe/kexec"
	"github.com/ramwipe/ramwipe/wipe/shutdown"
)

// linux is the real Platform. Only run builds it, and only with --armed
// does the daemon call the methods that change the machine.
type linux struct {
	kmsg   atomic.Pointer[os.File] // /dev/kmsg, opened by Mark
	logf   func(string, ...any)
	locked bool // LockMemory succeeded once
}

var _ Platform = (*linux)(nil)

func (*linux) RunningKernel() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	p := "/boot/vmlinuz-" + unix.ByteSliceToString(u.Release[:])
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func (*linux) Consoles() []string {
	b, _ := os.ReadFile("/proc/cmdline")
	var out []string
	for _, f := range strings.Fields(string(b)) {
		if strings.HasPrefix(f, "console=") {
			out = append(out, f)
		}
	}
	return out
}

func (*linux) LoadKexec(img kexec.Image) error      { return kexec.Load(img) }
func (*linux) UnloadKexec() error                   { return kexec.Unload() }
func (*linux) KexecLoaded() (bool, error)           { return kexec.Loaded() }
func (*linux) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (*linux) StageShutdown(img kexec.Image) error { return shutdown.Stage(shutdown.Dir, img) }
func (*linux) UnstageShutdown() error              { return shutdown.Unstage(shutdown.Dir) }

// LockMemory locks ramwiped in RAM at its first arming (see lockMemory);
// a re-arm finds it locked still: MCL_FUTURE locks every mapping made
// since, and nothing unlocks.
func (l *linux) LockMemory() error {
	if l.locked {
		return nil
	}
	if err := lockMemory(l.logf); err != nil {
		return err
	}
	l.locked = true
	return nil
}

func (*linux) LockKexec() error {
	return os.WriteFile("/proc/sys/kernel/kexec_load_disabled", []byte("1"), 0)
}

func (*linux) KeyEraser() (wipe.KeyEraser, []string, error) {
	return openKeyEraser()
}

// KeyringSweeper opens /proc/keys now. What the sweep does goes to the
// kernel log, as the panic marks do: by then the root disk may be
// suspended, and the journal with it.
func (l *linux) KeyringSweeper() (wipe.KeyringSweeper, error) {
	return openKeyringSweeper(l.kmsgf)
}

// kmsgf writes one line to /dev/kmsg at KERN_NOTICE, if Mark opened it:
// memory only, never a disk.
func (l *linux) kmsgf(format string, args ...any) {
	if f := l.kmsg.Load(); f != nil {
		_, _ = fmt.Fprintf(f, "<5>ramwipe: "+format+"\n", args...)
	}
}

func (*linux) Machine() wipe.Machine { return wipe.Real() }

// Mark opens /dev/kmsg now; each mark is one write to it at KERN_WARNING
// ("ramwipe: panic step <step>" for the sequence's steps, "ramwipe: panic
// <text>" for any other), which never touches a disk and shows on the
// console at loglevel 5 and up.
func (l *linux) Mark() (func(string), error) {
	f := l.kmsg.Load()
	if f == nil {
		var err error
		if f, err = os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err != nil {
			return nil, err
		}
		l.kmsg.Store(f)
	}
	msgs := map[string][]byte{}
	for _, s := range []string{wipe.StepTrigger, wipe.StepKeysDone, wipe.StepKeyring, wipe.StepKexec, wipe.StepPowerOff, wipe.StepAllFailed} {
		msgs[s] = []byte("<4>ramwipe: panic step " + s + "\n")
	}
	return func(step string) {
		if m, ok := msgs[step]; ok {
			_, _ = f.Write(m)
			return
		}
		// Any other mark comes after the keys are erased (the daemon's
		// "request sent … before keys-wiped"): formatted then.
		_, _ = f.Write([]byte("<4>ramwipe: panic " + step + "\n"))
	}, nil
}
