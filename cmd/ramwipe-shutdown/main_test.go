package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/wipe/kexec"
	"github.com/ramwipe/ramwipe/wipe/shutdown"
)

// fakeSystem is the machine at the end of a shutdown: PID 1 is
// systemd-shutdown, the hook's parent is its (sd-executor) child.
type fakeSystem struct {
	files   map[string]string
	ppid    int
	loadErr error
	execErr error
	calls   []string
	loaded  kexec.Image
}

func atShutdown(cmdline string) *fakeSystem {
	return &fakeSystem{
		files: map[string]string{
			"/proc/1/comm":   "systemd-shutdow\n",
			"/proc/412/stat": "412 ((sd-executor)) S 1 1 1 0 -1 4194560 0 0 0 0",
			"/proc/cmdline":  cmdline + "\n",
			"/proc/777/stat": "777 (bash) S 700 777 700 34816 777 4194304",
			"/proc/999/stat": "garbage",
		},
		ppid:    412,
		execErr: errors.New("reboot(LINUX_REBOOT_CMD_KEXEC) = operation not permitted"),
	}
}

// lockKexec is ramwiped's lock_kexec: its image loaded, loading refused.
func lockKexec(f *fakeSystem) {
	f.files["/proc/sys/kernel/kexec_load_disabled"] = "1\n"
	f.files["/sys/kernel/kexec_loaded"] = "1\n"
	f.loadErr = errors.New("kexec_file_load: operation not permitted")
}

func (f *fakeSystem) ReadFile(name string) ([]byte, error) {
	s, ok := f.files[name]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(s), nil
}
func (f *fakeSystem) Getppid() int { return f.ppid }
func (f *fakeSystem) Sync()        { f.calls = append(f.calls, "sync") }
func (f *fakeSystem) Load(img kexec.Image) error {
	f.calls = append(f.calls, "load")
	f.loaded = img
	return f.loadErr
}
func (f *fakeSystem) Exec() error { f.calls = append(f.calls, "exec"); return f.execErr }

func stagedDir(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	img := kexec.Image{Kernel: filepath.Join(src, "vmlinuz"), Initrd: filepath.Join(src, "wipe.cpio"),
		Cmdline: "console=tty0 memtest=1 init_on_free=1 panic=5 loglevel=4 ramwipe.action=poweroff"}
	require.NoError(t, os.WriteFile(img.Kernel, []byte("k"), 0o600))
	require.NoError(t, os.WriteFile(img.Initrd, []byte("i"), 0o600))
	dir := filepath.Join(t.TempDir(), "shutdown")
	require.NoError(t, shutdown.Stage(dir, img))
	return dir
}

