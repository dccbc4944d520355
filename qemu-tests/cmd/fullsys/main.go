// Command fullsys runs the full-system lab: ramwipe's .deb on a real Debian
// system, bookworm or (-suite trixie) Debian 13, that
// qemu-tests/fullsys/build-image.sh builds with debootstrap, under QEMU,
// with a LUKS2 data volume opened by systemd-cryptsetup from /etc/crypttab.
// It installs the package with dpkg -i (twice: the upgrade path), and
// proves the shutdown wipe at a reboot, a poweroff and systemctl kexec, the
// hotkey on this real system, the one-boot kill switch (ramwipe.skip, the
// negative control), the re-arm after a kernel package upgrade, a clean
// purge, ramwipe check on the real system, the blind window after ramwiped
// is killed (and a poweroff inside it), and the poweroff wipe on the
// image's dracut flavour. It writes DIR/report.json and prints a table; it
// exits non-zero when a scenario fails. With -soak N it repeats the
// poweroff through the shutdown hook N times and counts the complete wipes
// in DIR/soak.json.
//
//	fullsys -cache /var/cache/ramwipe-lab -deb build/ramwipe.deb -out build/fullsys
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ramwipe/ramwipe/qemu-tests/chart"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// tier says which runs a scenario is in.
type tier int

const (
	tierTest   tier = iota // make test
	tierAll                // with -all: make test-all
	tierByName             // only when -run names it
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fullsys:", err)
		os.Exit(1)
	}
}

const (
	memMiB     = 1024
	passphrase = "ramwipe-lab-passphrase" // the image's /etc/ramwipe-lab/data.pass
	plantPct   = 40                       // of RAM, as anonymous canaries
)

// Record is one scenario's outcome.
type Record struct {
	Name     string             `json:"name"`
	Pass     bool               `json:"pass"`
	Failures []string           `json:"failures,omitempty"`
	Checks   map[string]string  `json:"checks,omitempty"`
	Times    map[string]float64 `json:"times_s,omitempty"`
	Pre      *lab.Scan          `json:"pre,omitempty"`
	Post     *lab.Scan          `json:"post,omitempty"`
	KeyPre   *lab.KeyScan       `json:"key_pre,omitempty"`
	KeyPost  *lab.KeyScan       `json:"key_post,omitempty"`
	Summary  string             `json:"wipe_summary,omitempty"`
	// Map is the before/after memory map's PNG.
	Map string `json:"memory_map,omitempty"`
	// QEMU lists the QMP events from the trigger on (SHUTDOWN with its
	// reason, RESET, …): how the guest ended.
	QEMU []string `json:"qemu_events,omitempty"`
	// Interrupted: the lab was stopped (Ctrl-C) while this scenario ran;
	// its failures say nothing about ramwipe.
	Interrupted bool `json:"interrupted,omitempty"`
}

func (r *Record) fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

func (r *Record) check(name, value string) {
	if r.Checks == nil {
		r.Checks = map[string]string{}
	}
	r.Checks[name] = value
}

func (r *Record) time(name string, d time.Duration) {
	if r.Times == nil {
		r.Times = map[string]float64{}
	}
	r.Times[name] = d.Seconds()
}

