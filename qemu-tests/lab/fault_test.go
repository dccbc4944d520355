package lab

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFaultAnalyse(t *testing.T) {
	lines := []Line{
		{Text: "[   18.373896] ramwipe-lab: rehearsal client killed"},
		{Text: "[   20.400000] ramwipe-lab: panic sent"},
		{Text: "LAB PANIC[   20.548472] ramwipe: panic step trigger"}, // interleaved
		{Text: "[   20.603436] ramwipe: panic step keys-wiped"},
		{Text: "[   20.603500] ramwipe: panic request sent 22104 us before keys-wiped"},
		{Text: "[   20.624607] ramwipe: panic step keyring-swept"},
		{Text: "[   20.627800] ramwipe: panic step kexec"},
	}
	var f Fault
	f.analyse(lines)
	assert.Equal(t, 1, f.Sequences)
	assert.Equal(t, 1, f.KeysWiped)
	assert.InDelta(t, 148.472, f.SentToTriggerMS, 0.01)
	assert.InDelta(t, 203.436, f.SentToKeysMS, 0.01)
	assert.InDelta(t, 227.8, f.SentToKexecMS, 0.01)
	assert.InDelta(t, 2174.576, f.MarkToTriggerMS["rehearsal client killed"], 0.01)
	assert.InDelta(t, 22.104, f.RequestSentToKeysMS, 0.0001)

	var failures []string
	fail := func(string, ...any) { failures = append(failures, "x") }
	f.judge(parsePanic(lines), fail)
	assert.Empty(t, failures)

	// A second sequence (a trigger that was not absorbed) fails.
	two := append(lines, Line{Text: "[   20.700000] ramwipe: panic step trigger"}, Line{Text: "[   20.800000] ramwipe: panic step keys-wiped"})
	f = Fault{}
	f.analyse(two)
	assert.Equal(t, 2, f.Sequences)
	f.judge(parsePanic(two), fail)
	assert.Len(t, failures, 1)

	// A key deadline that did not hold fails.
	failures = nil
	f = Fault{KeysWithinMS: 40}
	f.analyse(lines)
	f.judge(parsePanic(lines), fail)
	assert.Len(t, failures, 1)
}

// TestFaultRequestWithin: the bound on request sent → keys wiped fails
// when exceeded, and when ramwiped said nothing of the request's send time.
func TestFaultRequestWithin(t *testing.T) {
	base := []Line{
		{Text: "[   20.400000] ramwipe-lab: panic sent"},
		{Text: "[   20.548472] ramwipe: panic step trigger"},
		{Text: "[   20.603436] ramwipe: panic step keys-wiped"},
	}
	for _, tt := range []struct {
		name  string
		extra []Line
		fails bool
	}{
		{name: "within", extra: []Line{{Text: "[   20.603500] ramwipe: panic request sent 99000 us before keys-wiped"}}},
		{name: "over", extra: []Line{{Text: "[   20.603500] ramwipe: panic request sent 100001 us before keys-wiped"}}, fails: true},
		{name: "not said", fails: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines := append(append(append([]Line{}, base...), tt.extra...), Line{Text: "[   20.627800] ramwipe: panic step kexec"})
			f := Fault{RequestWithinMS: 100}
			f.analyse(lines)
			var failures []string
			f.judge(parsePanic(lines), func(format string, a ...any) { failures = append(failures, fmt.Sprintf(format, a...)) })
			if tt.fails {
				assert.Len(t, failures, 1)
			} else {
				assert.Empty(t, failures)
			}
		})
	}
}
