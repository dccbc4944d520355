package bootmedium

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ramwipe/ramwipe/mountinfo"
)

// Options configures [Resolve].
type Options struct {
	// Mounts are the mount points whose devices make up the boot medium;
	// nil means "/" and "/boot". A mount point that is not mounted is
	// skipped, except "/".
	Mounts []string
	// KillCords are more devices whose removal must trigger: block device
	// paths such as /dev/disk/by-id/usb-…, or sysfs devpaths such as
	// /devices/pci0000:00/0000:00:14.0/usb1/1-4 for a device that is no
	// disk. They are watched whether or not they are removable.
	KillCords []string
	// WatchFixed watches boot devices that are not removable (an internal
	// NVMe or SATA disk) too. Off, a fixed boot disk is resolved and
	// reported but not watched: it only goes away when the machine is
	// falling apart, and the medium trigger exists for removable media.
	WatchFixed bool
	// Logf receives what Resolve finds and skips; nil discards.
	Logf func(format string, args ...any)
}

// Device is one device whose removal means the boot medium is gone.
type Device struct {
	// DevPath is the device's sysfs path as uevents name it,
	// /devices/…/block/sdb/sdb2: the partition (or disk) the data is on.
	DevPath string
	// Disk is the whole disk's devpath; DevPath itself if not a partition.
	Disk string
	// For names what it was found for: mount points ("/, /boot") or the
	// kill cord as configured.
	For string
	// USB is the devpath of the USB device the disk hangs off, "" if none.
	USB string
	// Removable is true for USB devices, SD cards and disks whose
	// removable attribute is 1.
	Removable bool
	// Model is the maker and model the device reports, if any.
	Model string
	// KillCord is true for devices found from [Options.KillCords].
	KillCord bool
	// Watched is true when the [Matcher] fires on its removal.
	Watched bool
	// Desc describes the device for people.
	Desc string
}

// Medium is the set of devices the running system was booted from.
type Medium struct {
	Devices []Device // sorted by DevPath
}

// Watched returns the devpaths of the watched devices.
func (m *Medium) Watched() []string {
	var w []string
	for _, d := range m.Devices {
		if d.Watched {
			w = append(w, d.DevPath)
		}
	}
	return w
}

// Removable reports whether any boot device (kill cords aside) is removable.
func (m *Medium) Removable() bool {
	for _, d := range m.Devices {
		if d.Removable && !d.KillCord {
			return true
		}
	}
	return false
}

// String describes the medium in one line.
func (m *Medium) String() string {
	if len(m.Devices) == 0 {
		return "no boot devices found"
	}
	parts := make([]string, len(m.Devices))
	for i, d := range m.Devices {
		parts[i] = d.Desc
	}
	return strings.Join(parts, "; ")
}

// maxDepth bounds the device stack Resolve follows (dm on md on loop on a
// file on a partition…).
const maxDepth = 16

// Resolve finds the boot medium of the running system from
// /proc/self/mountinfo and /sys. It returns what it could resolve together
// with the errors it met (joined); the error is nil only when every mount
// point and kill cord resolved.
func Resolve(opts Options) (*Medium, error) {
	return resolve("/", opts)
}

func resolve(root string, opts Options) (*Medium, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	f, err := os.Open(filepath.Join(root, "proc", "self", "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("boot medium: %w", err)
	}
	defer f.Close()
	mounts, err := mountinfo.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("boot medium: %s: %w", f.Name(), err)
	}
	r := &resolver{
		root:   root,
		sys:    filepath.Join(root, "sys"),
		mounts: mounts,
		logf:   logf,
		devs:   map[string]*Device{},
	}
	points := opts.Mounts
	if points == nil {
		points = []string{"/", "/boot"}
	}
	var errs []error
	for _, p := range points {
		i := r.mountAt(p)
		if i < 0 {
			if p == "/" {
				errs = append(errs, errors.New("boot medium: / is not in mountinfo"))
			} else {
				logf("boot medium: %s is not mounted", p)
			}
			continue
		}
		r.fresh()
		if err := r.mount(i, p, 0); err != nil {
			errs = append(errs, fmt.Errorf("boot medium %s: %w", p, err))
		}
	}
	for _, c := range opts.KillCords {
		r.fresh()
		if err := r.cord(c); err != nil {
			errs = append(errs, fmt.Errorf("kill cord %s: %w", c, err))
		}
	}

	m := &Medium{}
	for _, d := range r.devs {
		d.Watched = d.KillCord || d.Removable || opts.WatchFixed
		d.Desc = describe(d)
		m.Devices = append(m.Devices, *d)
	}
	sort.Slice(m.Devices, func(i, j int) bool { return m.Devices[i].DevPath < m.Devices[j].DevPath })
	for _, d := range m.Devices {
		if !d.Watched {
			logf("boot medium: %s — to watch it anyway set boot_medium = fixed in ramwipe.conf, or name a kill_cord", d.Desc)
		}
	}
	return m, errors.Join(errs...)
}

