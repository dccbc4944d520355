package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// installRebootPoweroff: dpkg -i twice, armed; systemctl reboot wipes and
// comes back with the files intact and clean file systems; then canaries,
// systemctl poweroff, and nothing left.
func installRebootPoweroff(ctx context.Context, r *Record, e *env) {
	g := e.boot(ctx, r, "")
	if g == nil {
		return
	}
	defer g.vm.Close("")
	if !g.setup(ctx, r) {
		return
	}
	t0 := time.Now()
	for i := range 2 {
		t := time.Now()
		if _, ok := g.must(ctx, r, "dpkg -i /mnt/deb/ramwipe.deb", 5*time.Minute); !ok {
			return
		}
		r.time(fmt.Sprintf("dpkg_i_%d", i+1), time.Since(t))
	}
	if !g.waitArmed(ctx, r, "install_to_armed", t0) || !g.heldMap(ctx, r, e) {
		return
	}
	g.must(ctx, r, fmt.Sprintf("echo %q > /data/known && echo %q > /root/known && sha256sum /data/known /root/known > /root/known.sum", knownFile, knownFile), time.Minute)

	// Reboot: wiped on the way, back up, nothing lost.
	t := time.Now()
	earlier, err := g.rebootAndDump(ctx)
	if err != nil {
		r.fail("reboot: %v", err)
		return
	}
	l, err := g.vm.WaitLine(ctx, "LAB SHELL up")
	if err != nil {
		r.fail("reboot: the guest did not come back: %v", err)
		return
	}
	for _, l := range g.vm.Lines() {
		if i := strings.Index(l.Text, "ramwipe: overwrote "); i >= 0 && l.At.After(t) {
			r.check("reboot_wipe", l.Text[i:])
		}
		// Which shutdown systemd ran: from systemd 255 on, logind turns a
		// reboot into a kexec when a kernel is loaded.
		if i := strings.Index(l.Text, "ramwipe: wiping memory, then "); i >= 0 && l.At.After(t) {
			r.check("reboot_hook", l.Text[i:])
		}
	}
	if r.Checks["reboot_wipe"] == "" {
		r.fail("reboot: the wipe image never ran (no fill summary on the console)")
	}
	r.time("reboot_to_shell", l.At.Sub(t))
	r.check("reboot", "wiped, came back")
	g.booted = l.At
	if !g.waitArmed(ctx, r, "reboot_to_armed", t) || !g.setup(ctx, r) {
		return
	}
	if _, ok := g.must(ctx, r, "sha256sum -c /root/known.sum", time.Minute); ok {
		r.check("known_files", "intact on / and on the LUKS volume after the reboot")
	}
	if out, rc, _ := g.sh(ctx, "dmesg | grep -E 'EXT4-fs .*(recovery|error|orphan)'", time.Minute); rc != 1 {
		r.fail("reboot: the kernel log shows file-system recovery or errors:\n%s", indent(out))
	} else {
		r.check("filesystems", "no journal recovery, no ext4 errors after the reboot")
	}
	// The LUKS volume is not checked on the host (that would need
	// device-mapper there): systemd-fsck checked it at this boot.
	out, _, _ := g.sh(ctx, "journalctl -b -o cat -u systemd-fsck@dev-mapper-data.service", time.Minute)
	if l := firstLine(out, "/dev/mapper/data: clean"); l != "" {
		r.check("data_fsck", l)
	} else {
		r.fail("reboot: systemd-fsck did not find the LUKS volume's file system clean:\n%s", indent(out))
	}

	// Poweroff: canaries and the key gone, the guest off.
	g.wipeBy(ctx, r, e, "poweroff", earlier, func() error { return g.vm.Send("systemctl poweroff") })
	if out, err := exec.Command("e2fsck", "-fn", e.disk).CombinedOutput(); err != nil {
		r.fail("e2fsck -fn of the root disk after the poweroff: %v\n%s", err, indent(string(out)))
	} else {
		r.check("e2fsck", "root file system clean after the poweroff")
	}
}

