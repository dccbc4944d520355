package fill

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// progressSum adds up the records a worker wrote.
func progressSum(t *testing.T, b []byte) uint64 {
	t.Helper()
	require.Zero(t, len(b)%8, "progress records are 8 bytes")
	var sum uint64
	for i := 0; i < len(b); i += 8 {
		sum += binary.LittleEndian.Uint64(b[i:])
	}
	return sum
}

func TestWorkerLimitRealMemory(t *testing.T) {
	// The real mmap and MADV_POPULATE_WRITE, capped: never fill a host.
	var progress bytes.Buffer
	w := Worker{Pattern: 0xa5, HugePages: true, Limit: 40 << 20, Progress: &progress}
	require.NoError(t, w.Run())
	assert.Equal(t, uint64(40<<20), progressSum(t, progress.Bytes()))
}

func TestWorkerShrinksChunksUntilOutOfMemory(t *testing.T) {
	// A fake machine with 300 MiB + 100 KiB free: the worker must take
	// chunks from 256 MiB down to 64 KiB and report ErrNoMemory.
	free := 300<<20 + 100<<10
	var sizes []int
	var progress bytes.Buffer
	w := Worker{
		Progress: &progress,
		mmap: func(size int) ([]byte, error) {
			sizes = append(sizes, size)
			return make([]byte, size), nil
		},
		populate: func(b []byte) error {
			if len(b) > free {
				return unix.ENOMEM
			}
			free -= len(b)
			return nil
		},
	}
	require.ErrorIs(t, w.Run(), ErrNoMemory)
	assert.Equal(t, uint64(300<<20+64<<10), progressSum(t, progress.Bytes()))
	assert.Equal(t, 256<<20, sizes[0])
	assert.Equal(t, 64<<10, sizes[len(sizes)-1])
	assert.Less(t, free, 64<<10, "left less than the smallest chunk")
}

func TestWorkerPattern(t *testing.T) {
	var got []byte
	w := Worker{
		Pattern: 0x5a, Limit: 3 * pageSize,
		mmap:     func(size int) ([]byte, error) { got = make([]byte, size); return got, nil },
		populate: func([]byte) error { return nil },
	}
	require.NoError(t, w.Run())
	assert.Equal(t, bytes.Repeat([]byte{0x5a}, 3*pageSize), got)
}

func TestFillPattern(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4095, 4096, 1<<20 + 3} {
		b := make([]byte, n)
		fillPattern(b, 0xee)
		assert.Equal(t, bytes.Repeat([]byte{0xee}, n), b, "fillPattern(%d bytes)", n)
	}
}

// fakeProc is a worker run by a goroutine: it reports chunks bytes and then
// ends with end, or waits for Kill.
type fakeProc struct {
	done   chan struct{}
	killed chan struct{}
	once   sync.Once
	err    error
}

func (p *fakeProc) Wait() error { <-p.done; return p.err }
func (p *fakeProc) Kill()       { p.once.Do(func() { close(p.killed) }) }

type fakeWorker struct {
	chunks   []uint64
	end      error // returned by Wait when it ends by itself
	hang     bool  // wait for Kill instead of ending
	startErr error
}

func starter(t *testing.T, ws []fakeWorker) StartFunc {
	return func(i int, w *os.File) (Proc, error) {
		fw := ws[i]
		if fw.startErr != nil {
			return nil, fw.startErr
		}
		fd, err := unix.Dup(int(w.Fd()))
		require.NoError(t, err)
		out := os.NewFile(uintptr(fd), "progress")
		p := &fakeProc{done: make(chan struct{}), killed: make(chan struct{})}
		go func() {
			defer close(p.done)
			defer out.Close()
			var rec [8]byte
			for _, c := range fw.chunks {
				binary.LittleEndian.PutUint64(rec[:], c)
				_, _ = out.Write(rec[:])
			}
			if fw.hang {
				<-p.killed
				return
			}
			p.err = fw.end
		}()
		return p, nil
	}
}

func TestRunStopsAtFirstFullWorker(t *testing.T) {
	var reports []Progress
	full := 0
	res, err := Run(context.Background(), Options{
		Workers: 3,
		Start: starter(t, []fakeWorker{
			{chunks: []uint64{10, 20}},        // ran out of memory
			{chunks: []uint64{5}, hang: true}, // still filling: killed
			{chunks: []uint64{1}, hang: true},
		}),
		Total:    100,
		Progress: func(p Progress) { reports = append(reports, p) },
		OnFull:   func() { full++ },
	})
	require.NoError(t, err)
	assert.True(t, res.Full)
	assert.False(t, res.TimedOut)
	assert.Equal(t, uint64(36), res.Bytes)
	assert.Equal(t, 1, full, "OnFull runs once, before the kill")
	require.NotEmpty(t, reports)
	last := reports[len(reports)-1]
	assert.True(t, last.Final)
	assert.Equal(t, uint64(36), last.Done)
	assert.Equal(t, uint64(100), last.Total)
}

