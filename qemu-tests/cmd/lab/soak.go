package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ramwipe/ramwipe/initramfs/archive"
	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// soakEntry is one scenario's line of the soak summary (soak.json).
type soakEntry struct {
	Name string `json:"name"`
	Runs int    `json:"runs"`
	// Complete counts the runs that passed: for a wiping scenario, 0
	// canary pages, 0 old-system pages, 0 key traces, powered off by itself.
	Complete int      `json:"complete_wipes"`
	Failed   []string `json:"failed,omitempty"`
	// TriggerToKeysMS and TriggerToKexecMS: min, median and max over the
	// runs that have them (guest clock), for daemon scenarios.
	TriggerToKeysMS  []float64 `json:"trigger_to_keys_wiped_ms_min_median_max,omitempty"`
	TriggerToKexecMS []float64 `json:"trigger_to_kexec_ms_min_median_max,omitempty"`
}

// writeSoak prints "N/N complete wipes" per scenario and writes soak.json.
func writeSoak(w io.Writer, dir string, repeat int, recs []lab.Record) error {
	var order []string
	by := map[string]*soakEntry{}
	keys, kexecs := map[string][]float64{}, map[string][]float64{}
	for _, r := range recs {
		base, _, _ := strings.Cut(r.Name, "#")
		e, ok := by[base]
		if !ok {
			e = &soakEntry{Name: base}
			by[base] = e
			order = append(order, base)
		}
		e.Runs++
		if r.Pass {
			e.Complete++
		} else {
			e.Failed = append(e.Failed, r.Name+": "+strings.Join(r.Failures, "; "))
		}
		if r.Panic != nil {
			keys[base] = append(keys[base], r.Panic.TriggerToKeysMS)
			kexecs[base] = append(kexecs[base], r.Panic.TriggerToKexecMS)
		}
	}
	var out []soakEntry
	fmt.Fprintln(w)
	for _, name := range order {
		e := by[name]
		e.TriggerToKeysMS, e.TriggerToKexecMS = minMedMax(keys[name]), minMedMax(kexecs[name])
		line := fmt.Sprintf("soak: %s: %d/%d complete wipes", name, e.Complete, e.Runs)
		if k := e.TriggerToKeysMS; k != nil {
			line += fmt.Sprintf("; trigger → keys erased %.1f / %.1f / %.1f ms (min / median / max, guest clock)", k[0], k[1], k[2])
		}
		fmt.Fprintln(w, line)
		out = append(out, *e)
	}
	b, _ := json.MarshalIndent(map[string]any{"repeat": repeat, "scenarios": out}, "", "  ")
	return os.WriteFile(filepath.Join(dir, "soak.json"), append(b, '\n'), 0o644)
}

func minMedMax(v []float64) []float64 {
	if len(v) == 0 {
		return nil
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return []float64{v[0], v[len(v)/2], v[len(v)-1]}
}

// panicLine is the console summary of a daemon scenario's panic: its
// guest-clock times, the key traces left, and what the fault showed.
func panicLine(r lab.Record) string {
	if r.Panic == nil {
		return ""
	}
	s := fmt.Sprintf("trigger → keys erased %.1f ms / → kexec %.1f ms (guest clock)", r.Panic.TriggerToKeysMS, r.Panic.TriggerToKexecMS)
	if r.KeyPost != nil {
		s += fmt.Sprintf("; key traces after: %d", r.KeyPost.Total())
	}
	if r.Post != nil {
		s += fmt.Sprintf("; canary pages after: %d", r.Post.CanaryExact+r.Post.CanaryPartial)
	}
	if r.Fault != nil {
		s += "; " + r.Fault.String()
	}
	return s
}

// hungCryptFiles are fault-hung-crypt's extra guest files: a second LUKS2
// volume (the lower device, which the guest suspends) and the key of the
// plain dm-crypt device over it. Fresh keys each time.
func hungCryptFiles(tmp string) ([]archive.File, error) {
	lower := make([]byte, 64)
	upper := make([]byte, 64)
	if _, err := rand.Read(lower); err != nil {
		return nil, err
	}
	if _, err := rand.Read(upper); err != nil {
		return nil, err
	}
	img, err := luksImage(tmp, lower)
	if err != nil {
		return nil, err
	}
	return []archive.File{
		{Name: "lab/crypt/lower.img", Data: img, Mode: 0o600},
		{Name: "lab/crypt/upper.key", Data: upper, Mode: 0o600},
	}, nil
}