// armedGuest boots the guest, installs the package if need be and waits
// until ramwiped is armed; nil (and r says why) if any of that fails.
func (e *env) armedGuest(ctx context.Context, r *Record) *guest {
	g := e.boot(ctx, r, "")
	if g == nil {
		return nil
	}
	if !g.installed(ctx, r, e) || !g.waitArmed(ctx, r, "boot_to_armed", g.vm.Started) {
		g.vm.Close("")
		return nil
	}
	return g
}

// hotkey: the panic chord on the real system's keyboard.
func hotkey(ctx context.Context, r *Record, e *env) {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	g.wipeBy(ctx, r, e, "hotkey", nil, func() error { return lab.PressChord(ctx, g.vm) })
}

// poweroff: systemctl poweroff on an armed system, as at the end of
// install-reboot-poweroff but on its own, so that -run poweroff -repeat N
// can run it again and again.
func poweroff(ctx context.Context, r *Record, e *env) {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	g.wipeBy(ctx, r, e, "poweroff", nil, func() error { return g.vm.Send("systemctl poweroff") })
}

// dracut: the package on a guest whose initramfs dracut made (the image's
// dracut flavour, its own root disk): it installs, arms, and the poweroff
// wipes. There systemd-shutdown would switch into dracut's /run/initramfs
// after the hooks; the hook's kexec comes first.
func dracut(ctx context.Context, r *Record, e *env) {
	if e.cache == "" {
		r.fail("dracut: needs -cache, to build the dracut flavour of the image")
		return
	}
	gi, err := findImage(e.suite, dracutTool)
	if err != nil {
		r.fail("dracut: %v", err)
		return
	}
	img, err := gi.build(ctx, e.cache, e.console)
	if err != nil {
		r.fail("%v", err)
		return
	}
	r.time("image", time.Duration(img.Seconds*float64(time.Second)))
	d := *e
	d.imageDir = img.Dir
	d.disk = filepath.Join(e.work, "root-dracut.img")
	if out, err := exec.Command("cp", "--sparse=always", filepath.Join(img.Dir, "root.img"), d.disk).CombinedOutput(); err != nil {
		r.fail("copy the dracut root disk: %v: %s", err, out)
		return
	}
	defer os.Remove(d.disk)
	g := d.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	out, _ := g.must(ctx, r, "dpkg-query -W -f '${Package} ${Status}\\n' dracut initramfs-tools 2>/dev/null | grep ' installed$'; systemctl is-enabled dracut-shutdown.service", time.Minute)
	if got := strings.Fields(out); len(got) == 5 && got[0] == "dracut" {
		r.check("initramfs", "dracut installed, initramfs-tools not; dracut-shutdown.service "+got[4])
	} else {
		r.fail("dracut: want dracut installed and initramfs-tools not, got:\n%s", indent(out))
	}
	g.wipeBy(ctx, r, &d, "poweroff", nil, func() error { return g.vm.Send("systemctl poweroff") })
	if out, err := exec.Command("e2fsck", "-fn", d.disk).CombinedOutput(); err != nil {
		r.fail("e2fsck -fn of the root disk after the poweroff: %v\n%s", err, indent(string(out)))
	} else {
		r.check("e2fsck", "root file system clean after the poweroff")
	}
}

