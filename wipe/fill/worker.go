package fill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Chunk sizes a worker maps, largest first. It drops to the next size when a
// chunk cannot be had, so that the last megabytes are taken too.
var chunkSizes = [...]int{256 << 20, 32 << 20, 2 << 20, 64 << 10}

// pageSize is the granule the touch fallback writes.
const pageSize = 4096

// step is how much a worker populates between two progress reports.
const step = 16 << 20

// Worker fills memory from the calling process until none is left.
type Worker struct {
	// Pattern is written over every page after the kernel zeroed it; 0
	// writes nothing more.
	Pattern byte
	// HugePages asks for transparent huge pages (MADV_HUGEPAGE).
	HugePages bool
	// Limit stops the worker after that many bytes; 0 means no limit.
	Limit uint64
	// Progress receives a little-endian uint64 of bytes for every chunk
	// filled (an 8-byte write to a pipe is atomic, so workers can share one).
	Progress io.Writer
	// OOMScoreAdj, when set, is written to /proc/self/oom_score_adj first.
	OOMScoreAdj string

	// seams for tests
	mmap     func(size int) ([]byte, error)
	populate func(b []byte) error
}

// ErrNoMemory reports that a worker took all the memory it could.
var ErrNoMemory = errors.New("out of memory")

// Run fills chunks until memory runs out (returns [ErrNoMemory]) or Limit is
// reached (returns nil). It never unmaps what it filled: the memory stays
// taken until the process ends.
func (w *Worker) Run() error {
	if w.OOMScoreAdj != "" {
		// Best effort: without it the OOM killer still picks the biggest process.
		_ = os.WriteFile("/proc/self/oom_score_adj", []byte(w.OOMScoreAdj), 0)
	}
	mmap, populate := w.mmap, w.populate
	if mmap == nil {
		mmap = anonMap
	}
	if populate == nil {
		populate = populateWrite
	}
	var rec [8]byte
	var done uint64
	for i := 0; i < len(chunkSizes); {
		size := chunkSizes[i]
		if w.Limit > 0 {
			if done >= w.Limit {
				return nil
			}
			left := w.Limit - done
			if uint64(size) > left {
				size = int(left+pageSize-1) / pageSize * pageSize
			}
		}
		b, err := mmap(size)
		if err != nil {
			i++
			continue
		}
		if w.HugePages {
			_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // a hint; fine if refused
		}
		// Populate in steps so that progress is reported as it happens
		// (the OOM killer may end this process in the middle of a chunk).
		var failed bool
		for off := 0; off < len(b) && !failed; off += step {
			part := b[off:min(off+step, len(b))]
			if err := populate(part); err != nil {
				failed = true
				break
			}
			if w.Pattern != 0 {
				fillPattern(part, w.Pattern)
			}
			done += uint64(len(part))
			if w.Progress != nil {
				binary.LittleEndian.PutUint64(rec[:], uint64(len(part)))
				if _, err := w.Progress.Write(rec[:]); err != nil {
					return fmt.Errorf("fill worker: report progress: %w", err)
				}
			}
		}
		if failed {
			// What was filled stays mapped; try smaller chunks for the rest.
			i++
		}
	}
	return ErrNoMemory
}

func anonMap(size int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return b, nil
}

// populateWrite faults every page of b in for writing. The kernel zeroes each
// page it hands out. Kernels before 5.14 lack MADV_POPULATE_WRITE: touch
// each page instead.
func populateWrite(b []byte) error {
	err := unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	if errors.Is(err, unix.EINVAL) {
		for i := 0; i < len(b); i += pageSize {
			b[i] = 0
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("madvise(MADV_POPULATE_WRITE, %d bytes): %w", len(b), err)
	}
	return nil
}

// fillPattern sets every byte of b to v, doubling the copied run.
func fillPattern(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}
