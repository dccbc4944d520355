package readiness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ramwipe/ramwipe/mountinfo"
)

// swapEntry is one line of /proc/swaps.
type swapEntry struct {
	Name string // device or file, unescaped
	Type string // partition or file
}

// maxSwaps bounds the entries parseSwaps keeps (the kernel's MAX_SWAPFILES
// is 32 or fewer).
const maxSwaps = 64

// parseSwaps parses /proc/swaps (mm/swapfile.c, swap_show):
//
//	Filename				Type		Size		Used		Priority
//	/dev/dm-1                               partition	999420		0		-2
//
// The name is printed with seq_file_path(…, " \t\n\\"): those characters
// as octal escapes, so the fields split at white space.
func parseSwaps(b []byte) ([]swapEntry, error) {
	var swaps []swapEntry
	for n, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || n == 0 && f[0] == "Filename" {
			continue
		}
		if len(f) < 5 {
			return swaps, fmt.Errorf("line %d: %q: want Filename Type Size Used Priority", n+1, trunc(line))
		}
		if len(swaps) == maxSwaps {
			return swaps, fmt.Errorf("more than %d swap areas", maxSwaps)
		}
		swaps = append(swaps, swapEntry{Name: strings.TrimSuffix(mountinfo.Unescape(f[0]), " (deleted)"), Type: f[1]})
	}
	return swaps, nil
}

// maxMounts bounds the mounts parseMountinfo keeps.
const maxMounts = 1 << 16

// parseMountinfo parses /proc/self/mountinfo (see package mountinfo). Bad
// lines are skipped: the audit judges the mounts it can read; the error
// names the first bad line.
func parseMountinfo(b []byte) ([]mountinfo.Mount, error) {
	var (
		mounts []mountinfo.Mount
		bad    error
	)
	for n, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := mountinfo.ParseLine(line)
		if err != nil {
			if bad == nil {
				bad = fmt.Errorf("mountinfo line %d: %w", n+1, err)
			}
			continue
		}
		if len(mounts) == maxMounts {
			return mounts, fmt.Errorf("more than %d mounts", maxMounts)
		}
		mounts = append(mounts, m)
	}
	return mounts, bad
}

// Files the swap check reads.
const (
	swapsFile     = "/proc/swaps"
	mountinfoFile = "/proc/self/mountinfo"
)

// swapDev is a swap area and what the audit learnt of it.
type swapDev struct {
	Name string
	// State is how the area's pages are kept.
	State swapState
	// Why says how the state was found, or why it is unknown.
	Why string
}

type swapState int

const (
	swapUnknown   swapState = iota
	swapPlain               // on a disk, in clear
	swapEncrypted           // below a dm-crypt device
	swapInRAM               // zram: compressed RAM, wiped with the rest
)

// swap: pages written to a plain swap area stay on the disk in clear,
// disk keys and all, long after memory is wiped.
func (a *auditor) swap() {
	b, err := a.read(swapsFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			a.add(CheckSwap, OK, "", "the kernel has no swap support (%s absent)", swapsFile)
		} else {
			a.unreadable(CheckSwap, swapsFile, err)
		}
		return
	}
	swaps, err := parseSwaps(b)
	if err != nil {
		a.add(CheckSwap, Info, "", "%s: %v", swapsFile, err)
	}
	if len(swaps) == 0 {
		a.add(CheckSwap, OK, "", "no swap in use")
		return
	}
	res := &blockResolver{a: a}
	for _, s := range swaps {
		d := res.swap(s)
		a.swaps = append(a.swaps, d)
		switch d.State {
		case swapPlain:
			a.add(CheckSwap, Fail,
				"encrypt it: put it inside the LUKS volume, or give it a random key at every boot (crypttab: cswap "+s.Name+" /dev/urandom swap,cipher=aes-xts-plain64,size=512; fstab: /dev/mapper/cswap none swap); or swapoff it and remove it from /etc/fstab",
				"swap %s is not encrypted (%s): memory written there, disk keys included, stays on the disk in clear", s.Name, d.Why)
		case swapEncrypted:
			a.add(CheckSwap, OK, "", "swap %s is encrypted (%s)", s.Name, d.Why)
		case swapInRAM:
			a.add(CheckSwap, OK, "", "swap %s is compressed RAM (zram): the wipe erases it with the rest", s.Name)
		default:
			a.add(CheckSwap, Info, "check that it is inside a LUKS volume (lsblk -o NAME,TYPE,MOUNTPOINTS)",
				"could not tell whether swap %s is encrypted: %s", s.Name, d.Why)
		}
	}
}

// blockResolver follows block devices through sysfs.
type blockResolver struct {
	a      *auditor
	mounts []mountinfo.Mount
	mErr   error
	read   bool
}

// maxStack bounds the device stack followed (dm on md on loop on a file…).
const maxStack = 16

func (r *blockResolver) swap(s swapEntry) swapDev {
	d := swapDev{Name: s.Name}
	if s.Type == "partition" || strings.HasPrefix(s.Name, "/dev/") {
		dir, ok := r.nodeDir(s.Name)
		if !ok {
			d.Why = fmt.Sprintf("no block device %s in /sys/class/block", path.Base(s.Name))
			return d
		}
		if strings.HasPrefix(filepath.Base(dir), "zram") {
			d.State, d.Why = swapInRAM, "zram"
			return d
		}
		d.State, d.Why = r.block(dir, 0)
		return d
	}
	d.State, d.Why = r.file(s.Name, 0)
	return d
}

