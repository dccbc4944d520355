package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ramwipe/ramwipe/initramfs/archive"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// cryptModules are the modules a LUKS2 aes-xts volume on a loop device
// needs, and evdev for ramwiped's hotkey (the PS/2 keyboard driver is built
// in); the lab loads their dependencies first, from each module's modinfo
// (see moduleTree.loadOrder), so that any Debian kernel works. A name with
// '?' is a crypto driver that is loaded if the kernel has it as a module:
// dm-crypt asks the crypto API for "xts(aes)" by name, and the guest has
// no modprobe to load one on demand.
var cryptModules = []string{"?aes_generic", "?aesni_intel", "loop", "dm_mod", "ecb", "xts", "dm_crypt", "evdev"}

// usbModules are those the USB scenarios need besides: the xHCI controller,
// USB keyboards (HID), USB sticks (usb-storage, SCSI disks) and ext4 on
// them, with the crypto drivers that crc-t10dif, crc64-rocksoft and ext4
// look up by name when they load.
var usbModules = []string{
	"xhci_pci", "usbhid", "hid_generic",
	"?crct10dif_generic", "?crct10dif_pclmul", "?crc64_rocksoft_generic", "?crc32c_generic", "?crc32c_intel",
	"usb_storage", "sd_mod", "ext4",
}

// cryptGuest returns the files the guest needs to open a LUKS2 volume
// (Debian's cryptsetup with its libraries, the modules — and with usb those
// for the USB scenarios —, the volume and its passphrase) and the volume
// key, fresh for every call.
func cryptGuest(kernelDir, tmp string, usb bool) ([]archive.File, []byte, error) {
	var files []archive.File
	mods := cryptModules
	if usb {
		mods = append(slices.Clone(usbModules), cryptModules...)
	}
	tree, err := findModuleTree(kernelDir)
	if err != nil {
		return nil, nil, err
	}
	names, images, err := tree.loadOrder(mods)
	if err != nil {
		return nil, nil, err
	}
	var order []string
	for i, m := range names {
		files = append(files, archive.File{Name: "lab/modules/" + strings.TrimPrefix(m, "?") + ".ko", Data: images[i], Mode: 0o644})
		order = append(order, m+".ko") // "?NAME.ko": may fail with ENODEV
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