// env is what every scenario shares.
type env struct {
	imageDir, work string
	cache          string // where build-image.sh keeps its images (-cache)
	suite          string // the guest's Debian release (-suite)
	disk, data     string // the guest's root disk (a copy, kept across scenarios) and LUKS volume
	debImg         string // a small ext4 image holding the .deb
	key            []byte // the LUKS volume's key
	wipeImage      []byte // the package's wipe image (cpio), for lab.Scanner.AddImage
	console        io.Writer
	verbose        io.Writer
	// wipeCmdline is the guest ramwipe.conf's cmdline_extra: what the wipe
	// image's kernel gets on top of what ramwiped gives it.
	wipeCmdline string
	keepRAM     bool // keep each post dump as DIR/ram-SCENARIO.raw
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fullsys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	imageDir := fs.String("image-dir", "", "the guest image (qemu-tests/fullsys/build-image.sh prints it)")
	cache := fs.String("cache", "", "build the guest image in this directory with qemu-tests/fullsys/build-image.sh, or reuse it (instead of -image-dir)")
	deb := fs.String("deb", "build/ramwipe.deb", "the package to install")
	out := fs.String("out", "build/fullsys", "directory for report.json and console logs")
	verbose := fs.Bool("v", false, "copy guest consoles to stderr")
	only := fs.String("run", "", "run only the scenario of this name, or those whose names contain it (a scenario run alone installs the package itself if need be), or the named ones in the order given (a comma-separated list); poweroff and peer-kicksecure run only when named")
	allTiers := fs.Bool("all", false, "also the long scenarios (kexec, sigkill, dracut: a second image) that make test leaves to make test-all")
	repeat := fs.Int("repeat", 1, "run each chosen scenario this many times (with -run, to catch what fails now and then)")
	wipeCmdline := fs.String("wipe-cmdline", "", "more parameters for the wipe kernel, after ramwipe.heldmap (earlyprintk=ttyS0 shows its early boot)")
	keepRAM := fs.Bool("keep-ram", false, "keep each post dump as DIR/ram-SCENARIO.raw (1 GiB each)")
	suite := fs.String("suite", "bookworm", "the Debian release of the guest image built with -cache: bookworm or trixie")
	soak := fs.Int("soak", 0, "repeat the poweroff through the shutdown hook this many times (the poweroff scenario alone, however -run and -repeat say) and write DIR/soak.json with how many wiped completely")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *suite != "bookworm" && *suite != "trixie" {
		return fmt.Errorf("-suite %q: want bookworm or trixie", *suite)
	}
	if *soak > 0 {
		*only, *repeat = "poweroff", *soak
	}
	var img *imageBuild
	if *cache != "" {
		var err error
		if img, err = buildImage(ctx, *cache, *suite, "", stderr); err != nil {
			return err
		}
		*imageDir = img.Dir
		how := "cached"
		if img.Built {
			how = "built"
		}
		fmt.Fprintf(stdout, "fullsys: image %s: %s in %.1fs\n", filepath.Base(img.Dir), how, img.Seconds)
	}
	if *imageDir == "" {
		return fmt.Errorf("-image-dir or -cache: run qemu-tests/fullsys/build-image.sh CACHE and pass what it prints, or pass CACHE")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	work, _ := filepath.Abs(*out)
	e := &env{imageDir: *imageDir, work: work, cache: *cache, suite: *suite, wipeCmdline: strings.TrimSpace("ramwipe.heldmap " + *wipeCmdline), keepRAM: *keepRAM}
	if *verbose {
		e.verbose = stderr
	}
	if err := e.prepare(*deb); err != nil {
		return err
	}
	defer os.Remove(e.disk)
	agent := filepath.Join(work, "agent")
	build := exec.Command("go", "build", "-trimpath", "-o", agent, "./qemu-tests/agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build agent: %v\n%s", err, out)
	}
	if err := e.addToDebImage(agent); err != nil {
		return err
	}

	type scenario struct {
		name string
		run  func(context.Context, *Record, *env)
		tier tier
	}
	all := []scenario{
		{"install-reboot-poweroff", installRebootPoweroff, tierTest},
		{"hotkey", hotkey, tierTest},
		{"skip-negative-control", skip, tierTest},
		{"kexec", kexecVerb, tierAll},
		{"purge", purge, tierTest},
		{"check", checkScenario, tierTest},
		{"sigkill", sigkill, tierAll},
		{"dracut", dracut, tierAll},
		{"poweroff", poweroff, tierByName},
		{"peer-kicksecure", peerKicksecure, tierByName},
	}
	// -run NAME runs that scenario alone; otherwise every scenario of the
	// tiers asked for (-all) whose name contains -run's text.
	exact := false
	for _, s := range all {
		exact = exact || s.name == *only
	}
	candidates := all
	if strings.Contains(*only, ",") {
		candidates, exact = nil, true
		for _, name := range strings.Split(*only, ",") {
			i := slices.IndexFunc(all, func(s scenario) bool { return s.name == name })
			if i < 0 {
				return fmt.Errorf("-run %q: no scenario %q", *only, name)
			}
			candidates = append(candidates, all[i])
		}
	}
	var chosen []scenario
	for _, s := range candidates {
		if exact && !slices.Contains(strings.Split(*only, ","), s.name) || !exact && (s.tier == tierByName || s.tier == tierAll && !*allTiers || !strings.Contains(s.name, *only)) {
			continue
		}
		base := s.name
		for i := range max(*repeat, 1) {
			if i > 0 {
				s.name = fmt.Sprintf("%s-%d", base, i+1)
			}
			chosen = append(chosen, s)
		}
	}
	var recs []Record
	for _, s := range chosen {
		fmt.Fprintf(stdout, "fullsys: %-26s ... ", s.name)
		rec := Record{Name: s.name}
		start := time.Now()
		logf, err := os.Create(filepath.Join(work, "console-"+s.name+".log"))
		if err != nil {
			return err
		}
		e.console = logf
		if e.verbose != nil {
			e.console = io.MultiWriter(logf, e.verbose)
		}
		limit := 12 * time.Minute
		if strings.HasPrefix(s.name, "dracut") {
			limit = 40 * time.Minute // it builds its own image first (debootstrap; 12 minutes seen under load)
		}
		sctx, cancel := context.WithTimeout(ctx, limit)
		s.run(sctx, &rec, e)
		cancel()
		rec.Interrupted = ctx.Err() != nil
		logf.Close()
		rec.time("scenario", time.Since(start))
		rec.Pass = len(rec.Failures) == 0
		verdict := "ok"
		if !rec.Pass {
			verdict = "FAIL (console: " + logf.Name() + ")"
		}
		fmt.Fprintf(stdout, "%s (%.0fs)\n", verdict, time.Since(start).Seconds())
		for _, f := range rec.Failures {
			fmt.Fprintf(stdout, "    %s\n", f)
		}
		recs = append(recs, rec)
		if *soak > 0 {
			if err := writeSoak(filepath.Join(work, "soak.json"), *soak, recs); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "fullsys: soak: %s\n", soakCount(recs, *soak))
		}
		if ctx.Err() != nil || (s.name == "install-reboot-poweroff" && !rec.Pass && *repeat == 1) {
			break // the later scenarios need the installed system
		}
	}
	b, _ := json.MarshalIndent(map[string]any{"image": filepath.Base(e.imageDir), "image_build": img, "scenarios": recs}, "", "  ")
	if err := os.WriteFile(filepath.Join(work, "report.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	writeTable(stdout, recs)
	for _, r := range recs {
		if r.Map != "" {
			fmt.Fprintf(stdout, "memory map of %s, before and after: %s\n", r.Name, r.Map)
		}
	}
	var failed []string
	for _, r := range recs {
		if !r.Pass {
			failed = append(failed, r.Name)
		}
	}
	if len(failed) > 0 || len(recs) < len(chosen) {
		return fmt.Errorf("%d scenarios failed or did not run: %s", len(chosen)-len(recs)+len(failed), strings.Join(failed, ", "))
	}
	return nil
}

// imageBuild is how the guest image was had: built now, or found in the
// cache with the same recipe.
type imageBuild struct {
	Dir     string  `json:"dir"`
	Built   bool    `json:"built"`
	Seconds float64 `json:"seconds"`
}

// buildImage runs build-image.sh, which prints the image's directory and,
// only when it builds, what it does on stderr.
func buildImage(ctx context.Context, cache, suite, flavour string, stderr io.Writer) (*imageBuild, error) {
	start := time.Now()
	var log strings.Builder
	args := []string{"qemu-tests/fullsys/build-image.sh", cache, suite}
	if flavour != "" {
		args = append(args, flavour)
	}
	cmd := exec.CommandContext(ctx, "sh", args...)
	cmd.Stderr = io.MultiWriter(stderr, &log)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("build-image.sh %s: %w", cache, err)
	}
	return &imageBuild{
		Dir:     strings.TrimSpace(string(out)),
		Built:   strings.Contains(log.String(), "debootstrap"),
		Seconds: time.Since(start).Seconds(),
	}, nil
}

