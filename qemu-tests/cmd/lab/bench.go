package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ramwipe/ramwipe/initramfs/archive"
	"github.com/ramwipe/ramwipe/qemu-tests/chart"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// benchRun is the lab's benchmark (-bench): one run of one guest kernel
// that measures the fill against the wipe image's own memset, ramwipe
// against each kernel option alone and secure-delete's sdmem, and the wipe
// at every size. It also draws memory maps (-maps, always with -bench).
type benchRun struct {
	on, maps bool
	sdmem    string // secure-delete's sdmem binary, for the peer scenario
	started  time.Time
	entries  []lab.BenchEntry
}

func newBenchRun(on, maps bool, sdmem string) *benchRun {
	return &benchRun{on: on, maps: maps || on, sdmem: sdmem, started: time.Now()}
}

// benchMemsetMiB is what the wipe image's timed memset clears.
const benchMemsetMiB = 256

var benchSizes = []size{{512, 2}, {1024, 2}, {2048, 2}, {4096, 2}}

// plan is the benchmark's scenario list with -bench, else the lab's.
func (b *benchRun) plan(vs []variant, contract string, all bool) []struct {
	v variant
	s size
} {
	if !b.on {
		return plan(vs, all)
	}
	byName := map[string]variant{}
	for _, v := range vs {
		byName[v.name] = v
	}
	fill := func(name string, workers int, hooks string) variant {
		return variant{name: name, labInit: true, expect: lab.ExpectWiped,
			cmdline: fmt.Sprintf("%s ramwipe.heldmap ramwipe.workers=%d ramwipe.lab=%s", contract, workers, hooks)}
	}
	memset := fmt.Sprintf("memset=%d", benchMemsetMiB)
	mid := benchSizes[1]
	var out []struct {
		v variant
		s size
	}
	add := func(s size, vs ...variant) {
		for _, v := range vs {
			out = append(out, struct {
				v variant
				s size
			}{v, s})
		}
	}
	add(mid,
		fill("fill-1-worker", 1, memset), fill("fill-2-workers", 2, memset),
		fill("fill-1-worker-nohuge", 1, memset+",nohuge"), fill("fill-2-workers-nohuge", 2, memset+",nohuge"),
		byName["default"], byName["memtest-only"], byName["init_on_free-only"],
		variant{name: "sdmem", labInit: true, cmdline: byName["no-wipe"].cmdline, expect: lab.ExpectMeasured, trigger: "sdmem"},
		byName["no-wipe"])
	for _, s := range benchSizes {
		if s != mid {
			add(s, byName["default"])
		}
	}
	// ramwiped fired by each kind of trigger, as in the lab: the trigger →
	// keys → kexec → off timeline (lab.Record.Panic) and, before the
	// trigger of crypt-panic, the daemon at rest (lab.Record.Idle); the
	// USB-insertion trigger and both suspend policies that wipe.
	add(sizes[0], byName["crypt-panic"], byName["crypt-hotkey"], byName["crypt-unplug"],
		byName["usb-insert"], byName["suspend-wipe"], byName["suspend-wipe-after"])
	return out
}

// files adds what a variant's guest needs beyond the lab's: sdmem and its
// libraries for the peer scenario.
func (b *benchRun) files(v variant) ([]archive.File, error) {
	if v.trigger != "sdmem" {
		return nil, nil
	}
	if b.sdmem == "" {
		return nil, fmt.Errorf("scenario %s: no -sdmem binary (make bench fetches secure-delete)", v.name)
	}
	return withLibs("sbin/sdmem", b.sdmem)
}

// record keeps a scenario's figures and draws its memory map.
func (b *benchRun) record(stdout io.Writer, dir, name, logPath string, s size, rec lab.Record) {
	e := lab.BenchEntry{Record: rec, Variant: name[strings.Index(name, "/")+1:]}
	if log, err := os.ReadFile(logPath); err == nil {
		e.Memset, e.Sdmem = lab.ParseBench(strings.FieldsFunc(string(log), func(r rune) bool { return r == '\n' || r == '\r' }))
	}
	if b.maps && rec.Pre != nil && rec.Post != nil {
		e.Map = "map-" + strings.ReplaceAll(name, "/", "-") + ".png"
		ram := uint64(s.mem) << 20
		if err := chart.MemoryMaps(filepath.Join(dir, e.Map), fmt.Sprintf("%s, %d MiB", e.Variant, s.mem), rec.Pre, rec.Post, lab.Layout{LowMem: lab.Q35LowMem(ram)}, ram); err != nil {
			fmt.Fprintf(stdout, "    memory map: %v\n", err)
			e.Map = ""
		}
	}
	b.entries = append(b.entries, e)
}

// write writes dir/bench.json with -bench.
func (b *benchRun) write(dir, kernel, contract string) error {
	if !b.on {
		return nil
	}
	r := lab.BenchReport{Kernel: filepath.Base(kernel), Contract: contract, Started: b.started.UTC().Format(time.RFC3339),
		Seconds: time.Since(b.started).Seconds(), Entries: b.entries}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench.json"), append(out, '\n'), 0o644)
}
