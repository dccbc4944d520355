package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// moduleTree is the modules of an unpacked kernel package (or of an
// installed kernel: lib/modules/RELEASE), by module name, '-' written '_'
// as the kernel names them.
type moduleTree struct {
	files   map[string]string // name → path of NAME.ko, .ko.xz or .ko.zst
	builtin map[string]bool   // modules.builtin: built into the kernel
}

// modName is the kernel's name for a module file or a name in a list.
func modName(s string) string {
	s = filepath.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_")
}

// findModuleTree indexes the modules below kernelDir's lib/modules or
// usr/lib/modules (Debian 13 ships them there), following symbolic links
// to a release's directory (make lab KERNEL= links the machine's own).
func findModuleTree(kernelDir string) (*moduleTree, error) {
	t := &moduleTree{files: map[string]string{}, builtin: map[string]bool{}}
	var roots []string
	for _, base := range []string{"lib/modules", "usr/lib/modules"} {
		entries, err := os.ReadDir(filepath.Join(kernelDir, base))
		if err != nil {
			continue
		}
		for _, e := range entries {
			root, err := filepath.EvalSymlinks(filepath.Join(kernelDir, base, e.Name()))
			if err == nil {
				roots = append(roots, root)
			}
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no lib/modules/RELEASE in %s", kernelDir)
	}
	if len(roots) > 1 {
		return nil, fmt.Errorf("%d kernel releases below %s: want one", len(roots), kernelDir)
	}
	if b, err := os.ReadFile(filepath.Join(roots[0], "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			t.builtin[modName(l)] = true
		}
	}
	err := filepath.WalkDir(roots[0], func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n := d.Name(); !d.IsDir() && (strings.HasSuffix(n, ".ko") || strings.Contains(n, ".ko.")) {
			name := modName(n)
			if old, dup := t.files[name]; dup {
				return fmt.Errorf("module %s twice: %s and %s", name, old, path)
			}
			t.files[name] = path
		}
		return nil
	})
	return t, err
}

// read returns a module's ELF image, decompressed: the guest loads it with
// finit_module and no flags.
func (t *moduleTree) read(name string) ([]byte, error) {
	path, ok := t.files[modName(name)]
	if !ok {
		return nil, fmt.Errorf("module %s: not in the kernel package", name)
	}
	var tool string
	switch {
	case strings.HasSuffix(path, ".xz"):
		tool = "xz"
	case strings.HasSuffix(path, ".zst"):
		tool = "zstd"
	case strings.HasSuffix(path, ".gz"):
		tool = "gzip"
	default:
		return os.ReadFile(path)
	}
	out, err := exec.Command(tool, "-dc", path).Output()
	if err != nil {
		return nil, fmt.Errorf("decompress %s: %s -dc: %w", path, tool, err)
	}
	return out, nil
}

// modinfo reads the depends= and softdep=pre: names of a module image.
func modinfo(ko []byte) (deps []string, err error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	b, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		switch {
		case !ok:
		case k == "depends":
			for _, d := range strings.Split(v, ",") {
				if d != "" {
					deps = append(deps, modName(d))
				}
			}
		case k == "softdep":
			// "pre: a b post: c": the pre ones are loaded first.
			pre := false
			for _, w := range strings.Fields(v) {
				switch w {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						deps = append(deps, "?"+modName(w)) // only if it is a module
					}
				}
			}
		}
	}
	return deps, nil
}

// loadOrder returns the modules to load for want, dependencies first, as
// names and decompressed images. A wanted name that is built in is
// skipped; one starting with '?' is loaded only if the kernel has it as a
// module (a crypto driver that a module looks up by name), and keeps its
// '?' in names: its load may fail for want of the CPU feature it drives
// (AES-NI, PCLMUL under QEMU's TCG), which the guest then ignores.
func (t *moduleTree) loadOrder(want []string) (names []string, images [][]byte, err error) {
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, optional bool, chain []string) error
	visit = func(n string, optional bool, chain []string) error {
		root := len(chain) == 0
		if strings.HasPrefix(n, "?") {
			n, optional = n[1:], true
		}
		n = modName(n)
		switch {
		case state[n] == 2:
			return nil
		case state[n] == 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, n), " → "))
		case t.builtin[n]:
			return nil
		}
		if _, ok := t.files[n]; !ok {
			if optional {
				return nil
			}
			return fmt.Errorf("module %s (needed by %s): neither a module nor built in", n, strings.Join(chain, " → "))
		}
		state[n] = 1
		ko, err := t.read(n)
		if err != nil {
			return err
		}
		deps, err := modinfo(ko)
		if err != nil {
			return fmt.Errorf("module %s: %w", n, err)
		}
		for _, d := range deps {
			if err := visit(d, false, append(chain, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		if optional && root {
			names = append(names, "?"+n)
		} else {
			names = append(names, n)
		}
		images = append(images, ko)
		return nil
	}
	for _, w := range want {
		if err := visit(w, false, nil); err != nil {
			return nil, nil, err
		}
	}
	return names, images, nil
}