// kexecVerb: systemctl kexec on an armed system. ramwiped's image is the
// one loaded, so systemctl goes ahead; ramwiped unloads it when it stops,
// and the hook, called with the kexec verb, wipes and then reboots through
// the firmware (wipe/shutdown.Plan): the guest comes back up, armed.
func kexecVerb(ctx context.Context, r *Record, e *env) {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	t := time.Now()
	if err := g.vm.Send("systemctl kexec"); err != nil {
		r.fail("%v", err)
		return
	}
	l, err := g.vm.WaitLine(ctx, "LAB SHELL up")
	if err != nil {
		r.fail("systemctl kexec: the guest did not come back: %v", err)
		return
	}
	r.time("kexec_to_shell", l.At.Sub(t))
	var hook, summary string
	for _, l := range g.vm.Lines() {
		if !l.At.After(t) {
			continue
		}
		if i := strings.Index(l.Text, "ramwipe: wiping memory, then "); i >= 0 {
			hook = l.Text[i:]
		}
		if i := strings.Index(l.Text, "ramwipe: overwrote "); i >= 0 {
			summary = l.Text[i:]
		}
	}
	if !strings.HasPrefix(hook, "ramwipe: wiping memory, then reboot") || summary == "" {
		r.fail("systemctl kexec: want the hook's \"wiping memory, then reboot\" and the wipe's summary, got %q and %q", hook, summary)
		return
	}
	r.check("kexec", hook+"; "+summary)
	g.booted = l.At
	g.waitArmed(ctx, r, "kexec_to_armed", t)
}

// skip: ramwipe.skip on the kernel command line: the poweroff does not
// wipe, and the lab must see what survives (the negative control).
func skip(ctx context.Context, r *Record, e *env) {
	g := e.boot(ctx, r, "ramwipe.skip")
	if g == nil {
		return
	}
	defer g.vm.Close("")
	if !g.waitArmed(ctx, r, "boot_to_armed", g.vm.Started) || !g.setup(ctx, r) {
		return
	}
	if !g.poweroffUnwiped(ctx, r, e, "poweroff_without_wipe", nil) {
		return
	}
	if r.Post.FoundFraction < 0.5 {
		r.fail("negative control: only %.1f %% of the canaries survived a poweroff without the wipe: the lab cannot see a missed wipe", 100*r.Post.FoundFraction)
	}
	r.check("survived", fmt.Sprintf("%.1f %% of canaries", 100*r.Post.FoundFraction))
	// The key is no control here: systemd-shutdown removes the dm-crypt
	// device before the poweroff, and the kernel frees its key with
	// kfree_sensitive. The pre-trigger dump is the key's positive control.
	if k := r.KeyPost; k != nil {
		r.check("key_without_wipe", fmt.Sprintf("%d traces after the poweroff (dm-crypt device removed by systemd-shutdown)", k.Total()))
	}
}

// poweroffUnwiped plants canaries and takes the pre dump, runs systemctl
// poweroff, waits for the guest to go off by itself and scans what its RAM
// kept (what names the time in the record); it fails the record if
// ramwipe's wipe image ran, for the poweroffs that must not wipe. layout,
// if not nil, may tell the scanner more of the guest's memory.
func (g *guest) poweroffUnwiped(ctx context.Context, r *Record, e *env, what string, layout func(*lab.Layout)) bool {
	sc := g.plant(ctx, r, e)
	if sc == nil {
		return false
	}
	if layout != nil {
		layout(&sc.Layout)
	}
	t := time.Now()
	if err := g.vm.Send("systemctl poweroff"); err != nil {
		r.fail("%v", err)
		return false
	}
	if !g.offAndScan(ctx, r, e, sc, t, what) {
		return false
	}
	if r.Summary != "" {
		r.fail("%s: ramwipe's wipe image ran: %s", what, r.Summary)
	}
	return true
}

