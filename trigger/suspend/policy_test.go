package suspend

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePolicy(t *testing.T) {
	good := map[string]Policy{
		"allow":               {Mode: Allow},
		"wipe":                {Mode: Wipe},
		"wipe-after 60s":      {Mode: WipeAfter, After: time.Minute},
		"wipe-after\t1h30m":   {Mode: WipeAfter, After: 90 * time.Minute},
		"  wipe-after  24h  ": {Mode: WipeAfter, After: 24 * time.Hour},
		"wipe-after 10s":      {Mode: WipeAfter, After: 10 * time.Second},
	}
	for in, want := range good {
		got, err := ParsePolicy(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		again, err := ParsePolicy(got.String())
		require.NoError(t, err, "String of %q", in)
		assert.Equal(t, got, again)
	}
	bad := map[string]string{
		"":                      "want allow, wipe or wipe-after",
		"Allow":                 "want allow, wipe or wipe-after",
		"wipe now":              "want allow, wipe or wipe-after",
		"wipe-after":            "needs a delay",
		"wipe-after 60":         "want a duration",
		"wipe-after 9s":         "from 10s to 24h0m0s",
		"wipe-after 25h":        "from 10s to 24h0m0s",
		"wipe-after -1m":        "from 10s",
		"wipe-after 10.5s":      "whole seconds",
		"wipe-after 1m 2s":      "want allow, wipe or wipe-after",
		strings.Repeat("w", 65): "longer than 64 bytes",
	}
	for in, want := range bad {
		_, err := ParsePolicy(in)
		assert.ErrorContains(t, err, want, "%q", in)
	}
}

func TestEvents(t *testing.T) {
	for _, k := range kinds {
		for _, ph := range []Phase{Pre, Post} {
			e, err := HookEvent([]string{string(ph), k})
			require.NoError(t, err)
			assert.Equal(t, Event{Phase: ph, Kind: k}, e)
			got, err := ParseEvent(e.Arg())
			require.NoError(t, err)
			assert.Equal(t, e, got)
			assert.Equal(t, k != Hibernate, e.KeepsRAM())
		}
	}
	for _, args := range [][]string{nil, {"pre"}, {"pre", "suspend", "x"}, {"during", "suspend"}, {"pre", "sleep"}} {
		_, err := HookEvent(args)
		assert.Error(t, err, "%q", args)
	}
	for _, arg := range []string{"", "pre", "pre-", "-suspend", "pre-Suspend", "pre suspend", "post-hybrid"} {
		_, err := ParseEvent(arg)
		assert.Error(t, err, "%q", arg)
	}
}

func TestMargin(t *testing.T) {
	assert.Equal(t, 3060*time.Millisecond, margin(time.Minute))
	assert.Equal(t, 3*time.Second+86400*time.Millisecond, margin(24*time.Hour))
}

// FuzzParsePolicy: whatever the config holds, the parser does not panic,
// and what it accepts it writes back as the same policy, within bounds.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"allow", "wipe", "wipe-after 60s", "wipe-after 1h30m", "wipe-after", "wipe-after 1e9h", " wipe-after\t10s "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			return
		}
		if p.Mode == WipeAfter && (p.After < MinDelay || p.After > MaxDelay || p.After%time.Second != 0) {
			t.Fatalf("%q: delay %v out of bounds", s, p.After)
		}
		again, err := ParsePolicy(p.String())
		if err != nil || again != p {
			t.Fatalf("%q → %v → %v, %v", s, p, again, err)
		}
	})
}

// FuzzParseEvent: the control request's argument comes from a client;
// ParseEvent accepts exactly what Event.Arg writes.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{"pre-suspend", "post-suspend-then-hibernate", "pre-hybrid-sleep", "post-", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEvent(s)
		if err != nil {
			return
		}
		if e.Arg() != s {
			t.Fatalf("%q parsed as %+v, which writes %q", s, e, e.Arg())
		}
	})
}
