package lab

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"unsafe"

	"github.com/ramwipe/ramwipe/qemu-tests/canary"
)

const pageSize = 4096

// Range is a physical address range [Start, End).
type Range struct {
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
}

func (r Range) String() string { return fmt.Sprintf("%#x-%#x", r.Start, r.End-1) }

// Layout maps offsets in a QEMU RAM file to guest physical addresses, and
// says which addresses the wipe kernel owns.
type Layout struct {
	// LowMem is the size of RAM mapped below 4 GiB; the rest of the file
	// sits at 4 GiB and up (q35 moves RAM above 2 GiB there once the guest
	// has 2.75 GiB or more). 0 means all of it.
	LowMem uint64
	// RAM are the guest's "System RAM" ranges (from /proc/iomem); nil
	// means every address is RAM.
	RAM []Range
	// Kernel is the wipe kernel's own image, which it overwrites with
	// itself; pages there are reported apart.
	Kernel Range
	// Held, if not nil, has bit pfn%8 of byte pfn/8 set for every page the
	// wipe kernel kept for itself when memory was full (its held-map).
	Held []byte
}

// Q35LowMem is the RAM QEMU's q35 machine maps below 4 GiB for a guest of
// size bytes (hw/i386/pc_q35.c: 2 GiB once the guest has 2.75 GiB or more).
func Q35LowMem(size uint64) uint64 {
	if size >= 0xb0000000 {
		return 0x80000000
	}
	return size
}

// Phys is the guest physical address of offset off in the RAM file.
func (l Layout) Phys(off uint64) uint64 {
	if l.LowMem == 0 || off < l.LowMem {
		return off
	}
	return off - l.LowMem + 4<<30
}

// Where a page is, as far as the wipe goes.
type place int

const (
	// placeWiped: memory the wipe kernel handed out or left free; the wipe
	// is answerable for every page of it.
	placeWiped place = iota
	// placeFirmware: the first MiB and non-RAM ranges, which no wipe reaches.
	placeFirmware
	// placeKernel: the wipe kernel's image.
	placeKernel
	// placeHeld: pages the wipe kernel kept for itself (its held-map).
	placeHeld
)

func (l Layout) place(phys uint64) place {
	if phys < 1<<20 {
		return placeFirmware
	}
	if phys >= l.Kernel.Start && phys < l.Kernel.End {
		return placeKernel
	}
	if pfn := phys / pageSize; pfn/8 < uint64(len(l.Held)) && l.Held[pfn/8]&(1<<(pfn%8)) != 0 {
		return placeHeld
	}
	if l.RAM == nil {
		return placeWiped
	}
	for _, r := range l.RAM {
		if phys >= r.Start && phys < r.End {
			return placeWiped
		}
	}
	return placeFirmware
}

// Scanner scans dumps of one guest: a pre-trigger dump, then a post dump
// compared against it.
type Scanner struct {
	Nonce   uint32
	Planted map[canary.Kind]uint64
	Layout  Layout
	// MaxRanges caps the ranges kept in a [Scan] (default 32).
	MaxRanges int
	seed      maphash.Seed
	pre       []uint64        // per-page hashes of the pre-trigger dump
	earlier   []uint64        // per-page hashes of a dump right after an earlier wipe (Earlier)
	image     map[uint64]bool // hashes of the wipe image's file pages (AddImage)
}

// Earlier remembers a dump taken right after an earlier wipe in the same
// power cycle (a reboot through the shutdown hook), before the system
// that booted after it ran. An old page of the post dump that is also
// unchanged since then was never written by that system: it holds what
// the earlier wipe left, and is counted in [Scan.OldEarlier], not as
// residue of the system the trigger ended.
func (s *Scanner) Earlier(dump []byte) {
	s.earlier = make([]uint64, len(dump)/pageSize)
	for p := range s.earlier {
		page := dump[p*pageSize : (p+1)*pageSize]
		if !allZero(words(page)) {
			s.earlier[p] = maphash.Bytes(s.seed, page)
		}
	}
}

// AddImage lets the scanner tell the wipe image's own files apart: the
// file pages of a cpio archive (as the kernel's page cache holds them,
// the last one padded with zeros). An old page that is one of them is
// counted in [Scan.OldImage], not as old-system residue: it holds the
// public wipe image, which an earlier wipe in the same power cycle (a
// reboot through the shutdown hook) left in memory the old system never
// used, and which the new wipe kernel unpacked to the same address.
func (s *Scanner) AddImage(cpio []byte) error {
	files, err := CpioFiles(cpio)
	if err != nil {
		return err
	}
	if s.image == nil {
		s.image = map[uint64]bool{}
	}
	page := make([]byte, pageSize)
	for _, f := range files {
		for off := 0; off < len(f); off += pageSize {
			clear(page)
			copy(page, f[off:])
			s.image[maphash.Bytes(s.seed, page)] = true
		}
	}
	return nil
}

