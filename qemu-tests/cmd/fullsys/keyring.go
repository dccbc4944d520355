package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// linkedKey is where the keyring scenario links the data volume's key,
// as a crypttab link-volume-key= (systemd 256 and later) or cryptsetup's
// --link-vk-to-keyring would: a logon key in root's user keyring.
const linkedKey = "ramwipe-lab:vk"

// attachLinked closes the data volume and opens it again with systemd's
// own code for crypttab (systemd-cryptsetup attach) and the option
// link-volume-key=, then mounts it: the volume key is now also the payload
// of a key in root's user keyring. Nothing of it is written to the disk,
// which later scenarios share. It fails the record unless /proc/keys
// lists the key.
func (g *guest) attachLinked(ctx context.Context, r *Record) bool {
	cmd := "systemctl stop data.mount systemd-cryptsetup@data.service && " +
		"/usr/bin/systemd-cryptsetup attach data /dev/vdb /etc/ramwipe-lab/data.pass luks,link-volume-key=@u::%logon:" + linkedKey + " && " +
		"mount /dev/mapper/data /data && grep -c 'logon .*" + linkedKey + "' /proc/keys"
	out, ok := g.must(ctx, r, cmd, 2*time.Minute)
	if !ok {
		return false
	}
	if f := strings.Fields(out); len(f) == 0 || f[len(f)-1] != "1" {
		r.fail("keyring: /proc/keys should list one key %s after systemd-cryptsetup attach with link-volume-key=\n%s", linkedKey, indent(out))
		return false
	}
	r.check("linked", "systemd-cryptsetup attach … link-volume-key=@u::%logon:"+linkedKey+": the key is in /proc/keys")
	return true
}

// linkedGuest boots an armed guest whose data volume's key is linked
// (attachLinked); nil, with the guest stopped, if either fails.
func (e *env) linkedGuest(ctx context.Context, r *Record) *guest {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return nil
	}
	if !g.attachLinked(ctx, r) {
		g.vm.Close("")
		return nil
	}
	return g
}

