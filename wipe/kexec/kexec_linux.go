package kexec

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotLoaded is returned by [Exec] when no kexec image is loaded.
var ErrNotLoaded = errors.New("no kexec image loaded")

// ErrInTest is returned by [Load], [Unload] and [Exec] in a test binary:
// no go test may replace the machine's kexec image or reboot it.
var ErrInTest = errors.New("refused in a test binary")

// Image is what [Load] loads.
type Image struct {
	Kernel  string // path of the kernel image (bzImage)
	Initrd  string // path of the initramfs; "" for none
	Cmdline string
}

// Load loads img with kexec_file_load(2), replacing any image loaded before.
func Load(img Image) error {
	if strings.IndexByte(img.Cmdline, 0) >= 0 {
		return errors.New("kexec_file_load: command line contains a NUL byte")
	}
	if testing.Testing() {
		return fmt.Errorf("kexec_file_load: %w", ErrInTest)
	}
	kf, err := os.Open(img.Kernel)
	if err != nil {
		return fmt.Errorf("kexec: open kernel: %w", err)
	}
	defer kf.Close()
	initrdFd, flags := -1, 0
	if img.Initrd != "" {
		f, err := os.Open(img.Initrd)
		if err != nil {
			return fmt.Errorf("kexec: open initramfs: %w", err)
		}
		defer f.Close()
		initrdFd = int(f.Fd())
	} else {
		flags |= unix.KEXEC_FILE_NO_INITRAMFS
	}
	err = unix.KexecFileLoad(int(kf.Fd()), initrdFd, img.Cmdline, flags)
	if err != nil {
		return fmt.Errorf("kexec_file_load(%s, %s) = %w%s", img.Kernel, img.Initrd, err, hint(err))
	}
	return nil
}

// hint says what a person can do about a kexec_file_load error.
func hint(err error) string {
	switch {
	case errors.Is(err, unix.ENOSYS):
		return " — this kernel was built without CONFIG_KEXEC_FILE"
	case errors.Is(err, unix.EPERM):
		return " — not root, or kernel.kexec_load_disabled=1 (it cannot be unset until reboot)"
	case errors.Is(err, unix.EKEYREJECTED), errors.Is(err, unix.EBADMSG), errors.Is(err, unix.ENOKEY):
		return " — the kernel is not signed by a key this kernel trusts (Secure Boot lockdown): use the distribution's signed kernel"
	case errors.Is(err, unix.ENOEXEC):
		return " — not a kernel image this kernel can load (want a bzImage for this architecture)"
	case errors.Is(err, unix.ETXTBSY):
		return " — the file is open for writing somewhere; close the writer first"
	case errors.Is(err, unix.EBUSY):
		return " — a kexec is in progress"
	}
	return ""
}

// Loaded reports whether a kexec image is loaded (/sys/kernel/kexec_loaded).
func Loaded() (bool, error) {
	return loaded("/sys/kernel/kexec_loaded")
}

func loaded(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("kexec: %w", err)
	}
	return strings.TrimSpace(string(b)) == "1", nil
}

// Unload unloads any loaded image.
func Unload() error {
	if testing.Testing() {
		return fmt.Errorf("kexec_file_load(KEXEC_FILE_UNLOAD): %w", ErrInTest)
	}
	err := unix.KexecFileLoad(-1, -1, "", unix.KEXEC_FILE_UNLOAD)
	if err != nil {
		return fmt.Errorf("kexec_file_load(KEXEC_FILE_UNLOAD) = %w", err)
	}
	return nil
}

// busyFor bounds how long [Exec] retries while the kernel's kexec lock is
// taken: a kexec_file_load in progress (a re-arm loading the next image)
// holds it, and reboot(LINUX_REBOOT_CMD_KEXEC) answers EBUSY meanwhile
// rather than wait (kernel/kexec_core.c, kernel_kexec: kexec_trylock).
const busyFor = 3 * time.Second

// Exec reboots into the loaded image at once: no sync, no unmount. While
// another kexec_file_load holds the kernel's kexec lock it retries, for up
// to busyFor. It returns only on failure.
func Exec() error {
	if testing.Testing() {
		return fmt.Errorf("reboot(LINUX_REBOOT_CMD_KEXEC): %w", ErrInTest)
	}
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_KEXEC)
	for deadline := time.Now().Add(busyFor); errors.Is(err, unix.EBUSY) && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
		err = unix.Reboot(unix.LINUX_REBOOT_CMD_KEXEC)
	}
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("reboot(LINUX_REBOOT_CMD_KEXEC): %w", ErrNotLoaded)
	}
	return fmt.Errorf("reboot(LINUX_REBOOT_CMD_KEXEC) = %w", err)
}