// NewScanner returns a scanner for canaries of run nonce.
func NewScanner(nonce uint32, planted map[canary.Kind]uint64, layout Layout) *Scanner {
	return &Scanner{Nonce: nonce, Planted: planted, Layout: layout, seed: maphash.MakeSeed()}
}

// Scan is what a dump holds.
type Scan struct {
	Pages        int `json:"pages"`
	ZeroPages    int `json:"zero_pages"`
	PatternPages int `json:"pattern_pages"` // one non-zero byte repeated
	// CanaryExact counts whole canary pages in place; CanaryPartial pages
	// that hold some canary cells but not a whole page.
	CanaryExact   int `json:"canary_exact"`
	CanaryPartial int `json:"canary_partial"`
	CanaryCells   int `json:"canary_cells"`
	// Found counts the distinct planted canary pages of which any cell was
	// seen, by kind; Planted how many were planted.
	Found   map[string]uint64 `json:"found"`
	Planted map[string]uint64 `json:"planted"`
	// FoundFraction is Found over Planted, all kinds together.
	FoundFraction float64 `json:"found_fraction"`
	CanaryRanges  []Range `json:"canary_ranges,omitempty"`
	// Old-system residue: non-zero, non-pattern pages identical to the
	// pre-trigger dump at the same address. OldPages counts them in memory
	// the wipe kernel handed out or left free (the figure that must be 0).
	// The others are reported apart: OldFirmware in the first MiB and
	// non-RAM ranges; OldKernel in the wipe kernel's image; OldHeld in pages
	// the wipe kernel kept for itself, which the same kernel binary, booted
	// the same way, fills with the same stacks and page tables as the old
	// one (the lab checks a sample of them: see HeldSample).
	OldPages    int `json:"old_pages"`
	OldFirmware int `json:"old_firmware_pages"`
	OldKernel   int `json:"old_kernel_image_pages"`
	OldHeld     int `json:"old_held_pages"`
	// OldImage counts old pages in wiped memory that are file pages of
	// the wipe image (see [Scanner.AddImage]): public, not the old system's.
	OldImage int `json:"old_wipe_image_pages"`
	// OldEarlier counts old pages in wiped memory unchanged since an
	// earlier wipe (see [Scanner.Earlier]).
	OldEarlier int     `json:"old_since_earlier_wipe_pages"`
	OldRanges  []Range `json:"old_ranges,omitempty"`
	// HeldPages is the size of the wipe kernel's held-map; 0 if it gave none.
	HeldPages int `json:"held_pages"`
	// Compared is false when there was no pre dump to compare against.
	Compared bool `json:"compared"`
	// Classes holds the class of every page of the dump, by offset in the
	// RAM file (see [Layout.Phys]), for memory maps ([DrawMap]);
	// ClassPages counts them by [Class.String]. Each page has one class, so
	// old-system and canary pages add up without counting a page twice.
	Classes    []Class        `json:"-"`
	ClassPages map[string]int `json:"class_pages"`
}

// Class is what a page of a dump holds, as a memory map shows it. The
// classes are ordered: a map pixel that stands for several pages shows the
// greatest class among them.
type Class uint8

// The classes of a page.
const (
	// ClassHole: the first MiB, firmware and non-RAM ranges: no wipe
	// reaches them.
	ClassHole Class = iota
	// ClassZero: all zero bytes.
	ClassZero
	// ClassPattern: one non-zero byte repeated (the fill pattern).
	ClassPattern
	// ClassKernel: the wipe kernel's image and the pages it held for
	// itself.
	ClassKernel
	// ClassNew: other data written after the trigger (the wipe system's).
	ClassNew
	// ClassOld: old-system data: in a pre-trigger dump every non-zero page
	// without canaries; in a post dump an old-system page (see
	// [Scan.OldPages]).
	ClassOld
	// ClassCanary: a page with canary cells.
	ClassCanary
)

// ranges merges page addresses into at most max ranges.
type ranges struct {
	list []Range
	max  int
}

func (r *ranges) add(phys uint64) {
	if n := len(r.list); n > 0 && r.list[n-1].End == phys {
		r.list[n-1].End += pageSize
		return
	}
	if len(r.list) < r.max {
		r.list = append(r.list, Range{phys, phys + pageSize})
	}
}

// Pre scans the pre-trigger dump and remembers its page hashes.
func (s *Scanner) Pre(dump []byte) Scan {
	s.pre = make([]uint64, len(dump)/pageSize)
	return s.scan(dump, true)
}

// Post scans the post dump, comparing against the pre-trigger dump if
// [Scanner.Pre] ran.
func (s *Scanner) Post(dump []byte) Scan {
	return s.scan(dump, false)
}

