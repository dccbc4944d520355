package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResultJudge: each kind of survivor fails a wipe, and each missing
// half of the positive control fails it too; a clean run passes.
func TestResultJudge(t *testing.T) {
	key := &KeyScan{Halves: 2, Schedules: 2}
	tests := []struct {
		name      string
		r         Result // Summary "ramwipe: overwrote …" is added unless noSummary
		noSummary bool
		planted   bool
		failures  int
	}{
		{name: "clean", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: key, Post: &Scan{}, KeyPost: &KeyScan{}}, planted: true},
		{name: "canary", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: key, Post: &Scan{CanaryCells: 1, CanaryExact: 1}, KeyPost: &KeyScan{}}, planted: true, failures: 1},
		{name: "old page", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: key, Post: &Scan{OldPages: 3}, KeyPost: &KeyScan{}}, planted: true, failures: 1},
		{name: "key trace", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: key, Post: &Scan{}, KeyPost: &KeyScan{Hex: 1}}, planted: true, failures: 1},
		{name: "no post dump", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: key}, planted: true, failures: 1},
		{name: "canaries not seen before", r: Result{Pre: &Scan{FoundFraction: 0.5}, KeyPre: key, Post: &Scan{}}, planted: true, failures: 1},
		{name: "key not seen before", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: &KeyScan{Halves: 2}, Post: &Scan{}}, planted: true, failures: 1},
		{name: "key not scanned", r: Result{Pre: &Scan{FoundFraction: 1}, Post: &Scan{}}, planted: true, failures: 1},
		{name: "no key planted", r: Result{Pre: &Scan{FoundFraction: 1}, Post: &Scan{}}},
		{name: "no fill report", r: Result{Pre: &Scan{FoundFraction: 1}, KeyPre: key, Post: &Scan{}, KeyPost: &KeyScan{}}, planted: true, noSummary: true, failures: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			if !tt.noSummary {
				r.Summary = "ramwipe: overwrote 384 MiB of 390 MiB free in 0.6s (640 MiB/s): memory full"
			}
			r.JudgeControl(tt.planted)
			r.JudgeWiped()
			r.Judge()
			assert.Len(t, r.Failures, tt.failures, "%q", r.Failures)
			assert.Equal(t, tt.failures == 0, r.Pass)
		})
	}
}

func TestWriteFailure(t *testing.T) {
	console := filepath.Join(t.TempDir(), "console.log")
	var lines []string
	for i := range consoleTail + 10 {
		lines = append(lines, fmt.Sprintf("console %02d", i))
	}
	require.NoError(t, os.WriteFile(console, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	var b strings.Builder
	WriteFailure(&b, Result{Name: "512M-smp1/crypt-drill", Failures: []string{"the wipe image never reported its fill"}}, console)
	out := b.String()
	assert.Contains(t, out, "512M-smp1/crypt-drill failed:\n    the wipe image never reported its fill\n")
	assert.Contains(t, out, "    | console 10\n")
	assert.Contains(t, out, fmt.Sprintf("    | console %02d\n", consoleTail+9))
	assert.NotContains(t, out, "console 09", "only the last lines")

	b.Reset()
	WriteFailure(&b, Result{Name: "x", Failures: []string{"f"}}, filepath.Join(t.TempDir(), "missing.log"))
	assert.Equal(t, "\nx failed:\n    f\n", b.String(), "no console log: the failures alone")
}