// keyringLinked: a LUKS2 volume whose key systemd linked into a kernel
// keyring (crypttab link-volume-key=, as RHEL's kdump and TPM enrolment
// tools set up). Two boots of the same guest, each with the key linked:
//
//   - the control: the dm-crypt key erased alone (dmsetup suspend, key
//     wipe), then an immediate power-off (sysrq o): the linked copy must
//     still be in the dump, so that the lab can see it;
//   - ramwipe armed, the panic chord: keys erased, keyring swept, memory
//     wiped: nothing of the old system may be left (as in hotkey);
//   - ramwipe degraded (it cannot load a wipe image), the panic chord: the
//     keys are erased, the keyring swept, the machine powered off without
//     a memory wipe. No trace of the key may be left.
func keyringLinked(ctx context.Context, r *Record, e *env) {
	if e.suite == "bookworm" {
		r.check("skipped", "systemd 252 (bookworm) has no link-volume-key=; the memory lab's crypt-degraded covers keys linked by hand")
		return
	}
	if !keyringControl(ctx, r, e) || !keyringWiped(ctx, r, e) {
		return
	}
	g := e.linkedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	if !g.degrade(ctx, r) {
		return
	}
	// What the sweep will find, and its notices on the console (loglevel
	// 5 shows warnings only).
	if out, ok := g.must(ctx, r, "awk '$8 ~ /^(logon|user|encrypted|trusted|big_key)$/' /proc/keys; dmesg -n 6", time.Minute); ok {
		r.check("secret_keys_before", strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", " | ")), " "))
	}
	sc := g.plant(ctx, r, e)
	if sc == nil {
		return
	}
	t := time.Now()
	if err := lab.PressChord(ctx, g.vm); err != nil {
		r.fail("chord: %v", err)
		return
	}
	if !g.offAndScan(ctx, r, e, sc, t, "hotkey_degraded") {
		return
	}
	swept := g.sweepNotices(t)
	r.check("sweep", strings.Join(swept, " | "))
	if r.Summary != "" {
		r.fail("keyring: the wipe image ran (%q): this scenario is the key erase alone", r.Summary)
	}
	if k := r.KeyPost; k == nil || k.Total() > 0 {
		r.fail("keyring: after the key erase and the sweep, traces of the volume key are left: %s", k)
	}
	r.check("key_after_erase", fmt.Sprintf("%s; canaries kept %.1f %% (no memory wipe ran)", r.KeyPost, 100*r.Post.FoundFraction))
}

// keyringWiped is keyringLinked's armed boot: the chord wipes everything,
// the linked key included.
func keyringWiped(ctx context.Context, r *Record, e *env) bool {
	g := e.linkedGuest(ctx, r)
	if g == nil {
		return false
	}
	defer g.vm.Close("")
	n := len(r.Failures)
	g.wipeBy(ctx, r, e, "hotkey_armed", nil, func() error { return lab.PressChord(ctx, g.vm) })
	if len(r.Failures) > n || r.Post == nil {
		return false
	}
	r.check("armed_wipe", fmt.Sprintf("canary pages %d, old-system pages %d, key %s; %s", r.Post.CanaryExact+r.Post.CanaryPartial, r.Post.OldPages, r.KeyPost, r.Summary))
	r.Pre, r.Post, r.KeyPre, r.KeyPost, r.Summary = nil, nil, nil, nil, ""
	return true
}

// keyringControl is keyringLinked's negative control, on a guest of its
// own: the linked copy survives the dm-crypt key erase alone.
func keyringControl(ctx context.Context, r *Record, e *env) bool {
	g := e.linkedGuest(ctx, r)
	if g == nil {
		return false
	}
	defer g.vm.Close("")
	sc := g.plant(ctx, r, e)
	if sc == nil {
		return false
	}
	pre := *r.KeyPre
	t := time.Now()
	if _, ok := g.must(ctx, r, "dmsetup suspend data && dmsetup message data 0 key wipe", time.Minute); !ok {
		return false
	}
	if err := g.vm.Send("echo o > /proc/sysrq-trigger"); err != nil {
		r.fail("control: sysrq o: %v", err)
		return false
	}
	if err := g.vm.Wait(ctx); err != nil {
		r.fail("control: the guest did not power off: %v", err)
		return false
	}
	_, keyPost, err := g.vm.DumpScan(ctx, sc.Post, e.key)
	g.vm.Close("")
	if err != nil {
		r.fail("control: post dump: %v", err)
		return false
	}
	r.time("control_erase_to_off", g.vm.ExitAt.Sub(t))
	if keyPost == nil || keyPost.Raw+keyPost.Halves == 0 {
		r.fail("negative control: after the dm-crypt key erase alone the linked key left no copy in the dump (%s): the lab cannot see a keyring copy", keyPost)
		return false
	}
	r.check("control", fmt.Sprintf("before: %s; after the dm-crypt key erase alone and sysrq o: %s (the keyring's copy)", &pre, keyPost))
	r.KeyPre, r.Pre = nil, nil
	return true
}

// cachedKeyRE matches /proc/keys' line for the ask-password cache.
const cachedKeyRE = "' user +cryptsetup: '"

// askPasswordAttach closes the data volume and opens it again as crypttab
// does for a volume without a key file: systemd-cryptsetup asks for the
// passphrase through the password agents (the lab answers as an agent
// would, with systemd-reply-password) and caches the answer in root's
// user keyring as the user key "cryptsetup", for the next volume that
// asks. That cache is what a boot with a typed passphrase leaves in a
// keyring: systemd asks for a 150 s timeout, yet systemd 252 and 257 both
// left it with no expiry ("perm" in /proc/keys) in the lab. It fails the
// record unless /proc/keys lists the key.
func (g *guest) askPasswordAttach(ctx context.Context, r *Record) bool {
	cmd := "systemctl stop systemd-ask-password-console.path systemd-ask-password-wall.path data.mount systemd-cryptsetup@data.service; " +
		"sc=$(command -v systemd-cryptsetup || echo /usr/lib/systemd/systemd-cryptsetup); " +
		"systemd-run --unit=lab-askpw --collect $sc attach data /dev/vdb none luks && " +
		"for i in $(seq 150); do f=$(ls /run/systemd/ask-password/ask.* 2>/dev/null | head -n1); [ -n \"$f\" ] && break; sleep 0.2; done && " +
		"grep -E '^(Message|Id)=' \"$f\" && " +
		"/usr/lib/systemd/systemd-reply-password 1 \"$(sed -n 's/^Socket=//p' \"$f\")\" < /etc/ramwipe-lab/data.pass && " +
		"for i in $(seq 150); do [ -e /dev/mapper/data ] && break; sleep 0.2; done && " +
		"mount /dev/mapper/data /data && grep -E " + cachedKeyRE + " /proc/keys"
	out, ok := g.must(ctx, r, cmd, 2*time.Minute)
	if !ok {
		return false
	}
	if !strings.Contains(out, "cryptsetup:") {
		r.fail("keyring: /proc/keys should list the user key cryptsetup (the ask-password cache) after the passphrase was given to systemd-cryptsetup through an agent\n%s", indent(out))
		return false
	}
	r.check("cached", "systemd-cryptsetup asked through the password agents; the answer is cached: "+strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", " | ")), " "))
	return true
}

// keyringAskPassword: the ask-password cache of a passphrase typed at
// boot (the "cryptsetup" user key), and the panic chord, in two boots:
//
//   - armed: the key is in /proc/keys right before the chord, ramwiped's
//     sweep names it, and after the wipe neither the volume key nor the
//     passphrase is left in RAM (before it, the dump holds the passphrase,
//     once as a user key's payload: the positive control);
//   - degraded (no wipe image, as in keyring-linked): the key erase and
//     the sweep alone. The copy shaped as a user key's payload must be
//     gone; the other copies of the passphrase (the lab's key file in the
//     page cache, the memory systemd-cryptsetup freed) stay, because no
//     memory wipe runs: that is what they are counted for.
func keyringAskPassword(ctx context.Context, r *Record, e *env) {
	if !askPasswordBoot(ctx, r, e, false) {
		return
	}
	askPasswordBoot(ctx, r, e, true)
}

// askPasswordBoot is one boot of keyringAskPassword.
func askPasswordBoot(ctx context.Context, r *Record, e *env, degraded bool) bool {
	what := map[bool]string{false: "armed", true: "degraded"}[degraded]
	g := e.armedGuest(ctx, r)
	if g == nil {
		return false
	}
	defer g.vm.Close("")
	n := len(r.Failures)
	if degraded && !g.degrade(ctx, r) {
		return false
	}
	if !g.askPasswordAttach(ctx, r) {
		return false
	}
	g.secret = []byte(passphrase)
	sc := g.plant(ctx, r, e)
	if sc == nil {
		return false
	}
	if g.secretPre.Keyring == 0 {
		r.fail("positive control (%s): no copy of the passphrase shaped as a user key's payload in the dump before the trigger (%s in all)", what, g.secretPre)
	}
	out, ok := g.must(ctx, r, "dmesg -n 6; grep -cE "+cachedKeyRE+" /proc/keys", time.Minute)
	if !ok {
		return false
	}
	if f := strings.Fields(out); len(f) == 0 || f[len(f)-1] != "1" {
		r.fail("keyring (%s): the ask-password cache was gone before the chord (%q)", what, out)
		return false
	}
	t := time.Now()
	if err := lab.PressChord(ctx, g.vm); err != nil {
		r.fail("chord: %v", err)
		return false
	}
	if !g.offAndScan(ctx, r, e, sc, t, "hotkey_"+what) {
		return false
	}
	swept := g.sweepNotices(t)
	r.check("sweep_"+what, strings.Join(swept, " | "))
	if !strings.Contains(strings.Join(swept, " "), `"cryptsetup"`) {
		r.fail("keyring (%s): ramwiped's sweep did not name the cached key cryptsetup: %q", what, swept)
	}
	if k := r.KeyPost; k == nil || k.Total() > 0 {
		r.fail("keyring (%s): traces of the volume key are left: %s", what, k)
	}
	if g.secretPost.Keyring > 0 {
		r.fail("keyring (%s): %s copies of the passphrase survived", what, g.secretPost)
	}
	if degraded {
		if r.Summary != "" {
			r.fail("keyring: the wipe image ran (%q): this boot is the key erase alone", r.Summary)
		}
	} else {
		r.wiped()
		if g.secretPost.All > 0 {
			r.fail("keyring (armed): %s copies of the passphrase survived the wipe", g.secretPost)
		}
	}
	r.check("passphrase_"+what, fmt.Sprintf("before the trigger %s; after it %s; key before %s, after %s; canaries after %.1f %%", g.secretPre, g.secretPost, r.KeyPre, r.KeyPost, 100*r.Post.FoundFraction))
	ok = len(r.Failures) == n
	r.Pre, r.Post, r.KeyPre, r.KeyPost, r.Summary = nil, nil, nil, nil, ""
	return ok
}

// degrade restarts ramwiped with a -kernel that is no kernel, in a drop-in
// under /run (gone at the next boot): it cannot load a wipe image, and a
// panic is the key erase and the sweep alone.
func (g *guest) degrade(ctx context.Context, r *Record) bool {
	dropIn := "mkdir -p /run/systemd/system/ramwiped.service.d && printf '[Service]\\nExecStart=\\nExecStart=/usr/sbin/ramwiped --armed -kernel /etc/ramwipe/ramwipe.conf\\n' > /run/systemd/system/ramwiped.service.d/lab-degraded.conf && systemctl daemon-reload && systemctl restart ramwiped"
	if _, ok := g.must(ctx, r, dropIn, 2*time.Minute); !ok {
		return false
	}
	out, rc, err := g.sh(ctx, "sleep 2; ramwipe status", time.Minute)
	if err != nil || rc != 1 || !strings.Contains(out, "NO WIPE IMAGE LOADED") {
		r.fail("keyring: ramwiped should be degraded with no wipe image (exit 1), got exit %d %v\n%s", rc, err, indent(out))
		return false
	}
	return true
}

// sweepNotices returns the keyring sweep's kernel-log notices on the
// console since t.
func (g *guest) sweepNotices(since time.Time) []string {
	var swept []string
	for _, l := range g.vm.Lines() {
		if l.At.After(since) && strings.Contains(l.Text, "ramwipe: keyring") {
			swept = append(swept, strings.TrimSpace(l.Text))
		}
	}
	return swept
}