type resolver struct {
	root, sys string
	mounts    []mountinfo.Mount
	logf      func(string, ...any)
	devs      map[string]*Device // by devpath
	cordLabel string             // set while resolving a kill cord

	// What the current top-level resolution has visited: a loop device
	// backed by a file on itself, or an overlay layer that is not a
	// mount of its own, would otherwise never end.
	seenDir   map[string]bool
	seenMount map[int]bool
}

// fresh starts a top-level resolution.
func (r *resolver) fresh() {
	r.seenDir = map[string]bool{}
	r.seenMount = map[int]bool{}
}

// mountAt returns the index of the mount at point (the last one: later
// mounts hide earlier ones), or -1.
func (r *resolver) mountAt(point string) int {
	point = path.Clean(point)
	for i := len(r.mounts) - 1; i >= 0; i-- {
		if r.mounts[i].Point == point {
			return i
		}
	}
	return -1
}

// mountOf returns the index of the mount that holds the file at p: the
// longest mount point above it, the last of equals. -1 if none.
func (r *resolver) mountOf(p string) int {
	if !path.IsAbs(p) {
		return -1
	}
	p = path.Clean(p)
	best := -1
	for i, m := range r.mounts {
		if within(p, m.Point) && (best < 0 || len(m.Point) >= len(r.mounts[best].Point)) {
			best = i
		}
	}
	return best
}

func within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// mount resolves the devices under mount i.
func (r *resolver) mount(i int, label string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("device stack deeper than %d", maxDepth)
	}
	if r.seenMount[i] {
		return nil
	}
	r.seenMount[i] = true
	m := r.mounts[i]
	if dir, ok := r.devDir(m.Major, m.Minor); ok {
		return r.block(dir, label, depth+1)
	}
	// btrfs (and others) report an anonymous device number: go by the
	// source instead.
	if strings.HasPrefix(m.Source, "/dev/") {
		if dir, ok := r.nodeDir(m.Source); ok {
			return r.block(dir, label, depth+1)
		}
	}
	if m.FSType == "overlay" {
		// A live system's root: an overlay of a squashfs image (on a
		// loop device backed by a file on the medium) and a writable
		// layer (tmpfs, or persistent storage on the medium).
		var errs []error
		for _, d := range overlayDirs(m.SuperOpts) {
			j := r.mountOf(d)
			if j < 0 {
				continue
			}
			if err := r.mount(j, label, depth+1); err != nil {
				errs = append(errs, fmt.Errorf("overlay layer %s: %w", d, err))
			}
		}
		return errors.Join(errs...)
	}
	r.logf("boot medium %s: %s %s on %s is not on a block device", label, m.FSType, m.Source, m.Point)
	return nil
}

// devDir returns the sysfs directory of block device major:minor.
func (r *resolver) devDir(major, minor uint32) (string, bool) {
	if major == 0 {
		return "", false
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(r.sys, "dev", "block", fmt.Sprintf("%d:%d", major, minor)))
	return dir, err == nil
}

// nodeDir returns the sysfs directory of the block device node at dev, a
// path below /dev, following symlinks (/dev/mapper/x, /dev/disk/by-id/…).
// devtmpfs names nodes as the kernel names the devices.
func (r *resolver) nodeDir(dev string) (string, bool) {
	name := path.Base(dev)
	if real, err := filepath.EvalSymlinks(filepath.Join(r.root, dev)); err == nil {
		name = filepath.Base(real)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(r.sys, "class", "block", name))
	return dir, err == nil
}

// devpath turns a sysfs directory into a devpath.
func (r *resolver) devpath(dir string) (string, error) {
	rel, err := filepath.Rel(r.sys, dir)
	if err != nil || !strings.HasPrefix(rel, "devices"+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not below %s/devices", dir, r.sys)
	}
	return "/" + filepath.ToSlash(rel), nil
}

// block resolves the block device whose sysfs directory is dir down to
// the physical devices it is stored on.
func (r *resolver) block(dir, label string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("device stack deeper than %d", maxDepth)
	}
	if r.seenDir[dir] {
		return nil
	}
	r.seenDir[dir] = true
	devpath, err := r.devpath(dir)
	if err != nil {
		return err
	}
	// A partition of a loop, dm or md device: its parent holds the stack.
	stack := []string{dir}
	if isFile(filepath.Join(dir, "partition")) {
		stack = append(stack, filepath.Dir(dir))
	}
	for _, d := range stack {
		if b, err := os.ReadFile(filepath.Join(d, "loop", "backing_file")); err == nil {
			file := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
			j := r.mountOf(file)
			if j < 0 {
				return fmt.Errorf("%s: backing file %s is on no mount", devpath, file)
			}
			r.logf("boot medium %s: %s is backed by %s", label, devpath, file)
			return r.mount(j, label, depth+1)
		}
		slaves, err := os.ReadDir(filepath.Join(d, "slaves"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", devpath, err)
		}
		if len(slaves) > 0 {
			var errs []error
			for _, s := range slaves {
				sdir, err := filepath.EvalSymlinks(filepath.Join(d, "slaves", s.Name()))
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: slave %s: %w", devpath, s.Name(), err))
					continue
				}
				errs = append(errs, r.block(sdir, label, depth+1))
			}
			return errors.Join(errs...)
		}
	}
	if strings.HasPrefix(devpath, "/devices/virtual/") {
		r.logf("boot medium %s: %s is a virtual device on nothing removable (a RAM disk?): nothing to watch", label, devpath)
		return nil
	}
	r.add(dir, devpath, label)
	return nil
}

