// Command ramwipe-shutdown is ramwipe's systemd-shutdown hook, installed as
// /usr/lib/systemd/system-shutdown/ramwipe. At the very end of every
// poweroff, reboot, halt and kexec — services stopped, file systems
// unmounted or read-only, dm-crypt devices removed — systemd-shutdown runs
// it with the verb as argv[1]. It loads the wipe image ramwiped staged
// (package wipe/shutdown) with the verb's ramwipe.action= and kexecs into
// it: the wipe image overwrites memory and then powers off, reboots or
// halts, as asked (kexec reboots: see shutdown.Plan).
//
// With ramwiped's lock_kexec no image can be loaded any more: for poweroff
// and halt it then boots the wipe image loaded at boot, which powers off;
// reboot goes on without a wipe.
//
// It does nothing with ramwipe.skip on the kernel command line, or when
// nothing is staged (ramwiped not armed, or shutdown_wipe = no). Whatever
// fails, it says so on the kernel log and exits 0: systemd-shutdown then
// finishes the shutdown as if ramwipe were not installed. It refuses to run
// unless PID 1 is systemd-shutdown and started it, so running it by hand on
// a running system does nothing; in a test binary package kexec refuses too.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/kexec"
	"github.com/ramwipe/ramwipe/wipe/shutdown"
)

func main() {
	os.Exit(run(os.Args[1:], linux{}, shutdown.Dir, openLog()))
}

// system is what the hook needs of the machine; tests fake it.
type system interface {
	ReadFile(name string) ([]byte, error)
	Getppid() int
	Sync()
	Load(img kexec.Image) error
	Exec() error
}

// linux is the real system.
type linux struct{}

func (linux) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }
func (linux) Getppid() int                         { return os.Getppid() }
func (linux) Sync()                                { unix.Sync() }
func (linux) Load(img kexec.Image) error           { return kexec.Load(img) }
func (linux) Exec() error                          { return kexec.Exec() }

// run is the hook: args are its arguments (the verb), dir the staging
// directory, log the kernel log. It returns the exit status: 2 when it
// refuses to run, else 0, also when the wipe fails.
func run(args []string, sys system, dir string, log io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(log, "ramwipe-shutdown: usage: ramwipe-shutdown poweroff|reboot|halt|kexec (systemd-shutdown runs it)")
		return 2
	}
	if why := notAtShutdown(sys); why != "" {
		fmt.Fprintf(log, "ramwipe-shutdown: refusing: %s; systemd-shutdown runs this hook at the end of a shutdown\n", why)
		return 2
	}
	verb := args[0]
	cmdline, _ := sys.ReadFile("/proc/cmdline")
	img, err := shutdown.Plan(verb, string(cmdline), dir)
	if err != nil {
		fmt.Fprintf(log, "ramwipe: shutdown wipe skipped: %v\n", err)
		return 0
	}
	sys.Sync() // systemd-shutdown did, but a hook running beside us may have written
	then := shutdown.Actions[verb]
	if err := sys.Load(img); err != nil {
		if !locked(sys) || (verb != "poweroff" && verb != "halt") {
			fmt.Fprintf(log, "ramwipe: shutdown wipe failed, %s without it: %v\n", verb, err)
			return 0
		}
		// lock_kexec: nothing can be loaded, and nothing could replace the
		// wipe image ramwiped loaded before it locked; that one powers off.
		fmt.Fprintf(log, "ramwipe: %v; kexec is locked, so the wipe image loaded at boot runs\n", err)
		then = initramfs.PowerOff
	}
	// The verb says which shutdown systemd ran: from systemd 255 on, a
	// systemctl reboot is a kexec whenever an image is loaded.
	fmt.Fprintf(log, "ramwipe: wiping memory, then %s (systemd-shutdown %s)\n", then, verb)
	err = sys.Exec()
	fmt.Fprintf(log, "ramwipe: shutdown wipe failed, %s without it: %v\n", verb, err)
	return 0
}

// locked reports whether kexec is locked (kernel.kexec_load_disabled=1, as
// ramwiped's lock_kexec sets it) with an image loaded.
func locked(sys system) bool {
	disabled, _ := sys.ReadFile("/proc/sys/kernel/kexec_load_disabled")
	loaded, _ := sys.ReadFile("/sys/kernel/kexec_loaded")
	return strings.TrimSpace(string(disabled)) == "1" && strings.TrimSpace(string(loaded)) == "1"
}

// notAtShutdown says why this is not the end of a shutdown, or "" if it
// is: PID 1 has become systemd-shutdown (its comm is cut to 15 bytes), and
// it started this hook, through a child of its own that runs the hooks,
// "(sd-executor)".
func notAtShutdown(sys system) string {
	comm, _ := sys.ReadFile("/proc/1/comm")
	if c := strings.TrimSpace(string(comm)); c != "systemd-shutdow" {
		return fmt.Sprintf("PID 1 is %q, not systemd-shutdown", c)
	}
	ppid := sys.Getppid()
	if ppid == 1 {
		return ""
	}
	stat, err := sys.ReadFile(fmt.Sprintf("/proc/%d/stat", ppid))
	if err != nil {
		return fmt.Sprintf("parent process %d: %v", ppid, err)
	}
	gp, err := statPPid(string(stat))
	if err != nil {
		return fmt.Sprintf("parent process %d: %v", ppid, err)
	}
	if gp != 1 {
		return fmt.Sprintf("parent process %d was started by %d, not by PID 1", ppid, gp)
	}
	return ""
}

// statPPid returns the parent pid from the contents of /proc/PID/stat:
// "pid (comm) state ppid …", where comm may hold spaces and parentheses.
func statPPid(stat string) (int, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no ')'", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc stat %q: too short", stat)
	}
	return strconv.Atoi(f[1])
}

// openLog is the kernel log, which is all that still works this late (the
// journal is stopped), or stderr if it cannot be opened.
func openLog() io.Writer {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return os.Stderr
	}
	return kmsgWriter{f}
}

// kmsgWriter writes each line as one record at KERN_WARNING, so that it
// shows on the console.
type kmsgWriter struct{ f *os.File }

func (w kmsgWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if _, err := w.f.WriteString("<4>" + line + "\n"); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