// prepare copies the root disk, formats a fresh LUKS2 volume with a new
// key, and puts the .deb on a disk of its own.
func (e *env) prepare(deb string) error {
	e.disk = filepath.Join(e.work, "root.img")
	if out, err := exec.Command("cp", "--sparse=always", filepath.Join(e.imageDir, "root.img"), e.disk).CombinedOutput(); err != nil {
		return fmt.Errorf("copy root disk: %v: %s", err, out)
	}
	e.key = make([]byte, 64)
	if _, err := rand.Read(e.key); err != nil {
		return err
	}
	e.data = filepath.Join(e.work, "data.img")
	if err := lab.FormatLUKS(e.data, 64<<20, e.key, passphrase); err != nil {
		return err
	}
	if _, err := os.Stat(deb); err != nil {
		return fmt.Errorf("%w (make deb)", err)
	}
	img, err := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/lib/ramwipe/ramwipe-initramfs.cpio`, "sh", deb).Output()
	if err != nil || len(img) == 0 {
		return fmt.Errorf("the wipe image in %s: %v", deb, err)
	}
	e.wipeImage = img
	e.debImg = filepath.Join(e.work, "deb.img")
	return e.addToDebImage(deb)
}

// addToDebImage (re)makes the small disk with the .deb and the agent.
func (e *env) addToDebImage(files ...string) error {
	dir := filepath.Join(e.work, "debdisk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		name := filepath.Base(f)
		if strings.HasSuffix(name, ".deb") {
			name = "ramwipe.deb"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			return err
		}
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "labdeb", "-d", dir, e.debImg, "32M").CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 deb disk: %v: %s", err, out)
	}
	return nil
}

// guest is a booted full system with its lab shell.
type guest struct {
	vm     *lab.VM
	booted time.Time // when the lab shell came up
}

// boot starts the guest and waits for its lab shell.
func (e *env) boot(ctx context.Context, r *Record, cmdlineExtra string) *guest {
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
	l, err := vm.WaitLine(ctx, "LAB SHELL up")
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
	_, ok := g.must(ctx, r, "dpkg -s ramwipe >/dev/null 2>&1 || dpkg -i /mnt/deb/ramwipe.deb", 5*time.Minute)
	return ok && g.heldMap(ctx, r, e)
}

// heldMap sets the guest's cmdline_extra to e.wipeCmdline (ramwipe.heldmap
// and what -wipe-cmdline adds): the wipe image prints its held-map, so that
// the post dump tells the pages the wipe kernel rebuilt for itself from old
// ones, as in the memory lab. ramwiped re-arms with it.
func (g *guest) heldMap(ctx context.Context, r *Record, e *env) bool {
	line := "cmdline_extra = " + e.wipeCmdline
	_, ok := g.must(ctx, r, fmt.Sprintf("grep -qx '%[1]s' /etc/ramwipe/ramwipe.conf || { sed -i '/^cmdline_extra =/d' /etc/ramwipe/ramwipe.conf && echo '%[1]s' >> /etc/ramwipe/ramwipe.conf && systemctl restart ramwiped; }", line), 2*time.Minute)
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
	pre, keyPre, err := g.vm.DumpScan(ctx, sc.Pre, e.key)
	if err != nil {
		r.fail("pre dump: %v", err)
		return nil
	}
	r.Pre, r.KeyPre = &pre, keyPre
	if pre.FoundFraction < 0.9 {
		r.fail("positive control: only %.1f %% of the canaries visible before the trigger", 100*pre.FoundFraction)
	}
	if k := keyPre; k == nil || k.Raw+k.Halves == 0 || k.Schedules == 0 {
		r.fail("positive control: the data volume's key was not visible before the trigger (%+v)", k)
	}
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
	post, keyPost, err := g.vm.DumpScan(ctx, sc.Post, e.key)
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
	if r.Post.CanaryCells > 0 {
		r.fail("%d canary pages survived at %v", r.Post.CanaryExact+r.Post.CanaryPartial, r.Post.CanaryRanges)
	}
	if r.Post.OldPages > 0 {
		r.fail("%d old-system pages survived outside the firmware ranges, the wipe kernel's image and its held-map, at %v", r.Post.OldPages, r.Post.OldRanges)
	}
	r.check("old_pages", fmt.Sprintf("%d outside the firmware ranges, the wipe kernel's image and its held-map (%d pages) at %v; apart: %d file pages of the public wipe image, %d unchanged since an earlier wipe", r.Post.OldPages, r.Post.HeldPages, r.Post.OldRanges, r.Post.OldImage, r.Post.OldEarlier))
	if k := r.KeyPost; k != nil && k.Total() > 0 {
		r.fail("the data volume's key survived: %+v", *k)
	}
	if r.Summary == "" {
		r.fail("the wipe image never reported its fill")
	}
}

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
	img, err := buildImage(ctx, e.cache, e.suite, "dracut", e.console)
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

func writeTable(w io.Writer, recs []Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tpre canaries\tkey pre (raw/sched)\tpost canary pages\tkey post\ttimes (s)\tverdict")
	for _, r := range recs {
		pre, kpre, post, kpost := "-", "-", "-", "-"
		if r.Pre != nil {
			pre = fmt.Sprintf("%.1f%%", 100*r.Pre.FoundFraction)
		}
		if k := r.KeyPre; k != nil {
			kpre = fmt.Sprintf("%d/%d", k.Raw, k.Schedules)
		}
		if r.Post != nil {
			post = fmt.Sprintf("%d (%.1f%%)", r.Post.CanaryExact+r.Post.CanaryPartial, 100*r.Post.FoundFraction)
		}
		if k := r.KeyPost; k != nil {
			kpost = fmt.Sprint(k.Total())
		}
		var times []string
		for _, k := range []string{"boot_to_shell", "boot_to_armed", "install_to_armed", "reboot_to_armed", "poweroff_to_off", "hotkey_to_off", "poweroff_without_wipe_to_off", "kexec_to_shell", "kernel_upgrade_to_rearmed", "blind_unit_status_ok", "blind_on-failure-1s_status_ok", "poweroff_in_blind_window_to_off"} {
			if v, ok := r.Times[k]; ok {
				times = append(times, fmt.Sprintf("%s %.1f", k, v))
			}
		}
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, pre, kpre, post, kpost, strings.Join(times, ", "), verdict)
	}
	tw.Flush()
}

func firstLine(s, contains string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, contains) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func indent(s string) string {
	return "    | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    | ")
}
