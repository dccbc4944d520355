package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/qemu-tests/canary"
)

// diskPages is how many canary pages are written through the crypt device.
const diskPages = 512

// loadModules loads the modules listed in /lab/modules/order, if any: the
// lab kernel is Debian's, with dm-crypt, USB and ext4 as modules, and the
// guest has no modprobe. A name written "?NAME.ko" is a driver for a CPU
// feature the emulated CPU may lack: ENODEV from it is not an error.
func loadModules() error {
	order, err := os.ReadFile("/lab/modules/order")
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(order)) {
		name, optional := strings.CutPrefix(name, "?")
		f, err := os.Open(filepath.Join("/lab/modules", name))
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		switch {
		case err == nil, err == unix.EEXIST:
		case optional && err == unix.ENODEV:
			fmt.Printf("lab: %s: no such CPU feature here; skipped\n", name)
		default:
			return fmt.Errorf("finit_module(%s): %w", name, err)
		}
	}
	return nil
}

// setupCrypt opens the LUKS2 volume /lab/crypt/luks.img with Debian's
// cryptsetup as /dev/mapper/labcrypt, and writes canary pages through it.
//
// The agent attaches the image to a loop device itself, so that cryptsetup
// opens a block device, as on a disk: had cryptsetup attached it, the loop
// device would hold the image file cryptsetup opened, and with it
// cryptsetup's credentials and their thread keyring, in which cryptsetup
// leaves the volume key (a logon key no other process may search or write)
// for as long as the loop device lives.
func setupCrypt(nonce uint32) (uint64, error) {
	_ = os.Mkdir("/run", 0o755) // as on a real system: others may reach sockets below it
	_ = os.MkdirAll("/run/cryptsetup", 0o700)
	dev, err := attachLoop("/lab/crypt/luks.img")
	if err != nil {
		return 0, err
	}
	cmd := exec.Command("/sbin/cryptsetup", "open", "--type", "luks2", "--key-file", "/lab/crypt/pass", dev, "labcrypt")
	cmd.Env = []string{"DM_DISABLE_UDEV=1", "PATH=/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("cryptsetup open: %v: %s", err, bytes.TrimSpace(out))
	}
	f, err := os.OpenFile("/dev/mapper/labcrypt", os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	page := make([]byte, canary.PageSize)
	for i := range uint64(diskPages) {
		canary.Fill(page, nonce, canary.Disk, i)
		if _, err := f.Write(page); err != nil {
			return 0, fmt.Errorf("write /dev/mapper/labcrypt: %w", err)
		}
	}
	clear(page)
	if err := f.Sync(); err != nil {
		return 0, err
	}
	fmt.Println("LAB CRYPT open /dev/mapper/labcrypt")
	return diskPages, nil
}

// attachLoop attaches file to a free loop device and returns its path.
func attachLoop(file string) (string, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer ctl.Close()
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		return "", fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
	}
	dev := fmt.Sprintf("/dev/loop%d", n)
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var l *os.File
	for range 50 { // devtmpfs may add the node a moment later
		if l, err = os.OpenFile(dev, os.O_RDWR, 0); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return "", err
	}
	defer l.Close()
	if err := unix.IoctlLoopConfigure(int(l.Fd()), &unix.LoopConfig{Fd: uint32(f.Fd())}); err != nil {
		return "", fmt.Errorf("LOOP_CONFIGURE %s: %w", dev, err)
	}
	return dev, nil
}
