// Command lab runs the QEMU memory-dump lab: for every scenario it boots a
// guest, plants canaries, takes the pre-trigger dump, kexecs into a wipe
// image, takes the post dump, and judges it. It writes DIR/report.json and
// prints a table; it exits non-zero when any scenario fails.
//
//	lab -kernel-dir /var/cache/ramwipe-lab/linux-image-… -image build/ramwipe-initramfs.cpio -out build/lab
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/initramfs/archive"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

// variant is a wipe image and command line to kexec into.
type variant struct {
	name    string
	labInit bool   // the lab build of the /init (go build -tags lab)
	cmdline string // the wipe kernel's command line (beyond console=)
	expect  lab.Expect
	crypt   bool // the guest opens a LUKS2 volume with a known key
	// daemon: the guest arms with ramwiped --armed and this ramwipe.conf,
	// must report state, and is triggered with `ramwipe panic`.
	daemon string
	state  string
	// trigger overrides how a daemon scenario fires: "hotkey" presses
	// the default chord on the guest's keyboard over QMP; "usbinsert"
	// learns the allow-list, re-plugs an allowed stick, then plugs in a
	// USB mouse.
	trigger string
	// oneSize: run at 1 GiB only, unless -all.
	oneSize bool
	// usb: the guest has two USB sticks on an xHCI controller, its /boot
	// (with the kernel ramwiped arms with) on one of them.
	usb bool
	// idle: seconds of ramwiped at rest measured before the trigger.
	idle int
	// allOnly: run only with -all (the longer fault scenarios).
	allOnly bool
	// plant: the percentage of RAM planted as canaries, if not the default.
	plant int
	// hung: the guest gets a second LUKS volume and a plain dm-crypt key
	// for the hung device of fault-hung-crypt.
	hung bool
	// keyring: with crypt, the guest also leaves a volume key and a
	// passphrase in its keyring (lab.Keyring), which the dumps look for.
	keyring bool
}

