// Command ramwipe-shutdown is ramwipe's systemd-shutdown hook, installed as
// /lib/systemd/system-shutdown/ramwipe. At the very end of every
// poweroff, reboot and halt — services stopped, file systems unmounted or
// read-only, dm-crypt devices removed — systemd-shutdown runs it with the
// verb as argv[1]. It loads the wipe image ramwiped staged (package
// wipe/shutdown) with ramwipe.action=<verb> and kexecs into it: the wipe
// image overwrites memory and then powers off, reboots or halts, as asked.
//
// It does nothing for `kexec` (the loaded kernel runs), with ramwipe.skip on
// the kernel command line, or when nothing is staged (ramwiped not armed,
// or shutdown_wipe = no). Whatever fails, it says so on the kernel log and
// exits 0: systemd-shutdown then finishes the shutdown as if ramwipe were
// not installed. It refuses to run unless PID 1 is systemd-shutdown, so
// running it by hand on a running system does nothing.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/wipe/kexec"
	"github.com/ramwipe/ramwipe/wipe/shutdown"
)

func main() {
	log := openLog()
	if len(os.Args) != 2 {
		fmt.Fprintln(log, "ramwipe-shutdown: usage: ramwipe-shutdown poweroff|reboot|halt|kexec (systemd-shutdown runs it)")
		os.Exit(2)
	}
	if why := notAtShutdown(readFile("/proc/1/comm")); why != "" {
		fmt.Fprintf(log, "ramwipe-shutdown: refusing: %s; systemd-shutdown runs this hook at the end of a shutdown\n", why)
		os.Exit(2)
	}
	verb := os.Args[1]
	img, err := shutdown.Plan(verb, readFile("/proc/cmdline"), shutdown.Dir)
	if err != nil {
		fmt.Fprintf(log, "ramwipe: shutdown wipe skipped: %v\n", err)
		return
	}
	unix.Sync() // systemd-shutdown did, but a hook running beside us may have written
	if err := kexec.Load(img); err != nil {
		fmt.Fprintf(log, "ramwipe: shutdown wipe failed, %s without it: %v\n", verb, err)
		return
	}
	fmt.Fprintf(log, "ramwipe: wiping memory, then %s\n", verb)
	err = kexec.Exec()
	fmt.Fprintf(log, "ramwipe: shutdown wipe failed, %s without it: kexec: %v\n", verb, err)
}

// notAtShutdown says why this is not the end of a shutdown, or "" if it
// is: PID 1 has become systemd-shutdown (its comm is cut to 15 bytes),
// which runs the hooks through a child of its own, "(sd-executor)".
func notAtShutdown(comm1 string) string {
	if c := strings.TrimSpace(comm1); c != "systemd-shutdow" {
		return fmt.Sprintf("PID 1 is %q, not systemd-shutdown", c)
	}
	return ""
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

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}