// purge: a kernel package upgrade re-arms ramwiped, then apt purge leaves
// no file of the package.
func purge(ctx context.Context, r *Record, e *env) {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	g.kernelUpgrade(ctx, r)
	g.must(ctx, r, "dpkg -L ramwipe | while read -r f; do [ -d \"$f\" ] || echo \"$f\"; done > /root/ramwipe.files; wc -l < /root/ramwipe.files", time.Minute)
	if _, ok := g.must(ctx, r, "apt-get purge -y -q ramwipe", 5*time.Minute); !ok {
		return
	}
	out, rc, err := g.sh(ctx, "for f in $(cat /root/ramwipe.files) /etc/ramwipe /run/ramwipe; do [ -e \"$f\" ] && echo \"LEFT $f\"; done; true", time.Minute)
	if err != nil || rc != 0 || strings.Contains(out, "\nLEFT /") || strings.HasPrefix(out, "LEFT /") {
		r.fail("purge left files behind:\n%s", indent(out))
	} else {
		r.check("purge", "no file of the package left, /etc/ramwipe and /run/ramwipe gone")
	}
	if _, rc, _ := g.sh(ctx, "systemctl is-enabled ramwiped", time.Minute); rc == 0 {
		r.fail("ramwiped.service is still enabled after the purge")
	}
	_ = g.vm.Send("systemctl poweroff")
	_ = g.vm.Wait(ctx)
}

// rebootAndDump runs systemctl reboot with QEMU told to pause when the
// guest resets, copies the guest's RAM at that moment (what the reboot
// wipe left, before the next boot ran), then lets the guest boot again
// through the firmware, as a reboot would.
func (g *guest) rebootAndDump(ctx context.Context) ([]byte, error) {
	if _, err := g.vm.QMP.Execute(ctx, "set-action", map[string]any{"reboot": "shutdown", "shutdown": "pause"}); err != nil {
		return nil, err
	}
	if err := g.vm.Send("systemctl reboot"); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for reset := false; !reset; {
		select {
		case ev := <-g.vm.QMP.Events:
			reset = ev.Name == "SHUTDOWN" && strings.Contains(string(ev.Data), "guest-reset")
		case <-g.vm.Exited():
			return nil, fmt.Errorf("QEMU exited instead of rebooting")
		case <-wctx.Done():
			return nil, fmt.Errorf("the guest did not reboot: %w", wctx.Err())
		}
	}
	ram, err := os.ReadFile(g.vm.RAMPath) // QEMU is paused
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		cmd  string
		args any
	}{
		{"set-action", map[string]any{"reboot": "reset", "shutdown": "poweroff"}},
		{"system_reset", nil},
		{"cont", nil},
	} {
		if _, err := g.vm.QMP.Execute(ctx, c.cmd, c.args); err != nil {
			return nil, err
		}
	}
	return ram, nil
}

// kernelUpgrade replaces the running kernel's image the way dpkg does when
// Debian updates a kernel package within its ABI (same file name, new
// contents: unpacked beside it as .dpkg-new, then renamed over it), and
// checks that ramwiped re-armed with it by itself.
func (g *guest) kernelUpgrade(ctx context.Context, r *Record) {
	if _, ok := g.must(ctx, r, "k=/boot/vmlinuz-$(uname -r); cp -p $k $k.dpkg-new && touch $k.dpkg-new && mv $k.dpkg-new $k", time.Minute); !ok {
		return
	}
	t := time.Now()
	for time.Since(t) < 2*time.Minute {
		out, _, err := g.sh(ctx, "journalctl -b -o cat -u ramwiped | sed -n '/changed; re-arming/,$p' | grep -m1 'state armed' || true", 30*time.Second)
		if err != nil {
			r.fail("kernel upgrade: %v", err)
			return
		}
		if l := firstLine(out, "state armed"); l != "" {
			r.time("kernel_upgrade_to_rearmed", time.Since(t))
			if _, rc, _ := g.sh(ctx, "ramwipe status >/dev/null", 30*time.Second); rc != 0 {
				r.fail("kernel upgrade: ramwiped logged %q but ramwipe status does not say armed", l)
				return
			}
			r.check("kernel_upgrade", "re-armed by itself after the kernel image was replaced: "+l)
			return
		}
		time.Sleep(2 * time.Second)
	}
	out, _, _ := g.sh(ctx, "journalctl -b -o cat -u ramwiped | tail -n 20", 30*time.Second)
	r.fail("kernel upgrade: ramwiped did not re-arm within 2 minutes of the kernel image being replaced:\n%s", indent(out))
}
