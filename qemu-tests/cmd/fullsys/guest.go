package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/qemu-tests/chart"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// guest is a booted full system with its lab shell.
type guest struct {
	vm     *lab.VM
	booted time.Time // when the lab shell came up
	// secret, if set, is counted in the dumps that plant and offAndScan
	// take: secretPre and secretPost.
	secret                []byte
	secretPre, secretPost secretCount
}

// secretCount is how many copies of a secret a dump holds, and how many of
// them sit where a kernel user key keeps its payload.
type secretCount struct {
	All int `json:"all"`
	// Keyring: copies preceded, 8 bytes before, by their length as a
	// 16-bit little-endian number: struct user_key_payload is an
	// rcu_head (16 bytes), datalen (u16) and data aligned to 8 bytes.
	Keyring int `json:"keyring"`
}

func (c secretCount) String() string {
	return fmt.Sprintf("%d (%d shaped as a kernel user key's payload)", c.All, c.Keyring)
}

func countSecret(ram, secret []byte) secretCount {
	var c secretCount
	for off := 0; ; {
		i := bytes.Index(ram[off:], secret)
		if i < 0 {
			return c
		}
		at := off + i
		c.All++
		if at >= 8 && binary.LittleEndian.Uint16(ram[at-8:]) == uint16(len(secret)) {
			c.Keyring++
		}
		off = at + 1
	}
}

// counting wraps a dump's scan to count g.secret in it, into *n.
func (g *guest) counting(scan func([]byte) lab.Scan, n *secretCount) func([]byte) lab.Scan {
	if g.secret == nil {
		return scan
	}
	return func(ram []byte) lab.Scan {
		*n = countSecret(ram, g.secret)
		return scan(ram)
	}
}

// boot starts the guest and waits for its lab shell.
func (e *env) boot(ctx context.Context, r *Record, cmdlineExtra string) *guest {
	for attempt := 1; ; attempt++ {
		vm, err := lab.StartVM(ctx, lab.VMConfig{
			Kernel: filepath.Join(e.imageDir, "vmlinuz"), Initrd: filepath.Join(e.imageDir, "initrd.img"),
			Append: "root=/dev/vda rw console=ttyS0 loglevel=5 systemd.show_status=false " + cmdlineExtra,
			MemMiB: memMiB, SMP: 2, Dir: e.work, Console: e.console, Reboot: true,
			Extra: []string{
				"-drive", "file=" + e.disk + ",if=virtio,format=raw",
				"-drive", "file=" + e.data + ",if=virtio,format=raw",
				"-drive", "file=" + e.debImg + ",if=virtio,format=raw,readonly=on",
			},
		})
		if err != nil {
			r.fail("start guest: %v", err)
			return nil
		}
		g := &guest{vm: vm}
		l, err := waitShell(ctx, vm)
		if early := earlyPanic(l.Text); err == nil && early && attempt == 1 {
			// The guest's own kernel died in its first seconds, before
			// any of ramwipe ran (seen once under TCG with two vCPUs: an
			// int3 Oops in sched_clock_cpu at 3.2 s). Boot once more, and
			// say so.
			r.check("boot_retried", "the guest's kernel panicked before userspace ("+strings.TrimSpace(l.Text)+"); booted again")
			vm.Close("")
			continue
		} else if err == nil && !strings.HasPrefix(l.Text, "LAB SHELL up") {
			err = fmt.Errorf("its kernel panicked: %s", strings.TrimSpace(l.Text))
		}
		if err != nil {
			r.fail("the guest never booted to its lab shell: %v", err)
			vm.Kill()
			return nil
		}
		g.booted = l.At
		r.time("boot_to_shell", l.At.Sub(vm.Started))
		if err := g.sync(ctx); err != nil {
			r.fail("the lab shell never answered: %v", err)
			vm.Kill()
			return nil
		}
		return g
	}
}

// waitShell waits for the lab shell's "LAB SHELL up", or for a kernel
// panic, whichever comes first, and returns that line.
func waitShell(ctx context.Context, vm *lab.VM) (lab.Line, error) {
	for {
		l, err := vm.WaitLine(ctx, "")
		if err != nil || strings.HasPrefix(l.Text, "LAB SHELL up") || strings.Contains(l.Text, "Kernel panic - not syncing") {
			return l, err
		}
	}
}

// earlyPanicBefore is how far into its boot a guest kernel's panic counts
// as the kernel's own (userspace, ramwiped among it, starts later).
const earlyPanicBefore = 10.0 // seconds of kernel time

var panicRE = regexp.MustCompile(`^\[\s*(\d+\.\d+)\] Kernel panic - not syncing`)

// earlyPanic reports whether line is a kernel panic in the first
// earlyPanicBefore seconds of a boot.
func earlyPanic(line string) bool {
	m := panicRE.FindStringSubmatch(line)
	if m == nil {
		return false
	}
	t, err := strconv.ParseFloat(m[1], 64)
	return err == nil && t < earlyPanicBefore
}

