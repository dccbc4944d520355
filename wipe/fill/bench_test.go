package fill

import (
	"fmt"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// benchSize is the memory every BenchmarkWipe operation overwrites.
const benchSize = 256 << 20

// BenchmarkWipe compares the fill engine with memset on the same 256 MiB,
// split over 1 and 2 goroutines (the wipe image runs one worker process per
// CPU; a goroutine per worker measures the same loop without forking):
//
//	how=worker    Worker.Run: fresh mmap, MADV_POPULATE_WRITE (the kernel
//	              zeroes each page), then the pattern if any; unmapped after
//	how=clear-new clear() of a fresh mmap: page faults plus zeroing
//	how=clear     clear() of memory already faulted in: memset bandwidth
//	how=pattern   fillPattern of memory already faulted in
//
// Compare with benchstat -col /how. Only a plain, capped Go buffer is
// filled: never the host's memory.
func BenchmarkWipe(b *testing.B) {
	for _, workers := range []int{1, 2} {
		for _, huge := range []bool{true, false} {
			for _, pattern := range []byte{0, 0xa5} {
				name := fmt.Sprintf("how=worker/pattern=%#x/huge=%v/workers=%d", pattern, onOff(huge), workers)
				b.Run(name, func(b *testing.B) { benchWorker(b, workers, pattern, huge) })
			}
		}
		b.Run(fmt.Sprintf("how=clear-new/workers=%d", workers), func(b *testing.B) {
			benchSplit(b, workers, true, func() []byte { return mustMap(b, benchSize) }, func(p []byte) { clear(p) })
		})
		buf := mustMap(b, benchSize)
		_ = populateWrite(buf)
		b.Run(fmt.Sprintf("how=clear/workers=%d", workers), func(b *testing.B) {
			benchSplit(b, workers, false, func() []byte { return buf }, func(p []byte) { clear(p) })
		})
		b.Run(fmt.Sprintf("how=pattern/workers=%d", workers), func(b *testing.B) {
			benchSplit(b, workers, false, func() []byte { return buf }, func(p []byte) { fillPattern(p, 0xa5) })
		})
		_ = unix.Munmap(buf)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func mustMap(b *testing.B, size int) []byte {
	m, err := anonMap(size)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// benchWorker runs workers Worker.Run loops of benchSize/workers bytes each
// and unmaps what they filled after every operation.
func benchWorker(b *testing.B, workers int, pattern byte, huge bool) {
	b.SetBytes(benchSize)
	var mu sync.Mutex
	var maps [][]byte
	mmap := func(size int) ([]byte, error) {
		m, err := anonMap(size)
		if err == nil {
			mu.Lock()
			maps = append(maps, m)
			mu.Unlock()
		}
		return m, err
	}
	for b.Loop() {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				w := Worker{Pattern: pattern, HugePages: huge, Limit: benchSize / uint64(workers), mmap: mmap}
				if err := w.Run(); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		for _, m := range maps {
			_ = unix.Munmap(m)
		}
		maps = maps[:0]
		b.StartTimer()
	}
}

// benchSplit gets a benchSize buffer from get, splits it over workers
// goroutines that each run op on their part, and unmaps it afterwards when
// fresh: get mapped a new one.
func benchSplit(b *testing.B, workers int, fresh bool, get func() []byte, op func([]byte)) {
	b.SetBytes(benchSize)
	for b.Loop() {
		b.StopTimer()
		buf := get()
		b.StartTimer()
		var wg sync.WaitGroup
		part := len(buf) / workers
		for i := range workers {
			wg.Go(func() { op(buf[i*part : (i+1)*part]) })
		}
		wg.Wait()
		if fresh {
			b.StopTimer()
			_ = unix.Munmap(buf)
			b.StartTimer()
		}
	}
}