func TestRunDoesNotWaitForKilledWorkers(t *testing.T) {
	// Worker 1 ignores Kill, as a worker does while the kernel frees the
	// memory it filled: Run returns once memory is full all the same.
	stuck := starter(t, []fakeWorker{{chunks: []uint64{7}}, {chunks: []uint64{3}, hang: true}})
	start := func(i int, w *os.File) (Proc, error) {
		p, err := stuck(i, w)
		if i == 1 {
			return ignoreKill{p}, err
		}
		return p, err
	}
	done := make(chan Result)
	go func() {
		res, err := Run(context.Background(), Options{Workers: 2, Start: start})
		assert.NoError(t, err)
		done <- res
	}()
	select {
	case res := <-done:
		assert.True(t, res.Full)
		assert.Equal(t, uint64(10), res.Bytes)
	case <-time.After(5 * time.Second):
		t.Fatal("Run waited for a killed worker to end")
	}
}

type ignoreKill struct{ Proc }

func (ignoreKill) Kill() {}

func TestRunWorkerFailuresDoNotStopOthers(t *testing.T) {
	res, err := Run(context.Background(), Options{
		Workers: 3,
		Start: starter(t, []fakeWorker{
			{startErr: errors.New("exec: no such file")},
			{chunks: []uint64{4}, end: errors.New("exit status 1")},
			{chunks: []uint64{8}},
		}),
	})
	assert.True(t, res.Full, "one worker still filled memory")
	assert.Equal(t, uint64(12), res.Bytes)
	assert.ErrorContains(t, err, "start worker 0: exec: no such file")
	assert.ErrorContains(t, err, "worker 1: exit status 1")
}

func TestRunNoWorkerStarts(t *testing.T) {
	res, err := Run(context.Background(), Options{
		Workers: 2,
		Start:   starter(t, []fakeWorker{{startErr: errors.New("a")}, {startErr: errors.New("b")}}),
	})
	assert.False(t, res.Full)
	assert.ErrorContains(t, err, "start worker 0: a")
	assert.ErrorContains(t, err, "start worker 1: b")
}

func TestRunDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed
	res, err := Run(ctx, Options{
		Workers: 2,
		Start:   starter(t, []fakeWorker{{chunks: []uint64{3}, hang: true}, {hang: true}}),
	})
	assert.True(t, res.TimedOut)
	assert.False(t, res.Full)
	assert.Equal(t, uint64(3), res.Bytes)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRunBadOptions(t *testing.T) {
	_, err := Run(context.Background(), Options{Workers: 0, Start: starter(t, nil)})
	assert.ErrorContains(t, err, "at least 1")
	_, err = Run(context.Background(), Options{Workers: 1})
	assert.ErrorContains(t, err, "no Start")
}

func TestProgressLine(t *testing.T) {
	p := Progress{Done: 256 << 20, Total: 512 << 20, Elapsed: 2 * time.Second}
	assert.Equal(t, "[##########..........]  50%    256/512 MiB   128 MiB/s  ETA 2s", p.Line(20))
	over := Progress{Done: 600 << 20, Total: 512 << 20, Elapsed: time.Second}
	assert.Contains(t, over.Line(10), "[##########] 100%")
	assert.Contains(t, over.Line(10), "ETA 0s")
	assert.Contains(t, Progress{Total: 1}.Line(4), "ETA  --")
}

func TestSummary(t *testing.T) {
	r := Result{Bytes: 400 << 20, Elapsed: 800 * time.Millisecond, Full: true}
	assert.Equal(t, "ramwipe: overwrote 400 MiB of 395 MiB free in 800ms (500 MiB/s): memory full", r.Summary(395<<20))
	assert.Contains(t, Result{TimedOut: true}.Summary(1), "STOPPED AT DEADLINE")
	assert.Contains(t, Result{}.Summary(1), "INCOMPLETE")
}

func BenchmarkFillPattern(b *testing.B) {
	buf := make([]byte, 64<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		fillPattern(buf, 0xa5)
	}
}
