package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ramwipe/ramwipe/initramfs"
)

// cryptModules are the lab kernel's modules a LUKS2 aes-xts volume on a
// loop device needs, in load order (xts wraps ecb(aes); aes is built in),
// and evdev for ramwiped's hotkey (the PS/2 keyboard driver is built in).
var cryptModules = []string{"loop.ko", "dm-mod.ko", "ecb.ko", "xts.ko", "dm-crypt.ko", "evdev.ko"}

// cryptGuest returns the files the guest needs to open a LUKS2 volume
// (Debian's cryptsetup with its libraries, the modules, the volume and its
// passphrase) and the volume key, fresh for every call.
func cryptGuest(kernelDir, tmp string) ([]initramfs.File, []byte, error) {
	var files []initramfs.File
	add := func(name, src string, mode uint64) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		files = append(files, initramfs.File{Name: name, Data: b, Mode: mode})
		return nil
	}
	for _, m := range cryptModules {
		found, _ := filepath.Glob(filepath.Join(kernelDir, "lib/modules/*/kernel/*/*/"+m))
		more, _ := filepath.Glob(filepath.Join(kernelDir, "lib/modules/*/kernel/*/"+m))
		found = append(found, more...)
		if len(found) != 1 {
			return nil, nil, fmt.Errorf("module %s: found %d in %s", m, len(found), kernelDir)
		}
		if err := add("lab/modules/"+m, found[0], 0o644); err != nil {
			return nil, nil, err
		}
	}
	files = append(files, initramfs.File{Name: "lab/modules/order", Data: []byte(strings.Join(cryptModules, " ") + "\n"), Mode: 0o644})

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
		initramfs.File{Name: "lab/crypt/luks.img", Data: img, Mode: 0o600},
		initramfs.File{Name: "lab/crypt/pass", Data: []byte(labPassphrase), Mode: 0o600})
	return files, key, nil
}

const labPassphrase = "ramwipe-lab-passphrase"

// luksImage formats an 8 MiB LUKS2 volume whose volume key is key. Only the
// header is written: this needs no device-mapper on the host.
func luksImage(tmp string, key []byte) ([]byte, error) {
	dir, err := os.MkdirTemp(tmp, "luks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	img, vk, pass := filepath.Join(dir, "luks.img"), filepath.Join(dir, "vk"), filepath.Join(dir, "pass")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(vk, key, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pass, []byte(labPassphrase), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command("cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode",
		"--cipher", "aes-xts-plain64", "--key-size", "512", "--volume-key-file", vk,
		"--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
		"--luks2-metadata-size", "16k", "--luks2-keyslots-size", "256k",
		"--key-file", pass, img)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cryptsetup luksFormat: %v: %s", err, bytes.TrimSpace(out))
	}
	return os.ReadFile(img)
}

// withLibs returns the dynamically linked program bin as the guest's
// file name, with its shared libraries and loader where Debian has them.
func withLibs(name, bin string) ([]initramfs.File, error) {
	libs, err := sharedLibs(bin)
	if err != nil {
		return nil, err
	}
	var files []initramfs.File
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
		files = append(files, initramfs.File{Name: dst, Data: b, Mode: 0o755})
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
