package readiness

import (
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tree is a fake root: /proc, /sys and /etc files written by a test.
type tree struct {
	t    *testing.T
	root string
}

func newTree(t *testing.T) *tree { return &tree{t: t, root: t.TempDir()} }

func (tr *tree) path(p string) string { return filepath.Join(tr.root, filepath.FromSlash(p)) }

func (tr *tree) file(p, content string) {
	tr.t.Helper()
	require.NoError(tr.t, os.MkdirAll(filepath.Dir(tr.path(p)), 0o755))
	require.NoError(tr.t, os.WriteFile(tr.path(p), []byte(content), 0o644))
}

func (tr *tree) dir(p string) {
	tr.t.Helper()
	require.NoError(tr.t, os.MkdirAll(tr.path(p), 0o755))
}

// link makes p a symlink to target, relative to p's directory as sysfs's
// links are.
func (tr *tree) link(p, target string) {
	tr.t.Helper()
	require.NoError(tr.t, os.MkdirAll(filepath.Dir(tr.path(p)), 0o755))
	rel, err := filepath.Rel(filepath.Dir(tr.path(p)), tr.path(target))
	require.NoError(tr.t, err)
	require.NoError(tr.t, os.Symlink(rel, tr.path(p)))
}

// block adds a block device to sysfs: /sys/devices/…/name, with
// /sys/class/block/name and /sys/dev/block/majmin pointing at it; dm
// devices get dm/uuid and dm/name, and slaves links.
func (tr *tree) block(devpath, majmin string) string {
	name := filepath.Base(devpath)
	tr.dir(devpath)
	tr.file(devpath+"/dev", majmin+"\n")
	tr.link("/sys/class/block/"+name, devpath)
	tr.link("/sys/dev/block/"+majmin, devpath)
	if strings.Contains(devpath, "/virtual/block/dm-") {
		tr.link("/sys/block/"+name, devpath)
	}
	return devpath
}

func (tr *tree) dm(n int, dmName, uuid string, slaves ...string) string {
	p := tr.block(fmt.Sprintf("/sys/devices/virtual/block/dm-%d", n), fmt.Sprintf("253:%d", n))
	tr.file(p+"/dm/name", dmName+"\n")
	tr.file(p+"/dm/uuid", uuid+"\n")
	tr.dir(p + "/slaves")
	for _, s := range slaves {
		tr.link(p+"/slaves/"+filepath.Base(s), s)
	}
	return p
}

// disk adds a SATA disk sda with partitions 1…n.
func (tr *tree) disk(n int) {
	d := tr.block("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda", "8:0")
	for i := 1; i <= n; i++ {
		p := tr.block(fmt.Sprintf("%s/sda%d", d, i), fmt.Sprintf("8:%d", i))
		tr.file(p+"/partition", fmt.Sprintf("%d\n", i))
	}
}

func sda(n int) string {
	return fmt.Sprintf("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda%d", n)
}

// bitmapText prints a bitmap of the given bits as sysfs does: longs in
// hex, most significant first, leading zero longs left out.
func bitmapText(set ...int) string {
	var words []uint64
	for _, b := range set {
		for len(words) <= b/bits.UintSize {
			words = append(words, 0)
		}
		words[b/bits.UintSize] |= 1 << (b % bits.UintSize)
	}
	if len(words) == 0 {
		return "0\n"
	}
	var parts []string
	for i := len(words) - 1; i >= 0; i-- {
		parts = append(parts, fmt.Sprintf("%x", words[i]))
	}
	return strings.Join(parts, " ") + "\n"
}

// input adds event device eventN with the given keys.
func (tr *tree) input(n int, name string, keys ...int) {
	dev := fmt.Sprintf("/sys/devices/platform/i8042/serio0/input/input%d", n)
	tr.file(dev+"/name", name+"\n")
	tr.file(dev+"/capabilities/ev", bitmapText(0, evKey, 4, 17, 20))
	tr.file(dev+"/capabilities/key", bitmapText(keys...))
	tr.link(dev+fmt.Sprintf("/event%d/device", n), dev)
	tr.link(fmt.Sprintf("/sys/class/input/event%d", n), dev+fmt.Sprintf("/event%d", n))
}

// only returns the findings of one check.
func only(r *Report, check string) []Finding {
	var fs []Finding
	for _, f := range r.Findings {
		if f.Check == check {
			fs = append(fs, f)
		}
	}
	return fs
}