// sync sends numbered probes until the lab shell answers one. On Debian 13
// systemd 257 queries the serial terminal around the time the lab shell
// starts, and what the lab sends then can be read by that query instead
// of by the shell; a probe that is lost so costs one probe, not a
// scenario's first command.
func (g *guest) sync(ctx context.Context) error {
	for n := 1; n <= 20; n++ {
		want := fmt.Sprintf("LAB SYNC %d", n)
		if err := g.vm.Send("echo " + want); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := g.vm.WaitLine(wctx, want)
		if err == nil {
			_, err = g.vm.WaitLine(wctx, "LAB RC ")
		}
		cancel()
		if err == nil {
			if n > 1 {
				fmt.Fprintf(g.vm.Console(), "\nlab: the lab shell answered probe %d\n", n)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("no answer to 20 probes")
}

// sh runs a shell line in the guest and returns what it printed and its
// exit status.
func (g *guest) sh(ctx context.Context, line string, timeout time.Duration) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := g.vm.Send(line); err != nil {
		return "", -1, err
	}
	var out strings.Builder
	echoed := false
	for {
		l, err := g.vm.WaitLine(ctx, "")
		if err != nil {
			return out.String(), -1, fmt.Errorf("%q: %w", line, err)
		}
		if rc, ok := strings.CutPrefix(l.Text, "LAB RC "); ok {
			var n int
			fmt.Sscan(rc, &n)
			return out.String(), n, nil
		}
		// The console's tty echoes the line back: it is not output.
		if !echoed && l.Text == line {
			echoed = true
			continue
		}
		out.WriteString(l.Text + "\n")
	}
}

// must runs a line that must succeed.
func (g *guest) must(ctx context.Context, r *Record, line string, timeout time.Duration) (string, bool) {
	out, rc, err := g.sh(ctx, line, timeout)
	if err != nil || rc != 0 {
		r.fail("guest: %s: exit %d %v\n%s", line, rc, err, indent(out))
		return out, false
	}
	return out, true
}

// waitArmed polls `ramwipe status` (in the guest) until it exits 0, and
// records the time from since as name.
func (g *guest) waitArmed(ctx context.Context, r *Record, name string, since time.Time) bool {
	for i := 0; i < 60; i++ {
		out, rc, err := g.sh(ctx, "ramwipe status", 30*time.Second)
		if err != nil {
			r.fail("ramwipe status: %v", err)
			return false
		}
		if rc == 0 {
			r.time(name, time.Since(since))
			r.check("status", firstLine(out, "state:"))
			return true
		}
		time.Sleep(2 * time.Second)
	}
	r.fail("ramwipe status never said armed")
	return false
}

const knownFile = "ramwipe full-system lab: this file must survive every reboot"

// setup waits for systemd to open the data volume and mount it (crypttab
// and fstab say nofail, so the boot does not wait: ramwiped may well start
// first), gives it a file system on first use, and mounts the package
// disk. The volume is mounted through data.mount, never beside it: systemd
// may be checking or mounting it at that very moment.
func (g *guest) setup(ctx context.Context, r *Record) bool {
	_, ok := g.must(ctx, r, "mkdir -p /mnt/deb && (mountpoint -q /mnt/deb || mount -o ro /dev/vdc /mnt/deb) && systemctl start systemd-cryptsetup@data.service && { systemctl start data.mount || { blkid -p /dev/mapper/data >/dev/null || mkfs.ext4 -q /dev/mapper/data; systemctl reset-failed; systemctl start data.mount; }; }", 2*time.Minute)
	return ok
}

// installed sets up and installs the package unless it is: a scenario run
// alone (make demo: -run hotkey) starts from the bare image.
func (g *guest) installed(ctx context.Context, r *Record, e *env) bool {
	if !g.setup(ctx, r) {
		return false
	}
	// sync: a scenario may end by pulling the guest's power, and the disk
	// is the next scenario's (an unsynced append left the config ending
	// in NUL bytes, which ramwiped rightly refused).
	_, ok := g.must(ctx, r, "dpkg -s ramwipe >/dev/null 2>&1 || { dpkg -i /mnt/deb/ramwipe.deb && sync; }", 5*time.Minute)
	return ok && g.heldMap(ctx, r, e)
}

// heldMap sets the guest's cmdline_extra to e.wipeCmdline (ramwipe.heldmap
// and what -wipe-cmdline adds): the wipe image prints its held-map, so that
// the post dump tells the pages the wipe kernel rebuilt for itself from old
// ones, as in the memory lab. ramwiped re-arms with it.
func (g *guest) heldMap(ctx context.Context, r *Record, e *env) bool {
	line := "cmdline_extra = " + e.wipeCmdline
	_, ok := g.must(ctx, r, fmt.Sprintf("grep -qx '%[1]s' /etc/ramwipe/ramwipe.conf || { sed -i '/^cmdline_extra =/d' /etc/ramwipe/ramwipe.conf && echo '%[1]s' >> /etc/ramwipe/ramwipe.conf && sync && systemctl restart ramwiped; }", line), 2*time.Minute)
	return ok
}

// plant plants canaries and takes the pre-trigger dump: the positive
// control.
func (g *guest) plant(ctx context.Context, r *Record, e *env) *lab.Scanner {
	nonce := uint32(time.Now().UnixNano()) | 1
	if _, ok := g.must(ctx, r, fmt.Sprintf("setsid -f /mnt/deb/agent plant %d %d 4 > /dev/ttyS0 2>&1", nonce, plantPct), time.Minute); !ok {
		return nil
	}
	l, err := g.vm.WaitLine(ctx, "LAB READY")
	if err != nil {
		r.fail("planting: %v", err)
		return nil
	}
	planted, err := lab.ParseReady(l.Text)
	if err != nil {
		r.fail("%v", err)
		return nil
	}
	// The canaries on the encrypted volume, through dm-crypt's page cache.
	g.must(ctx, r, "sync; echo 3 > /proc/sys/vm/drop_caches", time.Minute)
	time.Sleep(time.Second) // the LAB IOMEM lines follow READY
	sc := lab.NewScanner(nonce, planted, lab.GuestLayout(g.vm.Lines(), memMiB))
	if err := sc.AddImage(e.wipeImage); err != nil {
		r.fail("the package's wipe image: %v", err)
		return nil
	}
	pre, keyPre, err := g.vm.DumpScan(ctx, g.counting(sc.Pre, &g.secretPre), e.key)
	if err != nil {
		r.fail("pre dump: %v", err)
		return nil
	}
	r.Pre, r.KeyPre = &pre, keyPre
	r.JudgeControl(true)
	return sc
}

// offAndScan waits for the guest to power off by itself, then scans what
// its RAM kept.
func (g *guest) offAndScan(ctx context.Context, r *Record, e *env, sc *lab.Scanner, since time.Time, what string) bool {
	if err := g.vm.Wait(ctx); err != nil {
		r.fail("%s: the guest did not power off by itself: %v", what, err)
		return false
	}
	r.time(what+"_to_off", g.vm.ExitAt.Sub(since))
	r.QEMU = g.events(since)
	for _, l := range g.vm.Lines() {
		if i := strings.Index(l.Text, "ramwipe: overwrote "); i >= 0 {
			r.Summary = l.Text[i:]
		}
		if l.At.After(since) {
			if err := sc.Layout.FromWipeLine(l.Text); err != nil {
				r.fail("%v", err)
			}
		}
	}
	post, keyPost, err := g.vm.DumpScan(ctx, g.counting(sc.Post, &g.secretPost), e.key)
	keep := ""
	if e.keepRAM {
		keep = filepath.Join(e.work, "ram-"+r.Name+".raw")
	}
	g.vm.Close(keep)
	if err != nil {
		r.fail("post dump: %v", err)
		return false
	}
	r.Post, r.KeyPost = &post, keyPost
	// The picture a person looks at: where the canaries were, and that
	// nothing is left there.
	m := filepath.Join(e.work, "map-"+r.Name+".png")
	if err := chart.MemoryMaps(m, fmt.Sprintf("full system, %s, %d MiB", r.Name, memMiB), r.Pre, r.Post, sc.Layout, memMiB<<20); err != nil {
		r.fail("memory map: %v", err)
	} else {
		r.Map = m
	}
	return true
}

// events returns the QMP events QEMU sent from since on, as "NAME data".
func (g *guest) events(since time.Time) []string {
	var out []string
	for {
		select {
		case ev := <-g.vm.QMP.Events:
			if !ev.At.Before(since) {
				out = append(out, strings.TrimSpace(ev.Name+" "+string(ev.Data)))
			}
		default:
			return out
		}
	}
}

// wipeBy plants canaries and takes the pre-trigger dump, fires the trigger
// (what names it in the record's times), waits for the guest to power off
// by itself and judges what its RAM kept: every wiping scenario's end.
// earlier, if not nil, is the RAM as an earlier wipe in the same power
// cycle left it (see rebootAndDump).
func (g *guest) wipeBy(ctx context.Context, r *Record, e *env, what string, earlier []byte, fire func() error) {
	sc := g.plant(ctx, r, e)
	if sc == nil {
		return
	}
	if earlier != nil {
		sc.Earlier(earlier)
	}
	t := time.Now()
	if err := fire(); err != nil {
		r.fail("%s: %v", what, err)
		return
	}
	if g.offAndScan(ctx, r, e, sc, t, what) {
		r.wiped()
	}
}

// wiped judges a post dump that must hold nothing. Pages of the public
// wipe image (lab.Scanner.AddImage) and, after the reboot wipe of
// install-reboot-poweroff, pages unchanged since it (lab.Scanner.Earlier)
// are counted apart; any other old-system page fails, as in the memory lab.
func (r *Record) wiped() {
	if r.Post == nil {
		return
	}
	r.JudgeWiped()
	r.check("old_pages", fmt.Sprintf("%d outside the firmware ranges, the wipe kernel's image and its held-map (%d pages) at %v; apart: %d file pages of the public wipe image, %d unchanged since an earlier wipe", r.Post.OldPages, r.Post.HeldPages, r.Post.OldRanges, r.Post.OldImage, r.Post.OldEarlier))
}
