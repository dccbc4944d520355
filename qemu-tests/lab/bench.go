package lab

import (
	"fmt"
	"regexp"
	"strconv"
)

// BenchReport is what the lab's benchmark (lab -bench) writes to
// bench.json: every scenario of one run on one machine, with the raw lab
// record and the benchmark's own figures.
type BenchReport struct {
	Kernel   string `json:"kernel"`
	Contract string `json:"contract_cmdline"`
	Started  string `json:"started"`
	// Seconds is the wall time of the whole run.
	Seconds float64      `json:"seconds"`
	Entries []BenchEntry `json:"scenarios"`
}

// BenchEntry is one scenario of a benchmark run.
type BenchEntry struct {
	Record
	// Variant is the scenario's name without its size.
	Variant string `json:"variant"`
	// Memset is the wipe image's own memset, timed before the fill
	// (ramwipe.lab=memset=MiB).
	Memset *Memset `json:"memset,omitempty"`
	// Sdmem is secure-delete's sdmem run in the old system instead of a
	// kexec (the peer scenario).
	Sdmem *Sdmem `json:"sdmem,omitempty"`
	// Map is the before/after memory map PNG, relative to bench.json.
	Map string `json:"map,omitempty"`
}

// Memset is a timed clear() of MiB in the wipe image, with Threads threads.
type Memset struct {
	MiB     int `json:"mib"`
	Threads int `json:"threads"`
	// FreshMiBs: memory mapped just before, so page faults and the
	// kernel's zeroing are included, as in the fill.
	FreshMiBs float64 `json:"fresh_mib_s"`
	// ResidentMiBs: memory already faulted in: memset bandwidth.
	ResidentMiBs float64 `json:"resident_mib_s"`
	// OOMKillMS, FullMS and FirstEndMS: from the fill's start, by the
	// kernel log's clock, when the OOM killer ended a worker (memory was
	// full), when the fill learned it and stopped, and when it saw the
	// first worker end; 0 if not seen.
	OOMKillMS  float64 `json:"oom_kill_ms,omitempty"`
	FullMS     float64 `json:"full_ms,omitempty"`
	FirstEndMS float64 `json:"first_end_ms,omitempty"`
}

// Sdmem is how secure-delete's sdmem -ll ended in the guest.
type Sdmem struct {
	Seconds float64 `json:"seconds"`
	Status  string  `json:"status"`
	Output  string  `json:"output,omitempty"`
}

var (
	memsetRE       = regexp.MustCompile(`ramwipe: lab: memset (\d+) MiB, (\d+) threads: fresh ([0-9.]+) MiB/s, resident ([0-9.]+) MiB/s`)
	fillTimelineRE = regexp.MustCompile(`ramwipe: lab: fill timeline: OOM kill at ([0-9.-]+) ms, full at ([0-9.-]+) ms`)
	firstEndRE     = regexp.MustCompile(`ramwipe: lab: fill timeline: first worker ended at ([0-9.-]+) ms`)
	sdmemRE        = regexp.MustCompile(`^LAB SDMEM ([0-9.]+) (\S+) ?(.*)$`)
)

// ParseBench reads the benchmark's figures from a guest's console lines.
func ParseBench(lines []string) (*Memset, *Sdmem) {
	var m *Memset
	var s *Sdmem
	for _, l := range lines {
		if x := memsetRE.FindStringSubmatch(l); x != nil {
			m = &Memset{}
			m.MiB, _ = strconv.Atoi(x[1])
			m.Threads, _ = strconv.Atoi(x[2])
			m.FreshMiBs, _ = strconv.ParseFloat(x[3], 64)
			m.ResidentMiBs, _ = strconv.ParseFloat(x[4], 64)
		}
		if x := fillTimelineRE.FindStringSubmatch(l); x != nil && m != nil {
			m.OOMKillMS, _ = strconv.ParseFloat(x[1], 64)
			m.FullMS, _ = strconv.ParseFloat(x[2], 64)
		}
		if x := firstEndRE.FindStringSubmatch(l); x != nil && m != nil {
			m.FirstEndMS, _ = strconv.ParseFloat(x[1], 64)
		}
		if x := sdmemRE.FindStringSubmatch(l); x != nil {
			s = &Sdmem{Status: x[2], Output: x[3]}
			s.Seconds, _ = strconv.ParseFloat(x[1], 64)
		}
	}
	return m, s
}

var freeRE = regexp.MustCompile(` of (\d+) MiB free in `)

// FreeMiB is the memory free when the fill started (MemAvailable), from
// the wipe image's summary line, or 0.
func (r Record) FreeMiB() int {
	m := freeRE.FindStringSubmatch(r.Summary)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// FillMiBs is the fill's throughput: the memory free when it started over
// the time until memory was full, or 0. Not the bytes the workers filled:
// with several workers, the others fill again what the first one to run
// out of memory frees as it ends, until they are killed.
func (r Record) FillMiBs() float64 {
	if r.Timings.Fill <= 0 {
		return 0
	}
	return float64(r.FreeMiB()) / r.Timings.Fill
}

// Residue is what a post dump kept: canary pages (whole and partial),
// old-system pages, the fraction of planted canaries found, and the share
// of the dump's pages that hold either (each page counted once, by its
// [Class]).
func (r Record) Residue() (canaryPages, oldPages int, found, share float64, err error) {
	if r.Post == nil {
		return 0, 0, 0, 0, fmt.Errorf("%s: no post dump", r.Name)
	}
	if r.Post.Pages > 0 {
		share = float64(r.Post.ClassPages[ClassOld.String()]+r.Post.ClassPages[ClassCanary.String()]) / float64(r.Post.Pages)
	}
	return r.Post.CanaryExact + r.Post.CanaryPartial, r.Post.OldPages, r.Post.FoundFraction, share, nil
}
