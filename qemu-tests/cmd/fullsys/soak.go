package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// soakRun is one poweroff of a soak, as soak.json keeps it.
type soakRun struct {
	Name string `json:"name"`
	// Complete: 0 canary pages, 0 old-system pages outside what the
	// scanner counts apart, 0 key traces, the wipe image's fill summary
	// seen, the guest off by itself.
	Complete      bool     `json:"complete_wipe"`
	CanaryPages   int      `json:"canary_pages_after"`
	CanariesPre   float64  `json:"canaries_before_fraction"`
	OldPages      int      `json:"old_pages_after"`
	KeyTraces     int      `json:"key_traces_after"`
	PoweroffToOff float64  `json:"poweroff_to_off_s,omitempty"`
	Summary       string   `json:"wipe_summary,omitempty"`
	QEMU          []string `json:"qemu_events,omitempty"`
	Failures      []string `json:"failures,omitempty"`
}

// writeSoak writes soak.json: how many of the asked poweroffs ran and how
// many of them wiped completely, then each run. It is rewritten after every
// run, so that a soak cut short still says what it saw.
func writeSoak(path string, asked int, recs []Record) error {
	runs := make([]soakRun, 0, len(recs))
	complete := 0
	recs, interrupted := finished(recs)
	for _, r := range recs {
		s := soakRun{Name: r.Name, Complete: r.Pass, PoweroffToOff: r.Times["poweroff_to_off"], Summary: r.Summary, QEMU: r.QEMU, Failures: r.Failures}
		if r.Pre != nil {
			s.CanariesPre = r.Pre.FoundFraction
		}
		if r.Post != nil {
			s.CanaryPages, s.OldPages = r.Post.CanaryExact+r.Post.CanaryPartial, r.Post.OldPages
		} else {
			s.Complete = false
		}
		if r.KeyPost != nil {
			s.KeyTraces = r.KeyPost.Total()
		}
		if s.Complete {
			complete++
		}
		runs = append(runs, s)
	}
	b, err := json.MarshalIndent(map[string]any{
		"asked": asked, "ran": len(recs), "complete_wipes": complete, "interrupted": interrupted,
		"summary": soakCount(recs, asked), "runs": runs,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// soakCount says "K/N complete wipes" for the runs so far.
func soakCount(recs []Record, asked int) string {
	recs, _ = finished(recs)
	complete := 0
	for _, r := range recs {
		if r.Pass && r.Post != nil {
			complete++
		}
	}
	s := fmt.Sprintf("%d/%d complete wipes (poweroff through the shutdown hook)", complete, len(recs))
	if len(recs) < asked {
		s += fmt.Sprintf(", %d of %d asked ran", len(recs), asked)
	}
	return s
}

// finished returns the runs that were not interrupted (a soak stopped with
// Ctrl-C: that run's failures say nothing about the wipe), and how many were.
func finished(recs []Record) ([]Record, int) {
	var done []Record
	for _, r := range recs {
		if !r.Interrupted {
			done = append(done, r)
		}
	}
	return done, len(recs) - len(done)
}
