package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestResultJudge: each kind of survivor fails a wipe, and each missing
// half of the positive control fails it too; a clean run passes.
func TestResultJudge(t *testing.T) {
	key := &KeyScan{Halves: 2, Schedules: 2}
	tests := []struct {
		name     string
		r        Result
		planted  bool
		failures int
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.JudgeControl(tt.planted)
			r.JudgeWiped()
			r.Judge()
			assert.Len(t, r.Failures, tt.failures, "%q", r.Failures)
			assert.Equal(t, tt.failures == 0, r.Pass)
		})
	}
}
