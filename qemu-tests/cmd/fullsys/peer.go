package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// peerShutdownHook is Kicksecure's ram-wipe design (Kicksecure/ram-wipe,
// dracut module 40ram-wipe, 2026) as a systemd-shutdown hook: at the end of
// the shutdown, sync, drop the page cache, sync, and check that no
// dm-crypt device is left. Kicksecure runs these steps from dracut's
// shutdown hook, after systemd-shutdown has switched back to the initramfs
// and dracut has unmounted the old root's file systems; here they run from
// systemd-shutdown's own hook directory, one step earlier, with the root
// file system read-only instead of unmounted. systemd-shutdown leaves the
// tmpfs /dev/shm mounted, and dracut's step would not find it so: the hook
// unmounts it first (a first run without that kept every tmpfs canary).
// The rest of the design is the kernel's: init_on_alloc=1 init_on_free=1.
const peerShutdownHook = `#!/bin/sh
umount -l /dev/shm
sync
echo 3 > /proc/sys/vm/drop_caches
sync
echo "<4>peer-kicksecure: dm-crypt devices left: $(dmsetup ls --target crypt 2>&1 | tr '\n' ' ')" > /dev/kmsg
`

// peerKicksecure measures, in the same guest as ramwipe's poweroff, what
// Kicksecure's ram-wipe design leaves in RAM at a plain systemctl poweroff:
// its kernel parameters, its shutdown steps, no ramwipe (booted with
// ramwipe.skip, ramwiped stopped, so no wipe image is loaded). It judges
// only its controls (the canaries and the key visible before, the hook run,
// the guest off by itself); what survives is the measurement.
func peerKicksecure(ctx context.Context, r *Record, e *env) {
	g := e.boot(ctx, r, "ramwipe.skip init_on_alloc=1 init_on_free=1")
	if g == nil {
		return
	}
	defer g.vm.Close("")
	if !g.setup(ctx, r) {
		return
	}
	hook := "/usr/lib/systemd/system-shutdown/zz-peer-kicksecure"
	b64 := base64.StdEncoding.EncodeToString([]byte(peerShutdownHook))
	if _, ok := g.must(ctx, r, fmt.Sprintf("systemctl stop ramwiped 2>/dev/null; mkdir -p %s && echo %s | base64 -d > %s && chmod 755 %s", path.Dir(hook), b64, hook, hook), time.Minute); !ok {
		return
	}
	if out, _, _ := g.sh(ctx, "cat /sys/kernel/kexec_loaded", time.Minute); strings.TrimSpace(out) != "0" {
		r.fail("peer: a kexec image is still loaded (%q): the poweroff would not be the peer's alone", strings.TrimSpace(out))
		return
	}
	// The running kernel's image stays in RAM at a poweroff with no wipe:
	// its pages are the same on every machine with this kernel (public
	// code and data), so the scanner counts them apart, as it does the
	// wipe kernel's after a wipe. The guest states it as the wipe image
	// does its own ("ramwipe: kernel image …", code to bss in /proc/iomem),
	// and the lab reads it the same way.
	out, _, err := g.sh(ctx, `awk -F' : ' '{sub(/^ +/, "")} $2 == "Kernel code" {split($1, a, "-")} $2 == "Kernel bss" {split($1, b, "-")} END {print "ramwipe: kernel image 0x" a[1] "-0x" b[2]}' /proc/iomem`, time.Minute)
	var running lab.Layout
	if perr := running.FromWipeLine(strings.TrimSpace(out)); err != nil || perr != nil || running.Kernel.End == 0 {
		r.fail("peer: the running kernel's image in /proc/iomem: %q %v %v", out, err, perr)
		return
	}
	t := time.Now()
	if !g.poweroffUnwiped(ctx, r, e, "poweroff_peer", func(l *lab.Layout) { l.Kernel = running.Kernel }) {
		return
	}
	ran := ""
	for _, l := range g.vm.Lines() {
		if i := strings.Index(l.Text, "peer-kicksecure: "); i >= 0 && l.At.After(t) {
			ran = l.Text[i:]
		}
	}
	if ran == "" {
		r.fail("peer: the shutdown hook never ran (no peer-kicksecure line on the console)")
	} else {
		r.check("peer_hook", ran)
	}
	r.check("peer_left", fmt.Sprintf("%d canary pages (%.1f %% of the canaries), %d old-system pages (and %d of the running kernel's image, counted apart), %d key traces", r.Post.CanaryExact+r.Post.CanaryPartial, 100*r.Post.FoundFraction, r.Post.OldPages, r.Post.OldKernel, keyTotal(r)))
}

func keyTotal(r *Record) int {
	if r.KeyPost == nil {
		return -1
	}
	return r.KeyPost.Total()
}
