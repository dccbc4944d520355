package main

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ramwipe/ramwipe/initramfs/archive"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// cryptModules are the lab kernel's modules a LUKS2 aes-xts volume on a
// loop device needs, in load order (xts wraps ecb(aes); aes is built in),
// and evdev for ramwiped's hotkey (the PS/2 keyboard driver is built in).
var cryptModules = []string{"loop", "dm-mod", "ecb", "xts", "dm-crypt", "evdev"}

// usbModules are those the USB scenarios need besides: the xHCI controller,
// USB keyboards (HID), USB sticks (usb-storage, SCSI disks) and ext4 on
// them, in dependency order (modinfo -F depends; crc-t10dif and
// crc64-rocksoft look up their crypto drivers when they load).
var usbModules = []string{
	"usb-common", "usbcore", "xhci-hcd", "xhci-pci", "hid", "usbhid", "hid-generic",
	"scsi_common", "scsi_mod", "usb-storage", "crct10dif_common", "crct10dif_generic",
	"crc-t10dif", "crc64", "crc64_rocksoft_generic", "crc64-rocksoft", "t10-pi", "sd_mod",
	"crc16", "mbcache", "jbd2", "crc32c_generic", "ext4",
}

// cryptGuest returns the files the guest needs to open a LUKS2 volume
// (Debian's cryptsetup with its libraries, the modules — and with usb those
// for the USB scenarios —, the volume and its passphrase) and the volume
// key, fresh for every call.
func cryptGuest(kernelDir, tmp string, usb bool) ([]archive.File, []byte, error) {
	var files []archive.File
	add := func(name, src string, mode uint64) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		files = append(files, archive.File{Name: name, Data: b, Mode: mode})
		return nil
	}
	mods := cryptModules
	if usb {
		mods = append(slices.Clone(usbModules), cryptModules...)
	}
	paths, err := findModules(kernelDir, mods)
	if err != nil {
		return nil, nil, err
	}
	var order []string
	for i, m := range mods {
		if err := add("lab/modules/"+m+".ko", paths[i], 0o644); err != nil {
			return nil, nil, err
		}
		order = append(order, m+".ko")
	}
	files = append(files, archive.File{Name: "lab/modules/order", Data: []byte(strings.Join(order, " ") + "\n"), Mode: 0o644})

	bin, err := exec.LookPath("cryptsetup")
	if err != nil {
		return nil, nil, fmt.Errorf("cryptsetup: %w (apt-get install cryptsetup-bin)", err)
	}
	more, err := withLibs("sbin/cryptsetup", bin)
	if err != nil {
		return nil, nil, err
	}
	files = append(files, more...)

	key := make([]byte, 64) // aes-xts-plain64 with two AES-256 keys
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	img, err := luksImage(tmp, key)
	if err != nil {
		return nil, nil, err
	}
	files = append(files,
		archive.File{Name: "lab/crypt/luks.img", Data: img, Mode: 0o600},
		archive.File{Name: "lab/crypt/pass", Data: []byte(labPassphrase), Mode: 0o600})
	return files, key, nil
}

const labPassphrase = "ramwipe-lab-passphrase"

// luksImage formats an 8 MiB LUKS2 volume whose volume key is key.
func luksImage(tmp string, key []byte) ([]byte, error) {
	dir, err := os.MkdirTemp(tmp, "luks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "luks.img")
	if err := lab.FormatLUKS(img, 8<<20, key, labPassphrase); err != nil {
		return nil, err
	}
	return os.ReadFile(img)
}

// withLibs returns the dynamically linked program bin as the guest's
// file name, with its shared libraries and loader where Debian has them.
func withLibs(name, bin string) ([]archive.File, error) {
	libs, err := sharedLibs(bin)
	if err != nil {
		return nil, err
	}
	var files []archive.File
	for i, src := range append([]string{bin}, libs...) {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		dst := name
		if i > 0 {
			dst = "lib/x86_64-linux-gnu/" + filepath.Base(src)
			if strings.Contains(src, "ld-linux") {
				dst = "lib64/" + filepath.Base(src)
			}
		}
		files = append(files, archive.File{Name: dst, Data: b, Mode: 0o755})
	}
	return files, nil
}

var lddRE = regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x`)

// sharedLibs lists the shared libraries bin loads, and its loader (ldd).
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, m := range lddRE.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s: no libraries in %q", bin, out)
	}
	return libs, nil
}

// findModules finds each named module (without .ko) in the unpacked kernel
// package, at whatever depth below lib/modules it sits.
func findModules(kernelDir string, names []string) ([]string, error) {
	found := map[string][]string{}
	err := filepath.WalkDir(filepath.Join(kernelDir, "lib/modules"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := strings.CutSuffix(d.Name(), ".ko"); ok && !d.IsDir() {
			found[name] = append(found[name], path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(names))
	for i, n := range names {
		if len(found[n]) != 1 {
			return nil, fmt.Errorf("module %s: found %d in %s (want 1)", n, len(found[n]), kernelDir)
		}
		paths[i] = found[n][0]
	}
	return paths, nil
}