func (s *Scanner) scan(dump []byte, pre bool) Scan {
	maxR := s.MaxRanges
	if maxR <= 0 {
		maxR = 32
	}
	res := Scan{Pages: len(dump) / pageSize, Found: map[string]uint64{}, Planted: map[string]uint64{}}
	seen := map[canary.Kind][]bool{}
	var total uint64
	for _, k := range canary.Kinds {
		seen[k] = make([]bool, s.Planted[k])
		res.Planted[k.String()] = s.Planted[k]
		total += s.Planted[k]
	}
	canR, oldR := ranges{max: maxR}, ranges{max: maxR}
	res.Classes = make([]Class, res.Pages)
	compare := !pre && len(s.pre) == res.Pages
	res.Compared = compare
	head := canary.Head(s.Nonce)

	for p := range res.Pages {
		page := dump[p*pageSize : (p+1)*pageSize]
		w := words(page)
		phys := s.Layout.Phys(uint64(p) * pageSize)
		where := s.Layout.place(phys)

		if allZero(w) {
			res.ZeroPages++
			res.Classes[p] = classOf(where, ClassZero)
			if pre {
				s.pre[p] = 0
			}
			continue
		}
		cls := ClassNew
		if pre {
			cls = ClassOld
		}
		if uniform(w) {
			res.PatternPages++
			cls = ClassPattern
		}
		cells, exact := 0, true
		var first canary.Cell
		for i := 0; i+1 < len(w); i++ {
			if w[i] != head {
				continue
			}
			c, ok := canary.Decode(w[i+1])
			if !ok {
				continue
			}
			if sl := seen[c.Kind]; c.Index < uint64(len(sl)) {
				sl[c.Index] = true
			}
			if cells == 0 {
				first = c
			}
			if i != 2*c.Cell || c.Kind != first.Kind || c.Index != first.Index {
				exact = false
			}
			cells++
			i++
		}
		if cells > 0 {
			res.CanaryCells += cells
			if exact && cells == canary.CellsPerPage {
				res.CanaryExact++
			} else {
				res.CanaryPartial++
			}
			canR.add(phys)
		}
		h := maphash.Bytes(s.seed, page)
		if pre {
			s.pre[p] = h
		} else if compare && h == s.pre[p] && s.pre[p] != 0 && cls != ClassPattern {
			switch where {
			case placeKernel:
				res.OldKernel++
			case placeHeld:
				res.OldHeld++
			case placeWiped:
				if s.image[h] {
					res.OldImage++
					break
				}
				if p < len(s.earlier) && s.earlier[p] == h {
					res.OldEarlier++
					break
				}
				res.OldPages++
				oldR.add(phys)
				cls = ClassOld
			default:
				res.OldFirmware++
			}
		}
		if cells > 0 {
			cls = ClassCanary
		}
		res.Classes[p] = classOf(where, cls)
	}
	var found uint64
	for k, sl := range seen {
		var n uint64
		for _, b := range sl {
			if b {
				n++
			}
		}
		res.Found[k.String()] = n
		found += n
	}
	res.ClassPages = map[string]int{}
	for _, c := range res.Classes {
		res.ClassPages[c.String()]++
	}
	for _, b := range s.Layout.Held {
		res.HeldPages += bits.OnesCount8(b)
	}
	if total > 0 {
		res.FoundFraction = float64(found) / float64(total)
	}
	res.CanaryRanges, res.OldRanges = canR.list, oldR.list
	return res
}

// String is the class's short name.
func (c Class) String() string {
	names := [...]string{"hole", "zero", "pattern", "kernel", "new", "old", "canary"}
	if int(c) < len(names) {
		return names[c]
	}
	return "?"
}

// classOf is the class of a page of content class c at a place: canaries
// are shown wherever they are, the places no wipe reaches as holes, and
// the wipe kernel's own pages as such unless they hold old data.
func classOf(where place, c Class) Class {
	switch {
	case c == ClassCanary:
		return c
	case where == placeFirmware:
		return ClassHole
	case c == ClassOld:
		return c
	case where == placeKernel || where == placeHeld:
		return ClassKernel
	case where == placeKernel || where == placeHeld:
		return ClassKernel
	}
	return c
}

// words views a page as little-endian 64-bit words (the lab runs on x86-64,
// as do its guests).
func words(page []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(&page[0])), len(page)/8)
}

func allZero(w []uint64) bool {
	for _, x := range w {
		if x != 0 {
			return false
		}
	}
	return true
}

// uniform reports whether the page is one byte repeated.
func uniform(w []uint64) bool {
	x := w[0]
	if x != uint64(byte(x))*0x0101010101010101 {
		return false
	}
	for _, y := range w {
		if y != x {
			return false
		}
	}
	return true
}
