package main

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h).
const (
	kpfLRU    = 5
	kpfBuddy  = 10
	kpfAnon   = 12
	kpfNoPage = 20
)

// heldMap is a bitmap of the pages the wipe kernel keeps for itself while
// memory is full: every page that is neither user memory (the fill
// workers', the /init's, the page cache) nor the head of a free block.
type heldMap struct {
	bits  []byte
	buf   []byte
	pages uint64
	err   error
}

// newHeldMap allocates everything before the fill: when memory is full
// there is none to be had.
func newHeldMap(maxPFN uint64) *heldMap {
	return &heldMap{bits: make([]byte, (maxPFN+7)/8), buf: make([]byte, 64<<10)}
}

// snapshot reads /proc/kpageflags into the bitmap.
func (h *heldMap) snapshot() {
	f, err := os.Open("/proc/kpageflags")
	if err != nil {
		h.err = err
		return
	}
	defer f.Close()
	h.err = h.read(f)
}

func (h *heldMap) read(r io.Reader) error {
	var pfn uint64
	for {
		n, err := io.ReadFull(r, h.buf)
		for i := 0; i+8 <= n; i += 8 {
			fl := binary.LittleEndian.Uint64(h.buf[i:])
			user := fl&(1<<kpfAnon|1<<kpfLRU) != 0
			free := fl&(1<<kpfBuddy|1<<kpfNoPage) != 0
			if !user && !free && pfn/8 < uint64(len(h.bits)) {
				h.bits[pfn/8] |= 1 << (pfn % 8)
				h.pages++
			}
			pfn++
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// String renders the map as one console line: page count and the
// zlib-compressed bitmap (bit pfn%8 of byte pfn/8) in base64.
func (h *heldMap) String() string {
	if h.err != nil {
		return fmt.Sprintf("ramwipe: held-map unavailable: %v", h.err)
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(h.bits)
	zw.Close()
	return fmt.Sprintf("ramwipe: held-map pages=%d %s", h.pages, base64.StdEncoding.EncodeToString(z.Bytes()))
}

// maxPFN is one past the highest page frame of RAM, from /proc/zoneinfo's
// "spanned" ranges; it falls back to MemTotal.
func maxPFN() uint64 {
	b, _ := os.ReadFile("/proc/zoneinfo")
	var hi uint64
	var start, spanned uint64
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if v, ok := bytes.CutPrefix(line, []byte("spanned ")); ok {
			fmt.Sscan(string(v), &spanned)
		}
		if v, ok := bytes.CutPrefix(line, []byte("start_pfn: ")); ok {
			fmt.Sscan(string(v), &start)
			hi = max(hi, start+spanned)
		}
	}
	return hi
}
