// Package shutdown hands the wipe from ramwiped to the end of every
// shutdown: ramwiped stages the wipe image it armed with ([Stage]), and the
// systemd-shutdown hook (cmd/ramwipe-shutdown) loads it again with the
// action the user asked for ([Plan]) and kexecs into it.
//
// At the end of a shutdown systemd-shutdown has stopped every service
// (ramwiped too), unmounted the file systems or remounted / read-only
// (/boot, often a partition of its own, is gone) and removed the dm-crypt
// devices; /run is still there. So the image is staged under /run: a copy
// of the kernel, of the wipe initramfs and the command line without its
// ramwipe.action=, the one thing that differs per shutdown.
//
// At the kexec verb the hook wipes too, and the wipe image then reboots
// through the firmware ([Plan] says why).
//
// The staged copies cost their size in RAM (a kernel and the wipe image:
// about 10 MiB) for as long as the machine runs.
package shutdown

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/kexec"
)

// Dir is where ramwiped stages the image; the service's RuntimeDirectory
// (/run/ramwipe) is kept when it stops, for the hook.
const Dir = "/run/ramwipe/shutdown"

// The staged files in Dir.
const (
	kernelFile  = "vmlinuz"
	initrdFile  = "wipe.cpio"
	cmdlineFile = "cmdline"
)

// Actions maps systemd-shutdown's verbs to what the wipe image does after
// the wipe. kexec reboots: the hook loads the wipe image over whatever was
// loaded (see [Plan]).
var Actions = map[string]initramfs.Action{
	"poweroff": initramfs.PowerOff,
	"reboot":   initramfs.Reboot,
	"halt":     initramfs.Halt,
	"kexec":    initramfs.Reboot,
}

// Stage copies img's kernel and initramfs into dir and writes its command
// line there without any ramwipe.action= parameter. It replaces what was
// staged before only once everything is written, so a failed Stage leaves
// the previous image, or none.
func Stage(dir string, img kexec.Image) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".shutdown-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyFile(filepath.Join(tmp, kernelFile), img.Kernel); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(tmp, initrdFile), img.Initrd); err != nil {
		return err
	}
	var keep []string
	for _, f := range strings.Fields(img.Cmdline) {
		if !strings.HasPrefix(f, initramfs.ActionParam) {
			keep = append(keep, f)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, cmdlineFile), []byte(strings.Join(keep, " ")+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// Unstage removes the staged image: the hook then does nothing.
func Unstage(dir string) error { return os.RemoveAll(dir) }

// ErrSkip is returned by Plan when the wipe is not to run at this shutdown;
// the error says why.
var ErrSkip = errors.New("no shutdown wipe")

// Plan returns the image the hook loads for verb (systemd-shutdown's
// argv[1]: poweroff, reboot, halt or kexec), given the running kernel's
// command line and the staging directory: the staged image with the verb's
// action from [Actions]. It returns an error wrapping ErrSkip when no wipe
// is due:
//
//   - ramwipe.skip on the command line (this boot only; the same parameter,
//     read the same way, makes the wipe image skip its wipe);
//   - nothing staged: ramwiped was not armed, or shutdown_wipe = no.
//
// kexec is wiped too, and then reboots. ramwiped keeps its wipe image in
// the kernel's one kexec slot, so `systemctl kexec` (which loads a kernel
// only if none is loaded) and, from systemd 255 on, every `systemctl reboot`
// (which kexecs whenever an image is loaded) would otherwise boot that image
// with the action it was armed with, poweroff. A kernel the user loaded
// with `kexec -l` is replaced the same way; ramwipe.skip keeps it.
func Plan(verb, procCmdline, dir string) (kexec.Image, error) {
	action, ok := Actions[verb]
	if !ok {
		return kexec.Image{}, fmt.Errorf("%w: unknown verb %q (want poweroff, reboot, halt or kexec)", ErrSkip, verb)
	}
	// A bad ramwipe.* parameter on the running kernel is not this hook's
	// business; ParseCmdline still reads every good one.
	if p, _ := initramfs.ParseCmdline(procCmdline); p.Skip {
		return kexec.Image{}, fmt.Errorf("%w: ramwipe.skip on the kernel command line", ErrSkip)
	}
	cmdline, err := os.ReadFile(filepath.Join(dir, cmdlineFile))
	if errors.Is(err, os.ErrNotExist) {
		return kexec.Image{}, fmt.Errorf("%w: nothing staged in %s (ramwiped was not armed, or shutdown_wipe = no)", ErrSkip, dir)
	}
	if err != nil {
		return kexec.Image{}, err
	}
	return kexec.Image{
		Kernel:  filepath.Join(dir, kernelFile),
		Initrd:  filepath.Join(dir, initrdFile),
		Cmdline: strings.TrimSpace(string(cmdline)) + " " + action.Param(),
	}, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("stage %s: %w", src, err)
	}
	return out.Close()
}
