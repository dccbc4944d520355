// Package canary is the lab's secret format: 4 KiB pages made of 256
// self-describing 16-byte cells, so that a memory dump scanner finds whole
// pages, fragments of pages, and copies at any 8-byte alignment.
//
// A cell is
//
//	bytes 0-3   "RWCN"
//	bytes 4-7   the run's nonce (little-endian), so runs never mix
//	bytes 8-15  little-endian: kind<<56 | cell<<48 | page index (48 bits)
//
// A page of one (kind, index) has its cells numbered 0 to 255 in order.
package canary

import (
	"encoding/binary"
	"fmt"
)

// PageSize is the size of a canary page.
const PageSize = 4096

// CellSize is the size of a cell.
const CellSize = 16

// CellsPerPage is the number of cells in a page.
const CellsPerPage = PageSize / CellSize

// Kind says where a canary page was planted.
type Kind uint8

// The places the lab plants canaries.
const (
	Anon Kind = iota + 1 // anonymous memory of user processes
	File                 // a tmpfs file (page cache)
	Pipe                 // a pipe buffer nobody reads (kernel pages)
	Sock                 // a unix socket's receive queue (kernel skbs)
	Disk                 // written through a dm-crypt device (plaintext in its page cache)
	numKinds
)

// Kinds lists every kind, in order.
var Kinds = []Kind{Anon, File, Pipe, Sock, Disk}

func (k Kind) String() string {
	switch k {
	case Anon:
		return "anon"
	case File:
		return "file"
	case Pipe:
		return "pipe"
	case Sock:
		return "sock"
	case Disk:
		return "disk"
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

const magic = "RWCN"

// MaxIndex is the largest page index a cell can carry.
const MaxIndex = 1<<48 - 1

// Head returns the first 8 bytes of every cell of a run, as a little-endian
// word: what a scanner looks for.
func Head(nonce uint32) uint64 {
	var b [8]byte
	copy(b[:4], magic)
	binary.LittleEndian.PutUint32(b[4:], nonce)
	return binary.LittleEndian.Uint64(b[:])
}

// Fill writes canary page (kind, index) of run nonce into page, which must
// be PageSize bytes long.
func Fill(page []byte, nonce uint32, kind Kind, index uint64) {
	if len(page) != PageSize {
		panic(fmt.Sprintf("canary.Fill: page of %d bytes", len(page)))
	}
	head := Head(nonce)
	for c := range CellsPerPage {
		off := c * CellSize
		binary.LittleEndian.PutUint64(page[off:], head)
		binary.LittleEndian.PutUint64(page[off+8:], Tail(kind, c, index))
	}
}

// Tail is the second word of a cell.
func Tail(kind Kind, cell int, index uint64) uint64 {
	return uint64(kind)<<56 | uint64(cell&0xff)<<48 | index&MaxIndex
}

// Cell is a decoded cell.
type Cell struct {
	Kind  Kind
	Cell  int
	Index uint64
}

// Decode decodes the tail word of a cell.
func Decode(tail uint64) (Cell, bool) {
	c := Cell{Kind: Kind(tail >> 56), Cell: int(tail >> 48 & 0xff), Index: tail & MaxIndex}
	return c, c.Kind >= Anon && c.Kind < numKinds
}
