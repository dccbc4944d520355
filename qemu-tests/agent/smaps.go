package main

import (
	"fmt"
	"strconv"
	"strings"
)

// mapping is one mapping of /proc/PID/smaps: its range, permissions, path
// and its resident and locked kB.
type mapping struct {
	start, end  uint64
	perms, path string
	rssKB       int64
	lockedKB    int64
	hugeKB      int64 // AnonHugePages: transparent huge pages in rssKB
}

// parseSmaps reads /proc/PID/smaps: a header line per mapping
// ("start-end perms offset dev inode [path]") followed by "Key: N kB" lines.
func parseSmaps(b []byte) []mapping {
	var out []mapping
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 && !strings.HasSuffix(f[0], ":") {
			s, err1 := strconv.ParseUint(lo, 16, 64)
			e, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				m := mapping{start: s, end: e, perms: f[1]}
				if len(f) >= 6 {
					m.path = strings.Join(f[5:], " ")
				}
				out = append(out, m)
				continue
			}
		}
		if len(out) == 0 || len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			out[len(out)-1].rssKB = n
		case "Locked:":
			out[len(out)-1].lockedKB = n
		case "AnonHugePages:":
			out[len(out)-1].hugeKB = n
		}
	}
	return out
}

// heapArena is the Go runtime's heap arena size on 64-bit Linux
// (runtime.heapArenaBytes): the heap is reserved in aligned blocks of it.
const heapArena = 64 << 20

// breakdown is a process's locked memory (smaps "Locked", which counts
// resident pages only, unlike VmLck), by what holds it.
type breakdown struct {
	rssKB, lockedKB int64
	// binary: the executable's mappings (text, rodata, data) and the
	// anonymous mapping right after them (bss).
	binaryKB int64
	// heap: the Go heap arenas, found as runs of adjacent anonymous
	// mappings that start and end on a 64 MiB boundary. Goroutine stacks
	// and every thread's g0 and signal stacks are allocated there too.
	heapKB int64
	// stacks: the main thread's [stack] (the only thread stack a static
	// Go binary gets from the kernel).
	stacksKB int64
	// other: every other anonymous mapping: the runtime's own metadata
	// (the heap index, page summaries, span structures), vdso, vvar.
	otherKB int64
}

// Classes of locked memory, as breakdown counts them.
const (
	classBinary = "binary"
	classHeap   = "heap"
	classStacks = "stacks"
	classOther  = "other"
)

// classify sorts maps (in address order, as smaps lists them) of a process
// whose executable is exe into a breakdown, and names each mapping's class.
func classify(maps []mapping, exe string) (breakdown, []string) {
	var b breakdown
	class := make([]string, len(maps))
	// Runs of adjacent anonymous mappings (no path); a run that starts and
	// ends on heap arena boundaries is Go heap.
	for i := 0; i < len(maps); {
		j := i
		for j < len(maps) && maps[j].path == "" && (j == i || maps[j].start == maps[j-1].end) {
			j++
		}
		if j == i {
			i++
			continue
		}
		if maps[i].start%heapArena == 0 && maps[j-1].end%heapArena == 0 {
			for k := i; k < j; k++ {
				class[k] = classHeap
			}
		}
		i = j
	}
	for i, m := range maps {
		b.rssKB += m.rssKB
		b.lockedKB += m.lockedKB
		switch {
		case exe != "" && m.path == exe,
			exe != "" && m.path == "" && i > 0 && maps[i-1].path == exe && maps[i-1].end == m.start:
			class[i] = classBinary
			b.binaryKB += m.lockedKB
		case class[i] == classHeap:
			b.heapKB += m.lockedKB
		case m.path == "[stack]":
			class[i] = classStacks
			b.stacksKB += m.lockedKB
		default:
			class[i] = classOther
			b.otherKB += m.lockedKB
		}
	}
	return b, class
}

// String is the breakdown as the LAB IDLE line's fields.
func (b breakdown) String() string {
	return fmt.Sprintf("smaps_rss_kb=%d smaps_locked_kb=%d locked_binary_kb=%d locked_heap_kb=%d locked_stacks_kb=%d locked_other_kb=%d",
		b.rssKB, b.lockedKB, b.binaryKB, b.heapKB, b.stacksKB, b.otherKB)
}