// file resolves the block device holding the file at p (an absolute
// path as the kernel prints it) from the mount it is on.
func (r *blockResolver) file(p string, depth int) (swapState, string) {
	if !r.read {
		r.read = true
		b, err := r.a.read(mountinfoFile)
		if err != nil {
			r.mErr = unwrapPath(err)
		} else {
			r.mounts, _ = parseMountinfo(b)
		}
	}
	if r.mErr != nil {
		return swapUnknown, fmt.Sprintf("%s: %v", mountinfoFile, r.mErr)
	}
	m, ok := mountOf(r.mounts, p)
	if !ok {
		return swapUnknown, fmt.Sprintf("%s is on no mount in %s", p, mountinfoFile)
	}
	dir, ok := r.devDir(m.Major, m.Minor)
	if !ok && strings.HasPrefix(m.Source, "/dev/") {
		// btrfs and others report an anonymous device number.
		dir, ok = r.nodeDir(m.Source)
	}
	if !ok {
		return swapUnknown, fmt.Sprintf("%s is on %s %s at %s, not a block device", p, m.FSType, m.Source, m.Point)
	}
	st, why := r.block(dir, depth+1)
	return st, fmt.Sprintf("a file on %s: %s", m.Point, why)
}

// mountOf returns the mount p is on: the last mount (later ones hide
// earlier ones) whose mount point is the longest prefix of p.
func mountOf(mounts []mountinfo.Mount, p string) (mountinfo.Mount, bool) {
	p = path.Clean(p)
	best, found := mountinfo.Mount{}, false
	for _, m := range mounts {
		if m.Point != "/" && p != m.Point && !strings.HasPrefix(p, m.Point+"/") {
			continue
		}
		if !found || len(m.Point) >= len(best.Point) {
			best, found = m, true
		}
	}
	return best, found
}

// devDir returns the sysfs directory of block device major:minor.
func (r *blockResolver) devDir(major, minor uint32) (string, bool) {
	if major == 0 {
		return "", false
	}
	dir, err := filepath.EvalSymlinks(r.a.path(fmt.Sprintf("/sys/dev/block/%d:%d", major, minor)))
	return dir, err == nil
}

// nodeDir returns the sysfs directory of the device node dev, following
// /dev symlinks (/dev/mapper/x → ../dm-1); devtmpfs names nodes as the
// kernel names devices.
func (r *blockResolver) nodeDir(dev string) (string, bool) {
	name := path.Base(dev)
	if real, err := filepath.EvalSymlinks(r.a.path(dev)); err == nil {
		name = filepath.Base(real)
	}
	dir, err := filepath.EvalSymlinks(r.a.path("/sys/class/block/" + name))
	return dir, err == nil
}

// block says whether the block device at sysfs directory dir stores its
// data encrypted: it is a dm-crypt device, or everything below it is.
func (r *blockResolver) block(dir string, depth int) (swapState, string) {
	name := filepath.Base(dir)
	if depth > maxStack {
		return swapUnknown, fmt.Sprintf("device stack deeper than %d at %s", maxStack, name)
	}
	if uuid, err := os.ReadFile(filepath.Join(dir, "dm", "uuid")); err == nil && isCryptUUID(strings.TrimSpace(string(uuid))) {
		return swapEncrypted, "dm-crypt " + dmName(dir)
	}
	if isFile(filepath.Join(dir, "partition")) {
		st, why := r.block(filepath.Dir(dir), depth+1)
		return st, name + " on " + why
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loop", "backing_file")); err == nil {
		file := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		st, why := r.file(file, depth+1)
		return st, name + " backed by " + why
	}
	slaves, err := os.ReadDir(filepath.Join(dir, "slaves"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return swapUnknown, fmt.Sprintf("%s: %v", name, unwrapPath(err))
	}
	if len(slaves) == 0 {
		return swapPlain, name + ", no dm-crypt below"
	}
	// dm (LVM, RAID) or md: encrypted only if every leg is.
	var whys []string
	for _, s := range slaves {
		sdir, err := filepath.EvalSymlinks(filepath.Join(dir, "slaves", s.Name()))
		if err != nil {
			return swapUnknown, fmt.Sprintf("%s: slave %s: %v", name, s.Name(), unwrapPath(err))
		}
		st, why := r.block(sdir, depth+1)
		if st != swapEncrypted {
			return st, dmName(dir) + " on " + why
		}
		whys = append(whys, why)
	}
	return swapEncrypted, dmName(dir) + " on " + strings.Join(whys, " and ")
}

// isCryptUUID reports whether a device-mapper UUID is cryptsetup's for an
// encrypting device (CRYPT-LUKS2-…, CRYPT-PLAIN-…), not for the
// integrity or verity devices cryptsetup also makes.
func isCryptUUID(uuid string) bool {
	rest, ok := strings.CutPrefix(uuid, "CRYPT-")
	if !ok {
		return false
	}
	for _, p := range []string{"INTEGRITY-", "VERITY-", "SUBDEV-"} {
		if strings.HasPrefix(rest, p) {
			return false
		}
	}
	return true
}

// dmName names a block device for people: its dm name if it has one
// ("dm-1 (cswap)"), else its kernel name.
func dmName(dir string) string {
	name := filepath.Base(dir)
	if b, err := os.ReadFile(filepath.Join(dir, "dm", "name")); err == nil {
		if n := strings.TrimSpace(string(b)); n != "" {
			return fmt.Sprintf("%s (%s)", name, n)
		}
	}
	return name
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