func TestRun(t *testing.T) {
	dir := stagedDir(t)
	tests := []struct {
		name      string
		args      []string
		sys       func(*fakeSystem)
		dir       string
		wantCode  int
		wantCalls []string
		wantLog   string
		wantCmd   string // the loaded image's command line
	}{
		{name: "poweroff", args: []string{"poweroff"}, wantCalls: []string{"sync", "load", "exec"},
			wantLog: "wiping memory, then poweroff", wantCmd: "ramwipe.action=poweroff"},
		{name: "reboot, hook started by PID 1 itself", args: []string{"reboot"}, sys: func(f *fakeSystem) { f.ppid = 1 },
			wantCalls: []string{"sync", "load", "exec"}, wantLog: "then reboot", wantCmd: "ramwipe.action=reboot"},
		{name: "kexec wipes and reboots", args: []string{"kexec"}, wantCalls: []string{"sync", "load", "exec"},
			wantLog: "then reboot (systemd-shutdown kexec)", wantCmd: "ramwipe.action=reboot"},
		{name: "kexec fails: logged, exit 0", args: []string{"halt"},
			wantCalls: []string{"sync", "load", "exec"}, wantLog: "shutdown wipe failed, halt without it: reboot(LINUX_REBOOT_CMD_KEXEC)"},
		{name: "load fails: no exec", args: []string{"poweroff"}, sys: func(f *fakeSystem) { f.loadErr = errors.New("kexec_file_load: bad") },
			wantCalls: []string{"sync", "load"}, wantLog: "shutdown wipe failed, poweroff without it: kexec_file_load: bad"},
		{name: "lock_kexec: poweroff boots the image loaded at boot", args: []string{"poweroff"}, sys: lockKexec,
			wantCalls: []string{"sync", "load", "exec"}, wantLog: "kexec is locked, so the wipe image loaded at boot runs"},
		{name: "lock_kexec: halt powers off", args: []string{"halt"}, sys: lockKexec,
			wantCalls: []string{"sync", "load", "exec"}, wantLog: "wiping memory, then poweroff"},
		{name: "lock_kexec: reboot goes on unwiped", args: []string{"reboot"}, sys: lockKexec,
			wantCalls: []string{"sync", "load"}, wantLog: "shutdown wipe failed, reboot without it: kexec_file_load: operation not permitted"},
		{name: "locked, nothing loaded", args: []string{"poweroff"}, sys: func(f *fakeSystem) { lockKexec(f); f.files["/sys/kernel/kexec_loaded"] = "0\n" },
			wantCalls: []string{"sync", "load"}, wantLog: "shutdown wipe failed, poweroff without it"},
		{name: "ramwipe.skip", args: []string{"poweroff"}, sys: func(f *fakeSystem) { f.files["/proc/cmdline"] = "root=/dev/sda1 ramwipe.skip" },
			wantLog: "skipped: no shutdown wipe: ramwipe.skip"},
		{name: "nothing staged", args: []string{"reboot"}, dir: "/nonexistent/shutdown", wantLog: "nothing staged"},
		{name: "unknown verb", args: []string{"suspend"}, wantLog: `unknown verb "suspend"`},
		{name: "no verb", args: nil, wantCode: 2, wantLog: "usage"},
		{name: "running system", args: []string{"poweroff"}, sys: func(f *fakeSystem) { f.files["/proc/1/comm"] = "systemd\n" },
			wantCode: 2, wantLog: `refusing: PID 1 is "systemd"`},
		{name: "no /proc/1/comm", args: []string{"poweroff"}, sys: func(f *fakeSystem) { delete(f.files, "/proc/1/comm") },
			wantCode: 2, wantLog: `PID 1 is ""`},
		{name: "run from a shell during the shutdown", args: []string{"poweroff"}, sys: func(f *fakeSystem) { f.ppid = 777 },
			wantCode: 2, wantLog: "parent process 777 was started by 700, not by PID 1"},
		{name: "parent gone", args: []string{"poweroff"}, sys: func(f *fakeSystem) { f.ppid = 555 },
			wantCode: 2, wantLog: "parent process 555:"},
		{name: "parent's stat unreadable", args: []string{"poweroff"}, sys: func(f *fakeSystem) { f.ppid = 999 },
			wantCode: 2, wantLog: "no ')'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := atShutdown("BOOT_IMAGE=/vmlinuz root=/dev/mapper/root ro quiet")
			if tt.sys != nil {
				tt.sys(f)
			}
			d := dir
			if tt.dir != "" {
				d = tt.dir
			}
			var log strings.Builder
			code := run(tt.args, f, d, &log)
			assert.Equal(t, tt.wantCode, code, "run(%q) exit status; log %q", tt.args, log.String())
			assert.Equal(t, tt.wantCalls, f.calls, "run(%q)", tt.args)
			assert.Contains(t, log.String(), tt.wantLog, "run(%q)", tt.args)
			if tt.wantCmd != "" {
				assert.True(t, strings.HasSuffix(f.loaded.Cmdline, " "+tt.wantCmd), "run(%q) loaded %q, want it to end in %q", tt.args, f.loaded.Cmdline, tt.wantCmd)
				assert.Equal(t, 1, strings.Count(f.loaded.Cmdline, "ramwipe.action="), "one action: %q", f.loaded.Cmdline)
				assert.Equal(t, filepath.Join(dir, "vmlinuz"), f.loaded.Kernel, "the staged copy")
			}
		})
	}
}

func TestStatPPid(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{in: "412 ((sd-executor)) S 1 1 1 0", want: 1},
		{in: "9 (a b) c) R 42 9 9", want: 42},
		{in: "9 (x) R", wantErr: true},
		{in: "9 (x) R abc", wantErr: true},
		{in: "", wantErr: true},
	} {
		got, err := statPPid(tt.in)
		if tt.wantErr {
			assert.Error(t, err, "statPPid(%q)", tt.in)
			continue
		}
		require.NoError(t, err, "statPPid(%q)", tt.in)
		assert.Equal(t, tt.want, got, "statPPid(%q)", tt.in)
	}
}

// TestRealSystemRefusesInTest: the real seam, in a test binary, neither
// loads nor reboots, and this process is no shutdown hook.
func TestRealSystemRefusesInTest(t *testing.T) {
	assert.ErrorIs(t, linux{}.Load(kexec.Image{Kernel: "/nonexistent"}), kexec.ErrInTest)
	assert.ErrorIs(t, linux{}.Exec(), kexec.ErrInTest)
	var log strings.Builder
	assert.Equal(t, 2, run([]string{"poweroff"}, linux{}, t.TempDir(), &log))
	assert.Contains(t, log.String(), "refusing")
}
