package fill

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOOMKill(t *testing.T) {
	for _, c := range []struct {
		rec  string
		want bool
	}{
		{"3,812,5001234,-;Out of memory (oom_kill_allocating_task): Killed process 97 (init) total-vm:1057216kB, anon-rss:412000kB\n", true},
		{"3,812,5001234,-;Out of memory: Killed process 97 (init) total-vm:1kB\n SUBSYSTEM=x\n", true},
		{"6,13,5001234,-;ramwipe: lab: fill start\n", false},
		// Only the message counts, not a dictionary line that quotes it.
		{"6,13,5001234,-;something else\n MSG=: Killed process 1\n", false},
		{"no header: Killed process 1", false},
		{"", false},
	} {
		if got := OOMKill([]byte(c.rec)); got != c.want {
			t.Errorf("OOMKill(%q) = %v, want %v", c.rec, got, c.want)
		}
	}
}

// records is a fake /dev/kmsg: one record per Read, then errors.
type records struct {
	recs []string
	errs []error
}

func (r *records) Read(p []byte) (int, error) {
	if len(r.recs) == 0 {
		return 0, io.EOF
	}
	rec, err := r.recs[0], r.errs[0]
	r.recs, r.errs = r.recs[1:], r.errs[1:]
	return copy(p, rec), err
}

func TestWatchOOM(t *testing.T) {
	kmsg := &records{
		recs: []string{"6,1,1,-;fill start\n", "", "3,2,2,-;Out of memory: Killed process 9 (init)\n"},
		errs: []error{nil, syscall.EPIPE, nil},
	}
	select {
	case <-WatchOOM(kmsg):
	case <-time.After(10 * time.Second):
		t.Fatal("no OOM kill seen")
	}

	quiet := WatchOOM(&records{recs: []string{"6,1,1,-;fill start\n"}, errs: []error{nil}})
	time.Sleep(10 * time.Millisecond)
	select {
	case <-quiet:
		t.Fatal("memory full without an OOM kill")
	default:
	}
}

func TestRunFullFromKernel(t *testing.T) {
	// Both workers are still filling (the one the OOM killer ended is
	// still being freed): the kernel's report ends the fill.
	full := make(chan struct{})
	close(full)
	onFull := 0
	res, err := Run(context.Background(), Options{
		Workers: 2,
		Start:   starter(t, []fakeWorker{{chunks: []uint64{5}, hang: true}, {chunks: []uint64{3}, hang: true}}),
		Full:    full,
		OnFull:  func() { onFull++ },
	})
	require.NoError(t, err)
	assert.True(t, res.Full)
	assert.True(t, res.FullFromKernel)
	assert.Equal(t, 1, onFull)
	assert.Equal(t, uint64(8), res.Bytes)
}
