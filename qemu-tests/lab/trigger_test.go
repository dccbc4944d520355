package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLockedFromIdle(t *testing.T) {
	tests := []struct {
		name, line string
		want       *LockedMemory
	}{
		{name: "with smaps", line: "LAB IDLE pid=114 seconds=60 threads=7 switches=2 control=593 cpu_ticks=0 rss_kb=43900 locked_kb=1228872 smaps_rss_kb=44132 smaps_locked_kb=44124 locked_binary_kb=3836 locked_heap_kb=4096 locked_stacks_kb=132 locked_other_kb=36060",
			want: &LockedMemory{RSSKB: 44132, TotalKB: 44124, BinaryKB: 3836, HeapKB: 4096, StacksKB: 132, OtherKB: 36060}},
		{name: "an older agent", line: "LAB IDLE pid=114 seconds=60 threads=7 switches=2 control=593 cpu_ticks=0 rss_kb=43900 locked_kb=1228872"},
		{name: "smaps unreadable", line: "LAB IDLE pid=114 seconds=60 threads=7 switches=2 control=593 cpu_ticks=0 rss_kb=-1 locked_kb=-1 smaps_error=open_/proc/114/smaps:_no_such_file"},
	}
	for _, tt := range tests {
		got := lockedFromIdle(tt.line)
		assert.Equal(t, tt.want, got, "lockedFromIdle(%q)", tt.line)
	}
}
