package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Go runtime's heap index (runtime/malloc.go, linux/amd64, Go 1.11 on):
// heapAddrBits = 48, heapArenaBytes = 64 MiB, arenaL1Bits = 0, so the
// index of heap arenas (mheap_.arenas[0], "L2 arena map") is one array of
// 1<<22 pointers, 32 MiB, mapped with mmap when the heap first grows and
// written only where the heap has an arena: arenaIndex(p) =
// (p - arenaBaseOffset) / heapArenaBytes, arenaBaseOffset = 0xffff800000000000.
// The runtime relies on demand paging to keep it small; mlockall's
// MCL_CURRENT makes all of it resident. A test pins these against the
// running runtime.
const (
	heapArenaBytes  = 64 << 20
	heapIndexBytes  = (1 << 22) * 8
	arenaBaseOffset = 0xffff800000000000
	pageSize        = 4096
)

// heapIndexSlot is the offset in the heap index of the entry for the
// heap arena that holds address p.
func heapIndexSlot(p uintptr) uintptr {
	return (p - arenaBaseOffset) / heapArenaBytes * 8
}

// vma is one line of /proc/self/maps.
type vma struct {
	start, end uintptr
	perms      string
	anon       bool // no file, no [name]
}

func parseMaps(b []byte) []vma {
	var out []vma
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, vma{start: uintptr(s), end: uintptr(e), perms: f[1], anon: len(f) == 5})
	}
	return out
}

func mapped(maps []vma, p uintptr) bool {
	for _, m := range maps {
		if m.start <= p && p < m.end {
			return true
		}
	}
	return false
}

// findHeapIndex finds the heap index among maps, reading memory through
// mem (/proc/self/mem): a private writable anonymous mapping holding a
// 32 MiB page-aligned array whose entry for the arena of heapPtr (a Go
// heap address) is set, and whose every set entry is for an arena that is
// mapped and points into mapped memory (a heapArena). Anything else, or
// more than one such array, is an error: then nothing is given back.
func findHeapIndex(mem io.ReaderAt, maps []vma, heapPtr uintptr) (uintptr, error) {
	slot := heapIndexSlot(heapPtr)
	word := make([]byte, 8)
	page := make([]byte, pageSize) // small: the heap is locked, and grows in 4 MiB steps
	var found []uintptr
	for _, m := range maps {
		if m.perms != "rw-p" || !m.anon || m.end-m.start < heapIndexBytes {
			continue
		}
		for base := m.start; base+heapIndexBytes <= m.end; base += pageSize {
			if _, err := mem.ReadAt(word, int64(base+slot)); err != nil {
				return 0, fmt.Errorf("read %#x: %w", base+slot, err)
			}
			if le64(word) == 0 {
				continue
			}
			ok, err := isHeapIndex(mem, maps, base, page)
			if err != nil {
				return 0, err
			}
			if ok {
				found = append(found, base)
			}
		}
	}
	switch len(found) {
	case 0:
		return 0, errors.New("not found")
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%d candidates", len(found))
}

// isHeapIndex checks every entry of a candidate heap index at base.
func isHeapIndex(mem io.ReaderAt, maps []vma, base uintptr, buf []byte) (bool, error) {
	set := 0
	for off := uintptr(0); off < heapIndexBytes; off += uintptr(len(buf)) {
		if _, err := mem.ReadAt(buf, int64(base+off)); err != nil {
			return false, fmt.Errorf("read %#x: %w", base+off, err)
		}
		for i := 0; i < len(buf); i += 8 {
			v := uintptr(le64(buf[i:]))
			if v == 0 {
				continue
			}
			arena := (off+uintptr(i))/8*heapArenaBytes + arenaBaseOffset
			if set++; set > 1024 || !mapped(maps, arena) || !mapped(maps, v) {
				return false, nil
			}
		}
	}
	return set > 0, nil
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// zeroRuns returns the runs of all-zero pages in [base, base+size), as
// [start, end) pairs.
func zeroRuns(mem io.ReaderAt, base, size uintptr) ([][2]uintptr, error) {
	var runs [][2]uintptr
	buf := make([]byte, pageSize)
	zero := make([]byte, pageSize)
	for p := base; p < base+size; p += pageSize {
		if _, err := mem.ReadAt(buf, int64(p)); err != nil {
			return nil, fmt.Errorf("read %#x: %w", p, err)
		}
		if !bytes.Equal(buf, zero) {
			continue
		}
		if n := len(runs); n > 0 && runs[n-1][1] == p {
			runs[n-1][1] = p + pageSize
		} else {
			runs = append(runs, [2]uintptr{p, p + pageSize})
		}
	}
	return runs, nil
}

// releaseHeapIndex gives back the pages of the Go runtime's heap index
// that mlockall(MCL_CURRENT) made resident although the runtime never
// wrote them (all but one page, for a heap in one arena): 32 MiB of the
// 44 MiB ramwiped locked before. It returns how many bytes it gave back.
//
// For each run of all-zero pages it munlocks the run, discards it
// (MADV_DONTNEED) and locks it again on fault (mlock2 MLOCK_ONFAULT), with
// MADV_NOHUGEPAGE first so that khugepaged does not fill the range back in.
// The pages that hold entries are never unlocked. What the panic path
// reads stays in memory: the entries of the heap's arenas are on kept
// pages; an entry of any other address reads as nil from the shared zero
// page, which needs neither I/O nor a new page. A page is written, and
// then allocated and locked, only when the heap grows into a new arena,
// which also maps and locks new heap memory.
//
// The runtime writes the index only while it maps a new heap arena. Call
// this once, before any goroutine that allocates starts (ramwiped's first
// arming): a run found zero must not be written before it is discarded.
func releaseHeapIndex() (uintptr, error) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return 0, err
	}
	defer mem.Close()
	base, err := findHeapIndex(mem, parseMaps(b), uintptr(unsafe.Pointer(&b[0])))
	if err != nil {
		return 0, fmt.Errorf("the Go runtime's heap index: %w", err)
	}
	if err := madvise(base, heapIndexBytes, unix.MADV_NOHUGEPAGE); err != nil {
		return 0, err
	}
	runs, err := zeroRuns(mem, base, heapIndexBytes)
	if err != nil {
		return 0, err
	}
	var released uintptr
	for _, r := range runs {
		n := r[1] - r[0]
		if err := errors.Join(
			syscall3(unix.SYS_MUNLOCK, "munlock", r[0], n, 0),
			madvise(r[0], n, unix.MADV_DONTNEED),
			syscall3(unix.SYS_MLOCK2, "mlock2(MLOCK_ONFAULT)", r[0], n, unix.MLOCK_ONFAULT),
		); err != nil {
			return released, err
		}
		released += n
	}
	return released, nil
}

func madvise(addr, n uintptr, advice int) error {
	return syscall3(unix.SYS_MADVISE, "madvise", addr, n, uintptr(advice))
}

// syscall3 is a memory syscall on an address range that is not Go memory
// (x/sys/unix's wrappers take slices).
func syscall3(trap uintptr, name string, a1, a2, a3 uintptr) error {
	if _, _, e := unix.Syscall(trap, a1, a2, a3); e != 0 {
		return fmt.Errorf("%s(%#x, %d): %w", name, a1, a2, e)
	}
	return nil
}