// variants are the wipe images the lab kexecs into. The do-nothing image
// (the negative control) boots with nokaslr, as does the old system: its
// kernel then decompresses over the old kernel's image instead of a random
// 50 MiB of RAM, so the control measures the dump pipeline, not KASLR's luck.
func variants(contract string) []variant {
	without := func(params ...string) string {
		var keep []string
		for _, f := range strings.Fields(contract) {
			if !slices.Contains(params, f) {
				keep = append(keep, f)
			}
		}
		return strings.Join(keep, " ")
	}
	userspace := without("memtest=1", "init_on_free=1")
	vs := []variant{
		{name: "default", labInit: false, cmdline: contract + " ramwipe.heldmap", expect: lab.ExpectWiped, crypt: false},
		{name: "userspace-only", labInit: false, cmdline: userspace + " ramwipe.heldmap", expect: lab.ExpectMeasured, crypt: false},
		{name: "memtest-only", labInit: false, cmdline: without("init_on_free=1") + " ramwipe.heldmap ramwipe.skip", expect: lab.ExpectMeasured, crypt: false, oneSize: true},
		{name: "init_on_free-only", labInit: false, cmdline: without("memtest=1") + " ramwipe.heldmap ramwipe.skip", expect: lab.ExpectMeasured, crypt: false, oneSize: true},
		{name: "no-wipe", labInit: true, cmdline: "nokaslr panic=5 loglevel=4 ramwipe.lab=noop", expect: lab.ExpectKept, crypt: false},
		{name: "fill-fails", labInit: true, cmdline: contract + " ramwipe.lab=fail-fill", expect: lab.ExpectPowerOff, crypt: false},
		{name: "fill-hangs", labInit: true, cmdline: userspace + " ramwipe.lab=hang-fill ramwipe.deadline=3s", expect: lab.ExpectPowerOff, crypt: false},
		{name: "init-panics", labInit: true, cmdline: userspace + " ramwipe.lab=panic", expect: lab.ExpectPowerOff, crypt: false},
		{name: "crypt-wipe", labInit: false, cmdline: contract + " ramwipe.heldmap", expect: lab.ExpectWiped, crypt: true},
		{name: "crypt-panic", cmdline: contract, expect: lab.ExpectWiped, crypt: true, keyring: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\n", state: "armed", idle: 60},
		{name: "crypt-hotkey", cmdline: contract, expect: lab.ExpectWiped, crypt: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\n", state: "armed", trigger: "hotkey"},
		{name: "crypt-drill", cmdline: contract, expect: lab.ExpectWiped, crypt: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\n", state: "armed", trigger: "drill"},
		{name: "crypt-unplug", cmdline: contract, expect: lab.ExpectWiped, crypt: true, usb: true,
			daemon: "kernel = /boot/vmlinuz\ncmdline_extra = ramwipe.heldmap\n", state: "armed", trigger: "unplug"},
		{name: "crypt-resume", cmdline: contract, expect: lab.ExpectWiped, crypt: true, usb: true, allOnly: true,
			daemon: "kernel = /boot/vmlinuz\ncmdline_extra = ramwipe.heldmap\n", state: "armed", trigger: "resume"},
		{name: "crypt-usbkbd", cmdline: contract, expect: lab.ExpectWiped, crypt: true, usb: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\n", state: "armed", trigger: "usbkbd"},
		// usb_insert on, the allow-list learned in the guest (ramwipe usb
		// learn --write: the two sticks); an allowed stick re-plugged and a
		// suspend and resume must not fire, a usb-mouse plugged in must.
		{name: "usb-insert", cmdline: contract, expect: lab.ExpectWiped, crypt: true, usb: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\nusb_insert = on\n", state: "armed", trigger: "usbinsert"},
		{name: "crypt-degraded", cmdline: contract, expect: lab.ExpectKeysErased, crypt: true, keyring: true,
			daemon: "# not a kernel: kexec_file_load fails, ramwiped runs degraded\nkernel = /lab/wipe.cmdline\n", state: "degraded"},
		{name: "crypt-no-wipe", labInit: true, cmdline: "nokaslr panic=5 loglevel=4 ramwipe.lab=noop", expect: lab.ExpectKept, crypt: true, keyring: true},
		// on_suspend: the agent runs ramwipe's sleep hook around a suspend
		// as systemd-sleep does. The controls kexec into the do-nothing
		// image after a sleep that must not wipe.
		{name: "suspend-wipe", cmdline: contract, expect: lab.ExpectWiped, crypt: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\non_suspend = wipe\n", state: "armed", trigger: "sleep-wipe"},
		{name: "suspend-allow", labInit: true, cmdline: "nokaslr panic=5 loglevel=4 ramwipe.lab=noop", expect: lab.ExpectKept, crypt: true, allOnly: true,
			daemon: "kernel = /lab/vmlinuz\non_suspend = allow\n", state: "armed", trigger: "sleep-allow"},
		{name: "suspend-wipe-after", cmdline: contract, expect: lab.ExpectWiped, crypt: true, allOnly: true,
			daemon: "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\non_suspend = wipe-after 60s\n", state: "armed", trigger: "sleep-alarm"},
		{name: "suspend-wipe-after-owner", labInit: true, cmdline: "nokaslr panic=5 loglevel=4 ramwipe.lab=noop", expect: lab.ExpectKept, crypt: true, allOnly: true,
			daemon: "kernel = /lab/vmlinuz\non_suspend = wipe-after 60s\n", state: "armed", trigger: "sleep-owner"},
	}
	return append(vs, faultVariants(contract)...)
}

// faultVariants are the fault matrix (docs/fault-matrix.md): crypt-panic's
// guest, each with a fault before its trigger (see qemu-tests/lab/fault.go).
// The cheap ones run by default, the others with -all.
func faultVariants(contract string) []variant {
	conf := "kernel = /lab/vmlinuz\ncmdline_extra = ramwipe.heldmap\n"
	var vs []variant
	for _, f := range []struct {
		name    string
		allOnly bool
	}{
		{"rehearsal-killed", false},
		{"flood-panic", false},
		{"files-deleted", false},
		{"triple-trigger", false},
		{"rehearsal-expired", true},
		{"rearm-loop", true},
		{"flood-hotkey", true},
		{"hung-crypt", true},
		{"memory-pressure", true},
		{"cpu-saturation", true},
	} {
		v := variant{name: "fault-" + f.name, cmdline: contract, expect: lab.ExpectWiped, crypt: true,
			daemon: conf, state: "armed", trigger: "fault-" + f.name, allOnly: f.allOnly, hung: f.name == "hung-crypt"}
		if f.name == "rearm-loop" {
			// A re-arm holds two images in the kernel until the new one
			// is in, and the loop a copy of the kernel: room for them (at
			// 45 % the guest ran out of memory inside kexec_file_load).
			v.plant = 40
		}
		vs = append(vs, v)
	}
	return vs
}

type size struct{ mem, smp int }

var sizes = []size{{512, 1}, {1024, 2}, {2048, 2}}

// plan is the default scenario list: every variant that judges the wipe at
// every size, the failure drills once at the smallest size.
func plan(vs []variant, all bool) []struct {
	v variant
	s size
} {
	var out []struct {
		v variant
		s size
	}
	for _, s := range sizes {
		for _, v := range vs {
			if (v.expect == lab.ExpectPowerOff || v.crypt) && s != sizes[0] {
				continue // drills and key scans (aeskeyfind is slow) at the smallest size
			}
			if v.allOnly && !all {
				continue
			}
			if !all && (v.expect == lab.ExpectMeasured || s == sizes[len(sizes)-1]) {
				continue // measurements and the largest guest: make test-all
			}
			if v.oneSize && !all && s != sizes[1] {
				continue // measurements for the README: one size keeps the lab short
			}
			out = append(out, struct {
				v variant
				s size
			}{v, s})
		}
	}
	return out
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kernelDir := fs.String("kernel-dir", "", "unpacked lab kernel package (qemu-tests/fetch-kernel.sh prints it)")
	image := fs.String("image", "build/ramwipe-initramfs.cpio", "the release wipe image; its command line is beside it (.cmdline)")
	out := fs.String("out", "build/lab", "directory for report.json, images and console logs")
	only := fs.String("run", "", "run only scenarios whose name contains this")
	verbose := fs.Bool("v", false, "copy guest consoles to stderr")
	keep := fs.Bool("keep", false, "keep each post dump in the output directory (NAME.ram)")
	all := fs.Bool("all", false, "run every measurement at every size")
	bench := fs.Bool("bench", false, "run the benchmark's scenarios instead and write bench.json (see bench.go)")
	maps := fs.Bool("maps", false, "draw each scenario's before/after memory map (map-NAME.png)")
	sdmem := fs.String("sdmem", "", "secure-delete's sdmem binary, for the benchmark's peer scenario")
	repeat := fs.Int("repeat", 1, "run the selected scenarios this many times; with more than one, print and write a soak summary (soak.json)")
	skipIdle := fs.Bool("skip-idle", false, "skip the at-rest measurement of ramwiped (60 s in crypt-panic), for soaks")
	oldDaemon := fs.String("ramwiped", "", "put this ramwiped binary in the guest instead of building ./cmd/ramwiped (to run scenarios against older code)")
	oldCLI := fs.String("ramwipe", "", "the same for the ramwipe CLI")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kernels, _ := filepath.Glob(filepath.Join(*kernelDir, "boot", "vmlinuz-*"))
	if *kernelDir == "" || len(kernels) != 1 {
		return fmt.Errorf("-kernel-dir %q: want a directory with exactly one boot/vmlinuz-*; run qemu-tests/fetch-kernel.sh", *kernelDir)
	}
	kernel := kernels[0]
	contractB, err := os.ReadFile(strings.TrimSuffix(*image, ".cpio") + ".cmdline")
	if err != nil {
		return fmt.Errorf("%w (run make initramfs)", err)
	}
	contract := strings.TrimSpace(string(contractB))
	releaseImage, err := os.ReadFile(*image)
	if err != nil {
		return fmt.Errorf("%w (run make initramfs)", err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	abs, _ := filepath.Abs(*out)

	// The lab's own binaries: the guest agent, the lab build of the /init,
	// and ramwiped and ramwipe as a host installs them.
	agent := filepath.Join(abs, "agent")
	labInit := filepath.Join(abs, "wipeinit-lab")
	daemonBin, cliBin := filepath.Join(abs, "ramwiped"), filepath.Join(abs, "ramwipe")
	for _, b := range []struct{ out, pkg, tags string }{
		{agent, "./qemu-tests/agent", ""},
		{labInit, "./initramfs/wipeinit", "lab"},
		{daemonBin, "./cmd/ramwiped", ""},
		{cliBin, "./cmd/ramwipe", ""},
	} {
		if err := goBuild(b.out, b.pkg, b.tags); err != nil {
			return err
		}
	}
	if *oldDaemon != "" {
		daemonBin = *oldDaemon
	}
	if *oldCLI != "" {
		cliBin = *oldCLI
	}
	labImage, err := buildImage(labInit)
	if err != nil {
		return err
	}
	agentBin, err := os.ReadFile(agent)
	if err != nil {
		return err
	}
	vmlinuz, err := os.ReadFile(kernel)
	if err != nil {
		return err
	}

	var recs []lab.Record
	var consoles []string // each record's console log, by index in recs
	br := newBenchRun(*bench, *maps, *sdmem)
	var runs []struct {
		v variant
		s size
	}
	for range max(*repeat, 1) {
		runs = append(runs, br.plan(variants(contract), contract, *all)...)
	}
	round := map[string]int{}
	for _, p := range runs {
		name := fmt.Sprintf("%dM-smp%d/%s", p.s.mem, p.s.smp, p.v.name)
		if *only != "" && !strings.Contains(name, *only) {
			continue
		}
		if *repeat > 1 {
			round[name]++
			name = fmt.Sprintf("%s#%d", name, round[name])
		}
		if *skipIdle {
			p.v.idle = 0
		}
		wipeImage := releaseImage
		if p.v.labInit {
			wipeImage = labImage
		}
		var extra []archive.File
		var key []byte
		var keyring *lab.Keyring
		if p.v.crypt {
			extra, key, err = cryptGuest(*kernelDir, abs, p.v.usb)
			if err != nil {
				return err
			}
		}
		if p.v.hung {
			more, err := hungCryptFiles(abs)
			if err != nil {
				return err
			}
			extra = append(extra, more...)
		}
		if p.v.keyring {
			if keyring, err = lab.NewKeyring(); err != nil {
				return err
			}
			extra = append(extra, archive.File{Name: "lab/crypt/keyring", Data: keyring.File(), Mode: 0o600})
		}
		more, err := br.files(p.v)
		if err != nil {
			return err
		}
		extra = append(extra, more...)
		var qemuExtra, sticks []string
		if p.v.usb {
			boot, stick, err := usbSticks(abs, vmlinuz)
			if err != nil {
				return err
			}
			sticks = []string{boot, stick}
			qemuExtra = lab.USBSticks(boot, stick)
		}
		if p.v.daemon != "" {
			for _, f := range []struct{ name, src string }{{"sbin/ramwiped", daemonBin}, {"sbin/ramwipe", cliBin}} {
				b, err := os.ReadFile(f.src)
				if err != nil {
					return err
				}
				extra = append(extra, archive.File{Name: f.name, Data: b, Mode: 0o755})
			}
			extra = append(extra,
				archive.File{Name: "lab/ramwipe.conf", Data: []byte(p.v.daemon), Mode: 0o644},
				// uid 1001 is in the ramwipe group; uid 1000 is not.
				archive.File{Name: "etc/group", Data: []byte("root:x:0:\nramwipe:x:990:lab\n"), Mode: 0o644})
		}
		initrd := filepath.Join(abs, "guest-"+strings.ReplaceAll(name, "/", "-")+".cpio")
		if err := writeGuest(initrd, agentBin, vmlinuz, wipeImage, p.v.cmdline, extra); err != nil {
			return err
		}
		logPath := filepath.Join(abs, "console-"+strings.ReplaceAll(name, "/", "-")+".log")
		logf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		var console io.Writer = logf
		if *verbose {
			console = io.MultiWriter(logf, stderr)
		}
		keepRAM := ""
		if *keep {
			keepRAM = filepath.Join(abs, "post-"+strings.ReplaceAll(name, "/", "-")+".ram")
		}
		fmt.Fprintf(stdout, "lab: %-32s ... ", name)
		rec := lab.Scenario{
			Name: name, MemMiB: p.s.mem, SMP: p.s.smp, Kernel: kernel, Initrd: initrd,
			Cmdline: p.v.cmdline, Expect: p.v.expect, Timeout: 6 * time.Minute, Console: console, KeepRAM: keepRAM, Key: key, Keyring: keyring,
			// With ramwiped locked in RAM and the crypt volume open, a 512 MiB
			// guest has room for 45 % of canaries, not 60 %.
			Plant: cmp.Or(p.v.plant, map[bool]int{true: 45, false: 60}[p.v.daemon != ""]),
			USB:   p.v.usb, Extra: qemuExtra, IdleSeconds: p.v.idle,
			Daemon: p.v.daemon != "", DaemonState: p.v.state, Trigger: cmp.Or(p.v.trigger, map[bool]string{true: "panic", false: "kexec"}[p.v.daemon != ""]),
		}.Run(ctx, abs)
		logf.Close()
		os.Remove(initrd)
		for _, f := range sticks {
			os.Remove(f)
		}
		verdict := "ok"
		if !rec.Pass {
			verdict = "FAIL (console: " + logPath + ")"
		}
		fmt.Fprintf(stdout, "%s (%.0fs)\n", verdict, rec.Timings.Total)
		for _, f := range rec.Failures {
			fmt.Fprintf(stdout, "    %s\n", f)
		}
		if line := panicLine(rec); line != "" {
			fmt.Fprintf(stdout, "    %s\n", line)
		}
		recs = append(recs, rec)
		consoles = append(consoles, logPath)
		br.record(stdout, abs, name, logPath, p.s, rec)
		if ctx.Err() != nil {
			break
		}
	}
	if len(recs) == 0 {
		return fmt.Errorf("no scenario matches -run %q", *only)
	}
	if err := br.write(abs, kernel, contract); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(map[string]any{"kernel": filepath.Base(kernel), "contract_cmdline": contract, "scenarios": recs}, "", "  ")
	if err := os.WriteFile(filepath.Join(abs, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	lab.WriteTable(stdout, recs)
	fmt.Fprintf(stdout, "\nreport: %s\n", filepath.Join(*out, "report.json"))
	if *repeat > 1 {
		if err := writeSoak(stdout, abs, *repeat, recs); err != nil {
			return err
		}
	}
	var failed []string
	for i, r := range recs {
		if !r.Pass {
			failed = append(failed, r.Name)
			lab.WriteFailure(stdout, r.Result, consoles[i])
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d scenarios failed: %s", len(failed), len(recs), strings.Join(failed, ", "))
	}
	return nil
}

func goBuild(out, pkg, tags string) error {
	args := []string{"build", "-trimpath", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func buildImage(initBin string) ([]byte, error) {
	data, err := os.ReadFile(initBin)
	if err != nil {
		return nil, err
	}
	var buf strings.Builder
	err = archive.Build(&buf, []archive.File{{Name: "init", Data: data, Mode: 0o755}})
	return []byte(buf.String()), err
}

func writeGuest(path string, agent, vmlinuz, wipeImage []byte, cmdline string, extra []archive.File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = archive.Build(f, append([]archive.File{
		{Name: "init", Data: agent, Mode: 0o755},
		{Name: "lab/vmlinuz", Data: vmlinuz, Mode: 0o644},
		{Name: "lab/wipe.cpio", Data: wipeImage, Mode: 0o644},
		{Name: "lab/wipe.cmdline", Data: []byte(cmdline + "\n"), Mode: 0o644},
	}, extra...))
	return errors.Join(err, f.Close())
}

// usbSticks makes the two USB sticks' file system images without loop
// devices (mkfs.ext4 -d): the boot stick holds the kernel as /vmlinuz (the
// guest mounts it on /boot), the other one just a file. Both are fresh for
// every scenario: the guest writes to them.
func usbSticks(dir string, vmlinuz []byte) (boot, stick string, err error) {
	mk := func(label, size string, files map[string][]byte) (string, error) {
		src, err := os.MkdirTemp(dir, "stick-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(src)
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
				return "", err
			}
		}
		img := filepath.Join(dir, strings.ToLower(label)+".img")
		os.Remove(img)
		out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", label, "-d", src, img, size).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("mkfs.ext4 %s: %v: %s (apt-get install e2fsprogs)", label, err, out)
		}
		return img, nil
	}
	if boot, err = mk("LABBOOT", "32M", map[string][]byte{"vmlinuz": vmlinuz}); err != nil {
		return "", "", err
	}
	stick, err = mk("LABSTICK", "8M", map[string][]byte{"README": []byte("an unrelated USB stick: unplugging it must not wipe\n")})
	return boot, stick, err
}
