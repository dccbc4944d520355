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
)

// setupUSB finds the two USB sticks the lab attaches with lab.usb=1 (ext4
// file systems labelled LABBOOT and LABSTICK) and mounts them as a system
// booted from a USB stick has them: LABBOOT at /boot (ramwiped's kernel
// image is read from it, and it is the boot medium ramwiped watches), the
// unrelated stick at /media/stick.
func setupUSB() error {
	want := map[string]string{"LABBOOT": "/boot", "LABSTICK": "/media/stick"}
	found := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for len(found) < len(want) {
		disks, _ := filepath.Glob("/sys/block/sd*")
		for _, d := range disks {
			name := filepath.Base(d)
			if label := ext4Label("/dev/" + name); want[label] != "" {
				found[label] = name
			}
		}
		if len(found) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("usb: found %v of the lab's sticks after 30s", found)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for label, dir := range want {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+found[label], dir, "ext4", 0, ""); err != nil {
			return fmt.Errorf("mount /dev/%s (%s) on %s: %w", found[label], label, dir, err)
		}
	}
	fmt.Printf("LAB USB boot=%s stick=%s\n", found["LABBOOT"], found["LABSTICK"])
	return nil
}

// ext4Label reads the volume label from an ext4 superblock (offset 1024,
// s_magic at 0x38, s_volume_name at 0x78), or "" if dev has none.
func ext4Label(dev string) string {
	f, err := os.Open(dev)
	if err != nil {
		return ""
	}
	defer f.Close()
	sb := make([]byte, 256)
	if _, err := f.ReadAt(sb, 1024); err != nil || sb[0x38] != 0x53 || sb[0x39] != 0xef {
		return ""
	}
	label, _, _ := bytes.Cut(sb[0x78:0x88], []byte{0})
	return string(label)
}

// blockGone tells whether /sys/block/NAME has gone (the kernel processed
// the removal, so ramwiped has had its uevent).
func blockGone(name string) bool {
	_, err := os.Stat("/sys/block/" + strings.TrimPrefix(name, "/dev/"))
	return os.IsNotExist(err)
}

// usbLearn runs `ramwipe usb learn --write` on /lab/ramwipe.conf, as the
// owner of a real host would before turning usb_insert on, and copies its
// output and the config it wrote to the console ("LAB LEARN| ...").
func usbLearn() error {
	out, err := exec.Command("/sbin/ramwipe", "usb", "learn", "--write", "--config", "/lab/ramwipe.conf").CombinedOutput()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Printf("LAB LEARN| %s\n", l)
	}
	if err != nil {
		return fmt.Errorf("ramwipe usb learn --write: %w", err)
	}
	conf, err := os.ReadFile("/lab/ramwipe.conf")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(conf)), "\n") {
		fmt.Printf("LAB CONF| %s\n", l)
	}
	return nil
}
