package bootmedium

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResolveDmCryptOnUSB(t *testing.T) {
	tr := dmCryptUSB(t)
	var logs []string
	m, err := resolve(tr.root, Options{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	require.NoError(t, err)
	want := []Device{
		{DevPath: usbBoot, Disk: usbDisk, For: "/boot", USB: usbStick, Removable: true, Watched: true, Model: "SanDisk Cruzer Blade",
			Desc: `sdb1 (/boot): USB "SanDisk Cruzer Blade"`},
		{DevPath: usbRoot, Disk: usbDisk, For: "/", USB: usbStick, Removable: true, Watched: true, Model: "SanDisk Cruzer Blade",
			Desc: `sdb2 (/): USB "SanDisk Cruzer Blade"`},
	}
	assert.Equal(t, want, m.Devices)
	assert.True(t, m.Removable())
	assert.Equal(t, []string{usbBoot, usbRoot}, m.Watched())
	assert.Equal(t, `sdb1 (/boot): USB "SanDisk Cruzer Blade"; sdb2 (/): USB "SanDisk Cruzer Blade"`, m.String())
	assert.Empty(t, logs)
}

func TestResolveNVMe(t *testing.T) {
	tr := nvme(t)
	m, err := resolve(tr.root, Options{})
	require.NoError(t, err)
	require.Len(t, m.Devices, 2)
	for _, d := range m.Devices {
		assert.False(t, d.Removable, d.DevPath)
		assert.False(t, d.Watched, d.DevPath)
		assert.Empty(t, d.USB)
		assert.Equal(t, nvmeDisk, d.Disk)
		assert.Equal(t, "Samsung SSD 980 1TB", d.Model)
	}
	assert.Equal(t, nvmeBoot, m.Devices[0].DevPath)
	assert.Equal(t, nvmeRoot, m.Devices[1].DevPath, "btrfs on dm-crypt found through the mount source")
	assert.False(t, m.Removable())
	assert.Empty(t, m.Watched(), "a fixed disk is not watched by default")
	assert.Contains(t, m.String(), `nvme0n1p2 (/): fixed "Samsung SSD 980 1TB", not watched`)

	m, err = resolve(tr.root, Options{WatchFixed: true})
	require.NoError(t, err)
	assert.Equal(t, []string{nvmeBoot, nvmeRoot}, m.Watched())
}

func TestResolveLive(t *testing.T) {
	tr := live(t)
	var logs []string
	m, err := resolve(tr.root, Options{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	require.NoError(t, err)
	require.Len(t, m.Devices, 1, "%+v", m.Devices)
	d := m.Devices[0]
	assert.Equal(t, usbBoot, d.DevPath, "the partition holding the squashfs image")
	assert.Equal(t, "/", d.For)
	assert.Equal(t, usbStick, d.USB)
	assert.True(t, d.Watched)
	all := strings.Join(logs, "\n")
	assert.Contains(t, all, "/devices/virtual/block/loop0 is backed by /run/live/medium/live/filesystem.squashfs")
	assert.Contains(t, all, "tmpfs tmpfs on /run/live/overlay is not on a block device")
	assert.Contains(t, all, "/boot is not mounted")
	assert.NotContains(t, all, "other.iso", "an unrelated loop mount is not part of the medium")
}

func TestResolveLiveToRAM(t *testing.T) {
	// live-boot's toram: the image was copied to RAM; the medium may go.
	tr := live(t)
	tr.file("/sys"+loop0+"/loop/backing_file", "/run/live/toram/filesystem.squashfs (deleted)\n")
	tr.mountinfo(append(procMounts,
		`27 1 0:35 / / rw - overlay overlay rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work`,
		`41 27 7:0 / /run/live/rootfs/filesystem.squashfs ro - squashfs /dev/loop0 ro`,
		`42 27 0:36 / /run/live/overlay rw - tmpfs tmpfs rw`,
		`43 27 0:37 / /run/live/toram rw - tmpfs tmpfs rw`,
	)...)
	m, err := resolve(tr.root, Options{})
	require.NoError(t, err)
	assert.Empty(t, m.Devices)
	assert.Equal(t, "no boot devices found", m.String())
}

func TestResolveSDCard(t *testing.T) {
	tr := newTree(t)
	tr.file("/sys"+mmcCard+"/type", "SD")
	tr.file("/sys"+mmcCard+"/cid", "035344534c3634478030a2b9cb0138e1")
	tr.block(mmcDisk, "179:0", map[string]string{"removable": "0", "size": "124735488"})
	tr.block(mmcPart, "179:1", map[string]string{"partition": "1"})
	tr.mountinfo(append(procMounts, `27 1 179:1 / / rw - ext4 /dev/mmcblk0p1 rw`)...)
	m, err := resolve(tr.root, Options{})
	require.NoError(t, err)
	require.Len(t, m.Devices, 1)
	assert.True(t, m.Devices[0].Removable, "an SD card is removable even when the reader says 0")
	assert.True(t, m.Devices[0].Watched)
	assert.Equal(t, `mmcblk0p1 (/): removable`, m.Devices[0].Desc)

	tr.file("/sys"+mmcCard+"/type", "MMC") // soldered eMMC
	m, err = resolve(tr.root, Options{})
	require.NoError(t, err)
	assert.False(t, m.Devices[0].Removable)
}

func TestResolveKillCords(t *testing.T) {
	tr := nvme(t)
	tr.file("/sys"+xhci+"/usb1/idVendor", "1d6b")
	tr.file("/sys"+cordStick+"/idVendor", "0951")
	tr.file("/sys"+cordStick+"/product", "DataTraveler 3.0")
	tr.block(cordDisk, "8:32", map[string]string{"removable": "1"})
	tr.link("/dev/disk/by-id/usb-Kingston_DataTraveler_3.0-0:0", "/dev/sdc")
	tr.file("/sys"+cordDongl+"/idVendor", "1050")
	tr.file("/sys"+cordDongl+"/product", "YubiKey")

	m, err := resolve(tr.root, Options{KillCords: []string{
		"/dev/disk/by-id/usb-Kingston_DataTraveler_3.0-0:0",
		cordDongl,
		"/dev/mapper/luks-0f5e", // the encrypted root itself, by name: watch the NVMe under it
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{cordDisk, cordDongl, nvmeRoot}, m.Watched())
	byPath := map[string]Device{}
	for _, d := range m.Devices {
		byPath[d.DevPath] = d
	}
	assert.Equal(t, Device{DevPath: cordDisk, Disk: cordDisk, For: "/dev/disk/by-id/usb-Kingston_DataTraveler_3.0-0:0", USB: cordStick,
		Removable: true, KillCord: true, Watched: true, Model: "DataTraveler 3.0",
		Desc: `sdc (/dev/disk/by-id/usb-Kingston_DataTraveler_3.0-0:0): USB "DataTraveler 3.0"`}, byPath[cordDisk])
	assert.Equal(t, cordDongl, byPath[cordDongl].USB)
	assert.True(t, byPath[cordDongl].KillCord)
	assert.Equal(t, "/, /dev/mapper/luks-0f5e", byPath[nvmeRoot].For)
	assert.True(t, byPath[nvmeRoot].Watched)
	assert.False(t, byPath[nvmeBoot].Watched)
	assert.False(t, m.Removable(), "kill cords do not make the boot medium removable")
}

func TestResolveErrors(t *testing.T) {
	t.Run("no mountinfo", func(t *testing.T) {
		_, err := resolve(t.TempDir(), Options{})
		require.ErrorContains(t, err, "boot medium: open ")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("bad mountinfo", func(t *testing.T) {
		tr := newTree(t)
		tr.mountinfo("garbage")
		_, err := resolve(tr.root, Options{})
		require.ErrorContains(t, err, "mountinfo line 1")
	})
	t.Run("root not mounted", func(t *testing.T) {
		tr := newTree(t)
		tr.mountinfo(procMounts...)
		m, err := resolve(tr.root, Options{})
		require.ErrorContains(t, err, "/ is not in mountinfo")
		assert.Empty(t, m.Devices)
	})
	t.Run("bad kill cords, good medium", func(t *testing.T) {
		tr := dmCryptUSB(t)
		m, err := resolve(tr.root, Options{KillCords: []string{"/dev/disk/by-id/nope", "/devices/pci0000:00/nope", "sdc"}})
		require.Error(t, err)
		assert.ErrorContains(t, err, "kill cord /dev/disk/by-id/nope: not a block device")
		assert.ErrorContains(t, err, "kill cord /devices/pci0000:00/nope: no such device")
		assert.ErrorContains(t, err, "kill cord sdc: want a /dev/")
		assert.Len(t, m.Watched(), 2, "the medium is resolved anyway")
	})
	t.Run("backing file on no mount", func(t *testing.T) {
		tr := live(t)
		tr.file("/sys"+loop0+"/loop/backing_file", "relative/file.squashfs")
		_, err := resolve(tr.root, Options{})
		require.ErrorContains(t, err, "backing file relative/file.squashfs is on no mount")
	})
	t.Run("loop cycle", func(t *testing.T) {
		tr := newTree(t)
		tr.block(loop0, "7:0", map[string]string{"loop/backing_file": "/img"})
		tr.mountinfo(append(procMounts, `27 1 7:0 / / rw - ext4 /dev/loop0 rw`)...)
		m, err := resolve(tr.root, Options{})
		require.NoError(t, err, "a loop device backed by a file on itself ends")
		assert.Empty(t, m.Devices)
	})
	t.Run("dangling slave", func(t *testing.T) {
		tr := dmCryptUSB(t)
		require.NoError(t, os.Symlink("../../nowhere", tr.path("/sys"+dm0+"/slaves/sdz")))
		m, err := resolve(tr.root, Options{})
		require.ErrorContains(t, err, "slave sdz")
		assert.Len(t, m.Devices, 2)
	})
}

func TestResolveVirtualOnly(t *testing.T) {
	tr := newTree(t)
	tr.block("/devices/virtual/block/zram0", "253:0", nil)
	tr.mountinfo(append(procMounts, `27 1 253:0 / / rw - ext4 /dev/zram0 rw`)...)
	var logs []string
	m, err := resolve(tr.root, Options{Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	require.NoError(t, err)
	assert.Empty(t, m.Devices)
	assert.Contains(t, strings.Join(logs, "\n"), "zram0 is a virtual device")
}

// TestIntegrationResolve runs against this machine's /proc and /sys (read
// only; no privilege needed) and checks only that the result is coherent.
func TestIntegrationResolve(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc")
	}
	m, err := Resolve(Options{Logf: t.Logf, WatchFixed: true})
	if err != nil {
		t.Logf("Resolve: %v", err)
	}
	require.NotNil(t, m)
	t.Logf("boot medium: %s", m)
	for _, d := range m.Devices {
		assert.True(t, strings.HasPrefix(d.DevPath, "/devices/"), d.DevPath)
		assert.True(t, covers(d.Disk, d.DevPath), "%s is on %s", d.DevPath, d.Disk)
		_, err := os.Stat("/sys" + d.DevPath)
		assert.NoError(t, err)
	}
	assert.Empty(t, NewMatcher(m, MatcherConfig{}).Missing())
}
