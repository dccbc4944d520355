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
	// Result is what the memory lab records too: name, verdict, the
	// dumps' scans, the wipe image's report.
	lab.Result
	Checks map[string]string  `json:"checks,omitempty"`
	Times  map[string]float64 `json:"times_s,omitempty"`
	// Map is the before/after memory map's PNG.
	Map string `json:"memory_map,omitempty"`
	// QEMU lists the QMP events from the trigger on (SHUTDOWN with its
	// reason, RESET, …): how the guest ended.
	QEMU []string `json:"qemu_events,omitempty"`
	// Interrupted: the lab was stopped (Ctrl-C) while this scenario ran;
	// its failures say nothing about ramwipe.
	Interrupted bool `json:"interrupted,omitempty"`
}

func (r *Record) fail(format string, args ...any) { r.Fail(format, args...) }

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
	gi, err := findImage(*suite, initramfsTools)
	if err != nil {
		return fmt.Errorf("-suite %q: %w", *suite, err)
	}
	if *soak > 0 {
		*only, *repeat = "poweroff", *soak
	}
	var img *imageBuild
	if *cache != "" {
		if img, err = gi.build(ctx, *cache, stderr); err != nil {
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
		{"keyring-linked", keyringLinked, tierAll},
		{"keyring-askpw", keyringAskPassword, tierAll},
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
	var consoles []string // each record's console log, by index in recs
	for _, s := range chosen {
		fmt.Fprintf(stdout, "fullsys: %-26s ... ", s.name)
		rec := Record{Result: lab.Result{Name: s.name}}
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
		rec.Judge()
		verdict := "ok"
		if !rec.Pass {
			verdict = "FAIL (console: " + logf.Name() + ")"
		}
		fmt.Fprintf(stdout, "%s (%.0fs)\n", verdict, time.Since(start).Seconds())
		for _, f := range rec.Failures {
			fmt.Fprintf(stdout, "    %s\n", f)
		}
		recs = append(recs, rec)
		consoles = append(consoles, logf.Name())
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
	for i, r := range recs {
		if !r.Pass {
			failed = append(failed, r.Name)
			lab.WriteFailure(stdout, r.Result, consoles[i])
		}
	}
	if len(failed) > 0 || len(recs) < len(chosen) {
		return fmt.Errorf("%d scenarios failed or did not run: %s", len(chosen)-len(recs)+len(failed), strings.Join(failed, ", "))
	}
	return nil
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
