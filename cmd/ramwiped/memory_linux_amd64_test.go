package main

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparseMem is a fake /proc/self/mem: set words, zero elsewhere.
type sparseMem map[uintptr]uint64

func (m sparseMem) ReadAt(b []byte, off int64) (int, error) {
	clear(b)
	for a, v := range m {
		if i := int64(a) - off; i >= 0 && i+8 <= int64(len(b)) {
			binary.LittleEndian.PutUint64(b[i:], v)
		}
	}
	return len(b), nil
}

func TestFindHeapIndex(t *testing.T) {
	const (
		heap  = uintptr(0x264279c00000) // a heap address
		arena = uintptr(0x264278000000) // its arena
		meta  = uintptr(0x7f0000100000) // the arena's heapArena
		index = uintptr(0x7f0000200000) // the heap index, in a larger mapping
		other = uintptr(0x7f1000000000) // a mapping of the index's size
	)
	maps := []vma{
		{start: 0x400000, end: 0x500000, perms: "r-xp"},
		{start: arena, end: arena + heapArenaBytes, perms: "rw-p", anon: true},
		{start: meta, end: meta + 0x100000, perms: "rw-p", anon: true},
		{start: index - 3*pageSize, end: index + heapIndexBytes + 5*pageSize, perms: "rw-p", anon: true},
		{start: other, end: other + heapIndexBytes, perms: "rw-p", anon: true},
	}
	slot := index + heapIndexSlot(heap)
	tests := []struct {
		name    string
		mem     sparseMem
		want    uintptr
		wantErr string
	}{
		{name: "found", mem: sparseMem{slot: uint64(meta)}, want: index},
		{name: "neighbours' data around it", mem: sparseMem{slot: uint64(meta), index - 8: 1, index + heapIndexBytes: 7}, want: index},
		{name: "no entry", mem: sparseMem{}, wantErr: "not found"},
		{name: "entry points nowhere", mem: sparseMem{slot: 0x10}, wantErr: "not found"},
		{name: "an entry for an unmapped arena", mem: sparseMem{slot: uint64(meta), slot + 8*100: uint64(meta)}, wantErr: "not found"},
		{name: "shifted by a page: entries for unmapped arenas", mem: sparseMem{slot: uint64(meta), slot + pageSize: uint64(meta)}, wantErr: "not found"},
		{name: "ambiguous", mem: sparseMem{slot: uint64(meta), other + heapIndexSlot(heap): uint64(meta)}, wantErr: "2 candidates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findHeapIndex(tt.mem, maps, heap)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "findHeapIndex = %#x, want %#x", got, tt.want)
		})
	}
}

func TestZeroRuns(t *testing.T) {
	base := uintptr(0x7f0000000000)
	mem := sparseMem{base + pageSize + 16: 1, base + 4*pageSize: 2}
	runs, err := zeroRuns(mem, base, 6*pageSize)
	require.NoError(t, err)
	assert.Equal(t, [][2]uintptr{{base, base + pageSize}, {base + 2*pageSize, base + 4*pageSize}, {base + 5*pageSize, base + 6*pageSize}}, runs)
}

// TestHeapIndexOfThisProcess pins the runtime's layout that
// memory_linux_amd64.go assumes: a new Go release that changes it fails here.
func TestHeapIndexOfThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	mem, err := os.Open("/proc/self/mem")
	require.NoError(t, err)
	defer mem.Close()
	base, err := findHeapIndex(mem, parseMaps(b), uintptr(unsafe.Pointer(&b[0])))
	require.NoError(t, err)
	runs, err := zeroRuns(mem, base, heapIndexBytes)
	require.NoError(t, err)
	var zero uintptr
	for _, r := range runs {
		zero += r[1] - r[0]
	}
	assert.Greater(t, zero, uintptr(heapIndexBytes-64*pageSize), "the heap index is almost all zero pages")
}

// TestReleaseHeapIndex gives back this test process's own heap index and
// then grows the heap into new arenas, whose entries the runtime writes
// into pages given back.
func TestReleaseHeapIndex(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mlock2 of 32 MiB needs root (RLIMIT_MEMLOCK)")
	}
	n, err := releaseHeapIndex()
	require.NoError(t, err)
	assert.Greater(t, n, uintptr(heapIndexBytes/2))
	big := make([][]byte, 4)
	for i := range big {
		big[i] = make([]byte, heapArenaBytes)
		big[i][len(big[i])-1] = 1
	}
	runtime.GC()
	for _, b := range big {
		assert.Equal(t, byte(1), b[len(b)-1])
	}
}