// add records the physical device at dir.
func (r *resolver) add(dir, devpath, label string) {
	if d, ok := r.devs[devpath]; ok {
		if !strings.Contains(", "+d.For+", ", ", "+label+", ") {
			d.For += ", " + label
		}
		d.KillCord = d.KillCord || r.cordLabel != ""
		return
	}
	disk := dir
	if isFile(filepath.Join(dir, "partition")) {
		disk = filepath.Dir(dir)
	}
	d := &Device{DevPath: devpath, For: label, KillCord: r.cordLabel != ""}
	d.Disk, _ = r.devpath(disk)
	usb, ok := r.ancestor(disk, func(a string) bool { return isFile(filepath.Join(a, "idVendor")) })
	if ok {
		d.USB, _ = r.devpath(usb)
		d.Removable = true
	}
	d.Model = model(usb, disk)
	if readTrim(filepath.Join(disk, "removable")) == "1" {
		d.Removable = true
	}
	// An SD card in a built-in reader: its mmc card directory says so
	// (eMMC soldered to the board says MMC).
	if _, ok := r.ancestor(disk, func(a string) bool {
		return readTrim(filepath.Join(a, "type")) == "SD" && isFile(filepath.Join(a, "cid"))
	}); ok {
		d.Removable = true
	}
	r.devs[devpath] = d
}

// ancestor returns the nearest directory from dir up to /sys/devices for
// which ok is true.
func (r *resolver) ancestor(dir string, ok func(string) bool) (string, bool) {
	top := filepath.Join(r.sys, "devices")
	for d := dir; strings.HasPrefix(d, top+string(filepath.Separator)); d = filepath.Dir(d) {
		if ok(d) {
			return d, true
		}
	}
	return "", false
}

// cord resolves one kill cord.
func (r *resolver) cord(c string) error {
	r.cordLabel = c
	defer func() { r.cordLabel = "" }()
	if strings.HasPrefix(c, "/devices/") {
		dir := filepath.Join(r.sys, filepath.FromSlash(path.Clean(c)))
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return fmt.Errorf("no such device in %s: %w", r.sys, err)
		}
		devpath, err := r.devpath(real)
		if err != nil {
			return err
		}
		if isDir(filepath.Join(real, "slaves")) || isDir(filepath.Join(real, "loop")) {
			return r.block(real, c, 0) // a stacked block device: watch what it is on
		}
		r.add(real, devpath, c)
		return nil
	}
	if !strings.HasPrefix(path.Clean(c), "/dev/") {
		return errors.New("want a /dev/… block device path or a /devices/… devpath")
	}
	dir, ok := r.nodeDir(c)
	if !ok {
		return fmt.Errorf("not a block device known to %s/class/block", r.sys)
	}
	return r.block(dir, c, 0)
}

// describe says what d is in a few words.
func describe(d *Device) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): ", path.Base(d.DevPath), d.For)
	switch {
	case d.USB != "":
		b.WriteString("USB")
	case d.Removable:
		b.WriteString("removable")
	default:
		b.WriteString("fixed")
	}
	if d.Model != "" {
		fmt.Fprintf(&b, " %q", d.Model)
	}
	if !d.Watched {
		b.WriteString(", not watched")
	}
	return b.String()
}

// model reads what the hardware calls itself: a USB device's manufacturer
// and product strings, else the disk's vendor and model (SCSI, NVMe).
func model(usb, disk string) string {
	var parts []string
	if usb != "" {
		parts = []string{readTrim(filepath.Join(usb, "manufacturer")), readTrim(filepath.Join(usb, "product"))}
	} else {
		// SCSI disks have a vendor and a model, NVMe a model; virtio's
		// "vendor" is a PCI ID and libata's is "ATA": neither says much.
		m := readTrim(filepath.Join(disk, "device", "model"))
		if m == "" {
			return ""
		}
		vendor := readTrim(filepath.Join(disk, "device", "vendor"))
		if vendor == "ATA" || strings.HasPrefix(vendor, "0x") {
			vendor = ""
		}
		parts = []string{vendor, m}
	}
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	m := strings.Join(out, " ")
	if len(m) > 64 {
		m = m[:64]
	}
	return m
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
