//go:build lab

package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/wipe/fill"
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

func TestTimeline(t *testing.T) {
	// A datagram socket pair keeps records apart, as /dev/kmsg does.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	kmsg, log := os.NewFile(uintptr(fds[0]), "kmsg"), os.NewFile(uintptr(fds[1]), "log")
	defer log.Close()
	lines := make(chan string, 1)
	logf := func(format string, args ...any) { lines <- fmt.Sprintf(format, args...) }
	start := timeline(kmsg, func(int, *os.File) (fill.Proc, error) { return doneProc{}, nil }, logf)
	for i := range 2 {
		p, err := start(i, nil)
		require.NoError(t, err)
		require.NoError(t, p.Wait())
	}
	buf := make([]byte, 100)
	n, err := log.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "<6>"+markStart+"\n", string(buf[:n]))
	n, err = log.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "<6>"+markEnded+"\n", string(buf[:n]), "one end mark for all workers")
	require.NotNil(t, labOnFull)
	labOnFull()
	n, err = log.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "<6>"+markFull+"\n", string(buf[:n]))
	for _, rec := range []string{
		"6,1,1000000,-;" + markStart + "\n",
		"3,2,1250000,-;Out of memory (oom_kill_allocating_task): Killed process 7 (init)\n",
		"6,3,1270000,-;" + markFull + "\n",
		"6,4,1400500,-;" + markEnded + "\n",
	} {
		_, err := log.Write([]byte(rec))
		require.NoError(t, err)
	}
	assert.Equal(t, "ramwipe: lab: fill timeline: OOM kill at 250 ms, full at 270 ms", <-lines)
	assert.Equal(t, "ramwipe: lab: fill timeline: first worker ended at 400 ms", <-lines)
}

type doneProc struct{}

func (doneProc) Wait() error { return nil }
func (doneProc) Kill()       {}
