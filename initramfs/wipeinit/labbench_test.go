//go:build lab

package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseLabBench(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want labBench
		ok   bool
	}{
		{"memset=256", labBench{memsetMiB: 256}, true},
		{"memset=64,nohuge", labBench{memsetMiB: 64, noHuge: true}, true},
		{"nohuge", labBench{noHuge: true}, true},
		{"memset=x", labBench{}, false},
		{"noop", labBench{}, false},
	} {
		got, ok := parseLabBench(tt.in)
		assert.Equal(t, tt.ok, ok, "parseLabBench(%q)", tt.in)
		if ok {
			assert.Equal(t, tt.want, got, "parseLabBench(%q)", tt.in)
		}
	}
}

func TestTimeMemset(t *testing.T) {
	for _, passes := range []int{0, 2} {
		d, err := timeMemset(4<<20, 2, passes)
		assert.NoError(t, err)
		assert.Positive(t, d)
	}
}
