package lab

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBench(t *testing.T) {
	m, s := ParseBench([]string{
		"ramwipe: wiping memory",
		"ramwipe: lab: memset 256 MiB, 2 threads: fresh 310 MiB/s, resident 1234.5 MiB/s",
		"ramwipe: lab: fill timeline: OOM kill at 512 ms, full at 530 ms",
		"ramwipe: lab: fill timeline: first worker ended at 640 ms",
		"LAB SDMEM 12.250 signal:_killed Starting Wiping the memory",
	})
	require.NotNil(t, m)
	assert.Equal(t, Memset{MiB: 256, Threads: 2, FreshMiBs: 310, ResidentMiBs: 1234.5, OOMKillMS: 512, FullMS: 530, FirstEndMS: 640}, *m)
	require.NotNil(t, s)
	assert.Equal(t, Sdmem{Seconds: 12.25, Status: "signal:_killed", Output: "Starting Wiping the memory"}, *s)
	m, s = ParseBench(nil)
	assert.Nil(t, m)
	assert.Nil(t, s)
}

func TestRecordFigures(t *testing.T) {
	r := Record{FillMiB: 1000, Timings: Timings{Fill: 0.5}, Result: Result{Name: "x", Summary: "ramwipe: overwrote 1000 MiB of 900 MiB free in 500ms (2000 MiB/s): memory full", Post: &Scan{
		Pages: 100, CanaryExact: 2, CanaryPartial: 1, OldPages: 7, FoundFraction: 0.25,
		ClassPages: map[string]int{"old": 5, "canary": 3, "zero": 92},
	}}}
	assert.Equal(t, 1800.0, r.FillMiBs())
	c, o, f, share, err := r.Residue()
	require.NoError(t, err)
	assert.Equal(t, []any{3, 7, 0.25, 0.08}, []any{c, o, f, share})
	_, _, _, _, err = Record{}.Residue()
	assert.Error(t, err)
	assert.Zero(t, Record{}.FillMiBs())
	assert.Zero(t, Record{Timings: Timings{Fill: 1}}.FreeMiB())
}

func FuzzParseBench(f *testing.F) {
	f.Add("ramwipe: lab: memset 256 MiB, 2 threads: fresh 310 MiB/s, resident 1234.5 MiB/s\nramwipe: lab: fill timeline: OOM kill at 512 ms, fill saw it at 640 ms")
	f.Add("LAB SDMEM 12.250 signal:_killed Starting")
	f.Fuzz(func(t *testing.T, s string) {
		m, sd := ParseBench(strings.Split(s, "\n"))
		if m != nil && (m.MiB < 0 || m.Threads < 0 || m.FreshMiBs < 0 || m.ResidentMiBs < 0) {
			t.Fatalf("ParseBench(%q) = %+v", s, m)
		}
		if sd != nil && (sd.Seconds < 0 || sd.Status == "") {
			t.Fatalf("ParseBench(%q) sdmem = %+v", s, sd)
		}
	})
}
