package main

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/initramfs"
)

func TestParseKernelImage(t *testing.T) {
	iomem := `00000000-00000fff : Reserved
00100000-1ffdffff : System RAM
  1c000000-1d0025b6 : Kernel code
  1d200000-1dbc4fff : Kernel rodata
  1de00000-1e1b2c7f : Kernel data
  1e6d9000-1f3fffff : Kernel bss
`
	assert.Equal(t, "0x1c000000-0x1f3fffff", parseKernelImage(iomem))
	assert.Equal(t, "", parseKernelImage("00100000-1ffdffff : System RAM\n"), "ranges hidden from non-root read as 0")
}

func TestParseMeminfo(t *testing.T) {
	mi := "MemTotal:         496148 kB\nMemFree:          411852 kB\nMemAvailable:     404744 kB\n"
	assert.Equal(t, uint64(404744<<10), parseMeminfo(mi, "MemAvailable"))
	assert.Equal(t, uint64(0), parseMeminfo(mi, "SwapTotal"))
}

func TestHeldMap(t *testing.T) {
	const (
		anon  = 1 << kpfAnon
		lru   = 1 << kpfLRU
		buddy = 1 << kpfBuddy
		slab  = 1 << 7
	)
	flags := []uint64{slab, anon, lru | anon, buddy, 0, 1 << kpfNoPage, slab, 1 << 32 /* reserved */, anon, slab}
	var in bytes.Buffer
	for _, f := range flags {
		binary.Write(&in, binary.LittleEndian, f)
	}
	h := newHeldMap(uint64(len(flags)))
	h.buf = make([]byte, 24) // several reads, and one short one
	require.NoError(t, h.read(&in))
	// held: pfn 0 (slab), 4 (no flags: a kernel page such as a stack), 6, 7, 9
	assert.Equal(t, []byte{1<<0 | 1<<4 | 1<<6 | 1<<7, 1 << 1}, h.bits)
	assert.Equal(t, uint64(5), h.pages)
	assert.True(t, strings.HasPrefix(h.String(), "ramwipe: held-map pages=5 "))
}

// fakeReboot records reboot(2) commands and fails the first n of them.
type fakeReboot struct {
	cmds  []int
	fails int
}

func (f *fakeReboot) reboot(cmd int) error {
	f.cmds = append(f.cmds, cmd)
	if len(f.cmds) <= f.fails {
		return unix.EPERM
	}
	// A real reboot never returns; stand in by leaving the goroutine.
	panic(rebooted{})
}

type rebooted struct{}

func finishWith(t *testing.T, a initramfs.Action, fails int) ([]int, string) {
	t.Helper()
	var console bytes.Buffer
	f := &fakeReboot{fails: fails}
	w := &wiper{console: &console, kmsg: &bytes.Buffer{}, reboot: f.reboot, now: time.Now}
	func() {
		defer func() {
			r := recover()
			require.IsType(t, rebooted{}, r)
		}()
		w.finish(a)
	}()
	return f.cmds, console.String()
}

func TestFinishActions(t *testing.T) {
	for a, cmd := range map[initramfs.Action]int{
		initramfs.PowerOff: unix.LINUX_REBOOT_CMD_POWER_OFF,
		initramfs.Reboot:   unix.LINUX_REBOOT_CMD_RESTART,
		initramfs.Halt:     unix.LINUX_REBOOT_CMD_HALT,
		"":                 unix.LINUX_REBOOT_CMD_POWER_OFF,
	} {
		cmds, _ := finishWith(t, a, 0)
		assert.Equal(t, []int{cmd}, cmds, "finish(%q)", a)
	}
}

func TestFinishFallsBackToHalt(t *testing.T) {
	cmds, console := finishWith(t, initramfs.PowerOff, 1)
	assert.Equal(t, []int{unix.LINUX_REBOOT_CMD_POWER_OFF, unix.LINUX_REBOOT_CMD_HALT}, cmds)
	assert.Contains(t, console, "poweroff failed")
}
