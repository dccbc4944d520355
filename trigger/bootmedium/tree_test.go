package bootmedium

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tree builds a fake root with /proc/self/mountinfo, /sys and /dev.
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree { return &tree{t: t, root: t.TempDir()} }

func (tr *tree) path(p string) string { return filepath.Join(tr.root, filepath.FromSlash(p)) }

func (tr *tree) dir(p string) {
	require.NoError(tr.t, os.MkdirAll(tr.path(p), 0o755))
}

func (tr *tree) file(p, content string) {
	tr.dir(filepath.Dir(p))
	require.NoError(tr.t, os.WriteFile(tr.path(p), []byte(content), 0o644))
}

// link makes p a relative symlink to target, as sysfs and udev do.
func (tr *tree) link(p, target string) {
	tr.dir(filepath.Dir(p))
	rel, err := filepath.Rel(filepath.Dir(tr.path(p)), tr.path(target))
	require.NoError(tr.t, err)
	require.NoError(tr.t, os.Symlink(rel, tr.path(p)))
}

func (tr *tree) mountinfo(lines ...string) {
	tr.file("/proc/self/mountinfo", strings.Join(lines, "\n")+"\n")
}

// block creates a block device directory at devpath with dev M:m, the
// /sys/dev/block and /sys/class/block links, and /dev/<name>.
func (tr *tree) block(devpath, majmin string, attrs map[string]string) {
	dir := "/sys" + devpath
	tr.file(dir+"/dev", majmin+"\n")
	for k, v := range attrs {
		tr.file(dir+"/"+k, v+"\n")
	}
	if _, ok := attrs["partition"]; !ok {
		tr.dir(dir + "/queue")
	}
	name := filepath.Base(devpath)
	tr.link("/sys/dev/block/"+majmin, dir)
	tr.link("/sys/class/block/"+name, dir)
	tr.file("/dev/"+name, "")
}

// Paths used by several scenarios.
const (
	xhci      = "/devices/pci0000:00/0000:00:14.0"
	usbStick  = xhci + "/usb2/2-1"
	usbDisk   = usbStick + "/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sdb"
	usbBoot   = usbDisk + "/sdb1"
	usbRoot   = usbDisk + "/sdb2"
	nvmeDisk  = "/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1"
	nvmeBoot  = nvmeDisk + "/nvme0n1p1"
	nvmeRoot  = nvmeDisk + "/nvme0n1p2"
	mmcCard   = "/devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:aaaa"
	mmcDisk   = mmcCard + "/block/mmcblk0"
	mmcPart   = mmcDisk + "/mmcblk0p1"
	dm0       = "/devices/virtual/block/dm-0"
	loop0     = "/devices/virtual/block/loop0"
	cordStick = xhci + "/usb1/1-3"
	cordDisk  = cordStick + "/1-3:1.0/host1/target1:0:0/1:0:0:0/block/sdc"
	cordDongl = xhci + "/usb1/1-4"
)

// procMounts are the mounts every system has.
var procMounts = []string{
	"22 1 0:21 / /proc rw,relatime - proc proc rw",
	"23 1 0:22 / /sys rw,relatime - sysfs sysfs rw",
	"24 1 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=100k,mode=755",
}

// usbHub adds the USB stick and its root hub (both have idVendor).
func (tr *tree) usbStick() {
	tr.file("/sys"+xhci+"/usb2/idVendor", "1d6b")
	tr.file("/sys"+xhci+"/usb2/product", "xHCI Host Controller")
	tr.file("/sys"+usbStick+"/idVendor", "0781")
	tr.file("/sys"+usbStick+"/manufacturer", " SanDisk")
	tr.file("/sys"+usbStick+"/product", "Cruzer Blade ")
	tr.block(usbDisk, "8:16", map[string]string{"removable": "1", "size": "30031872", "device/vendor": "SanDisk", "device/model": "Cruzer Blade"})
	tr.block(usbBoot, "8:17", map[string]string{"partition": "1", "size": "1048576"})
	tr.block(usbRoot, "8:18", map[string]string{"partition": "2", "size": "28000000"})
}

// dmCryptUSB: / on dm-crypt on the stick's second partition, /boot on its
// first.
func dmCryptUSB(t *testing.T) *tree {
	tr := newTree(t)
	tr.usbStick()
	tr.block(dm0, "254:0", map[string]string{"dm/name": "cryptroot", "size": "27996000"})
	tr.link("/sys"+dm0+"/slaves/sdb2", "/sys"+usbRoot)
	tr.link("/sys"+usbRoot+"/holders/dm-0", "/sys"+dm0)
	tr.link("/dev/mapper/cryptroot", "/dev/dm-0")
	tr.mountinfo(append(procMounts,
		"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/cryptroot rw",
		"30 27 8:17 / /boot rw,relatime shared:5 - ext2 /dev/sdb1 rw",
		"31 27 0:40 / /tmp rw - tmpfs tmpfs rw",
	)...)
	return tr
}

// nvme: / on btrfs (anonymous device number) on dm-crypt on NVMe, /boot on
// NVMe.
func nvme(t *testing.T) *tree {
	tr := newTree(t)
	tr.file("/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/vendor", "0x144d")
	tr.block(nvmeDisk, "259:0", map[string]string{"removable": "0", "size": "1000215216", "device/model": "Samsung SSD 980 1TB"})
	tr.block(nvmeBoot, "259:1", map[string]string{"partition": "1"})
	tr.block(nvmeRoot, "259:2", map[string]string{"partition": "2"})
	tr.block("/devices/virtual/block/dm-1", "254:1", map[string]string{"dm/name": "luks-0f5e"})
	tr.link("/sys/devices/virtual/block/dm-1/slaves/nvme0n1p2", "/sys"+nvmeRoot)
	tr.link("/dev/mapper/luks-0f5e", "/dev/dm-1")
	tr.mountinfo(append(procMounts,
		`27 1 0:32 /root / rw,relatime shared:1 - btrfs /dev/mapper/luks-0f5e rw,compress=zstd:1,subvol=/root`,
		`30 27 259:1 / /boot rw,relatime shared:5 - ext4 /dev/nvme0n1p1 rw`,
		`31 27 0:32 /home /home rw,relatime shared:6 - btrfs /dev/mapper/luks-0f5e rw,subvol=/home`,
	)...)
	return tr
}

// live: a Debian live / Tails system: / is an overlay of a squashfs on
// loop0, backed by a file on the stick's first partition, and a tmpfs.
func live(t *testing.T) *tree {
	tr := newTree(t)
	tr.usbStick()
	tr.block(loop0, "7:0", map[string]string{"size": "2400000", "loop/backing_file": "/run/live/medium/live/filesystem.squashfs"})
	tr.block("/devices/virtual/block/loop1", "7:1", map[string]string{"loop/backing_file": "/home/amnesia/other.iso"})
	tr.mountinfo(append(procMounts,
		`27 1 0:35 / / rw,noatime - overlay overlay rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work`,
		`40 27 8:17 / /run/live/medium ro,noatime - iso9660 /dev/sdb1 ro,nojoliet,check=s,map=n,blocksize=2048`,
		`41 27 7:0 / /run/live/rootfs/filesystem.squashfs ro,noatime - squashfs /dev/loop0 ro,errors=continue`,
		`42 27 0:36 / /run/live/overlay rw,noatime - tmpfs tmpfs rw,mode=755`,
		`50 27 7:1 / /media/other ro - iso9660 /dev/loop1 ro`,
	)...)
	return tr
}
