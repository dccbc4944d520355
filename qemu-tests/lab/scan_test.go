package lab

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/initramfs/archive"
	"github.com/ramwipe/ramwipe/qemu-tests/canary"
)

const nonce = 0x1234567

// base is the first page above the first MiB, where x86 firmware data ends.
const base = (1 << 20) / pageSize

// pg is the byte range of page base+i of a synthetic dump.
func pg(d []byte, i int) []byte { return d[(base+i)*pageSize : (base+i+1)*pageSize] }

// synthetic builds a dump of 1 MiB of firmware area (with the BIOS data
// area in page 0) then 64 pages: pages 10-19 anon canaries 0-9, page 20
// file canary 0, pages 30-33 "old session data", the rest zero.
func synthetic() []byte {
	d := make([]byte, (base+64)*pageSize)
	copy(d, "BIOS data area")
	for i := range 10 {
		canary.Fill(pg(d, 10+i), nonce, canary.Anon, uint64(i))
	}
	canary.Fill(pg(d, 20), nonce, canary.File, 0)
	for p := 30; p < 34; p++ {
		copy(pg(d, p), bytes.Repeat([]byte("old session data "), 100))
	}
	return d
}

func planted() map[canary.Kind]uint64 {
	return map[canary.Kind]uint64{canary.Anon: 10, canary.File: 1, canary.Pipe: 0, canary.Sock: 0}
}

func phys(i int) uint64 { return uint64(base+i) * pageSize }

func TestScanPreFindsEverything(t *testing.T) {
	s := NewScanner(nonce, planted(), Layout{})
	pre := s.Pre(synthetic())
	assert.Equal(t, base+64, pre.Pages)
	assert.Equal(t, 11, pre.CanaryExact)
	assert.Equal(t, 0, pre.CanaryPartial)
	assert.Equal(t, 11*canary.CellsPerPage, pre.CanaryCells)
	assert.Equal(t, 1.0, pre.FoundFraction)
	assert.Equal(t, map[string]uint64{"anon": 10, "file": 1, "pipe": 0, "sock": 0, "disk": 0}, pre.Found)
	assert.Equal(t, []Range{{phys(10), phys(21)}}, pre.CanaryRanges)
	assert.Equal(t, base+64-11-5, pre.ZeroPages)
}

func TestScanPostResidue(t *testing.T) {
	s := NewScanner(nonce, planted(), Layout{})
	s.Pre(synthetic())

	post := synthetic()
	for i := 10; i < 17; i++ {
		clear(pg(post, i)) // 7 of the anon pages wiped
	}
	clear(pg(post, 17)[:pageSize/2]) // page 17 keeps its second half: partial
	clear(pg(post, 20))
	// A canary fragment copied at an 8-byte, not 16-byte, alignment (as in
	// a kernel buffer) is still seen.
	copy(pg(post, 40)[8:], pg(post, 18)[:256])
	clear(pg(post, 32))
	clear(pg(post, 33))
	copy(pg(post, 31), "rewritten")

	res := s.Post(post)
	require.True(t, res.Compared)
	assert.Equal(t, 2, res.CanaryExact, "pages 18 and 19 survive whole")
	assert.Equal(t, 2, res.CanaryPartial, "page 17 half, page 40 a fragment")
	assert.Equal(t, map[string]uint64{"anon": 3, "file": 0, "pipe": 0, "sock": 0, "disk": 0}, res.Found)
	assert.InDelta(t, 3.0/11, res.FoundFraction, 1e-9)
	// Unchanged non-zero pages: the BIOS page (firmware), canary pages 18
	// and 19, and old page 30. Page 17 changed (half wiped).
	assert.Equal(t, 1, res.OldFirmware)
	assert.Equal(t, 3, res.OldPages)
	assert.Equal(t, []Range{{phys(18), phys(20)}, {phys(30), phys(31)}}, res.OldRanges)
	assert.Equal(t, []Range{{phys(17), phys(20)}, {phys(40), phys(41)}}, res.CanaryRanges)
}

func TestScanPlaces(t *testing.T) {
	held := make([]byte, (base+64)/8)
	pfn := base + 18
	held[pfn/8] |= 1 << (pfn % 8)
	l := Layout{
		RAM:    []Range{{0, phys(19)}, {phys(20), phys(64)}}, // page 19 is not RAM
		Kernel: Range{phys(30), phys(31)},
		Held:   held,
	}
	s := NewScanner(nonce, planted(), l)
	s.Pre(synthetic())
	res := s.Post(synthetic())
	assert.Equal(t, 1, res.HeldPages)
	assert.Equal(t, 1, res.OldHeld, "page 18")
	assert.Equal(t, 1, res.OldKernel, "page 30")
	assert.Equal(t, 2, res.OldFirmware, "the BIOS page and page 19")
	assert.Equal(t, 12, res.OldPages, "canaries 10-17, file canary 20, old pages 31-33")

	assert.Equal(t, placeFirmware, l.place(4096))
	assert.Equal(t, placeKernel, l.place(phys(30)))
	assert.Equal(t, placeHeld, l.place(phys(18)))
	assert.Equal(t, placeFirmware, l.place(phys(19)))
	assert.Equal(t, placeWiped, l.place(phys(21)))
}

func TestQ35Layout(t *testing.T) {
	assert.Equal(t, uint64(2<<30), Q35LowMem(2<<30))
	assert.Equal(t, uint64(2<<30), Q35LowMem(4<<30))
	l := Layout{LowMem: Q35LowMem(4 << 30)}
	assert.Equal(t, uint64(0x1000), l.Phys(0x1000))
	assert.Equal(t, uint64(4<<30), l.Phys(2<<30))
	assert.Equal(t, uint64(5<<30), l.Phys(3<<30))
}

func TestScanPatternPagesAreNotResidue(t *testing.T) {
	d := make([]byte, 4*pageSize)
	for i := range d {
		d[i] = 0xff
	}
	s := NewScanner(nonce, planted(), Layout{})
	s.Pre(d)
	res := s.Post(d)
	assert.Equal(t, 4, res.PatternPages)
	assert.Zero(t, res.OldPages+res.OldFirmware)
}

func TestParseLines(t *testing.T) {
	p, err := ParseReady("LAB READY anon=70260 file=1024 pipe=256 sock=44 disk=0")
	require.NoError(t, err)
	assert.Equal(t, map[canary.Kind]uint64{canary.Anon: 70260, canary.File: 1024, canary.Pipe: 256, canary.Sock: 44, canary.Disk: 0}, p)
	_, err = ParseReady("LAB READY anon=x")
	assert.Error(t, err)

	ram := parseIomem([]Line{
		{Text: "LAB IOMEM 00001000-0009fbff System RAM"},
		{Text: "LAB IOMEM 0009fc00-0009ffff Reserved"},
		{Text: "LAB IOMEM 00100000-1ffdffff System RAM"},
		{Text: "noise"},
	})
	assert.Equal(t, []Range{{0x1000, 0x9fc00}, {0x100000, 0x1ffe0000}}, ram)

	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte{1, 0, 0x80})
	zw.Close()
	held, err := parseHeldMap("pages=2 " + base64.StdEncoding.EncodeToString(z.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 0, 0x80}, held)
	_, err = parseHeldMap("pages=2")
	assert.Error(t, err)
	_, err = parseHeldMap("pages=2 !!!")
	assert.Error(t, err)
}

func BenchmarkScan(b *testing.B) {
	d := make([]byte, 64<<20)
	for p := 0; p < len(d)/pageSize; p += 3 {
		canary.Fill(d[p*pageSize:(p+1)*pageSize], nonce, canary.Anon, uint64(p))
	}
	s := NewScanner(nonce, map[canary.Kind]uint64{canary.Anon: uint64(len(d) / pageSize)}, Layout{})
	s.Pre(d)
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		s.Post(d)
	}
}

func TestParsePanic(t *testing.T) {
	p := parsePanic([]Line{
		{Text: `ramwiped| level=WARN msg="control: panic from uid=1001"[   11.796606] ramwipe: panic step trigger`},
		{Text: "[   11.835011] ramwipe: panic step keys-wiped"},
		{Text: "[   11.857725] ramwipe: panic step keyring-swept"},
		{Text: "[   11.858332] ramwipe: panic step kexec"},
	})
	require.NotNil(t, p)
	assert.InDelta(t, 38.405, p.TriggerToKeysMS, 1e-6)
	assert.InDelta(t, 61.726, p.TriggerToKexecMS, 1e-6)
	assert.Equal(t, []string{"trigger", "keys-wiped", "keyring-swept", "kexec"}, p.Steps)
	assert.Nil(t, parsePanic([]Line{{Text: "nothing"}}))
}

func TestScanWipeImagePages(t *testing.T) {
	// The wipe image's /init: two pages and a bit.
	init := bytes.Repeat([]byte("wipe image /init "), 2*pageSize/16)
	var img bytes.Buffer
	require.NoError(t, archive.Build(&img, []archive.File{{Name: "init", Data: init, Mode: 0o755}}))
	files, err := CpioFiles(img.Bytes())
	require.NoError(t, err)
	require.Equal(t, [][]byte{init}, files)

	// RAM: the /init's last page (zero-padded), its first page, and an old
	// page of something else, the same before and after.
	last := make([]byte, pageSize)
	copy(last, init[2*pageSize:])
	other := bytes.Repeat([]byte{1, 2, 3, 4}, pageSize/4)
	dump := slices.Concat(make([]byte, base*pageSize), last, init[:pageSize], other) // above the first MiB
	s := NewScanner(nonce, planted(), Layout{})
	require.NoError(t, s.AddImage(img.Bytes()))
	s.Pre(dump)
	res := s.Post(dump)
	assert.Equal(t, 2, res.OldImage)
	assert.Equal(t, 1, res.OldPages)

	assert.Error(t, s.AddImage([]byte("not a cpio archive")))
}

func TestScanEarlierWipe(t *testing.T) {
	a := bytes.Repeat([]byte{1, 2, 3, 4}, pageSize/4) // left by the earlier wipe, untouched since
	b := bytes.Repeat([]byte{5, 6, 7, 8}, pageSize/4) // written by the system after it
	earlier := slices.Concat(make([]byte, base*pageSize), a, make([]byte, pageSize))
	dump := slices.Concat(make([]byte, base*pageSize), a, b)
	s := NewScanner(nonce, planted(), Layout{})
	s.Earlier(earlier)
	s.Pre(dump)
	res := s.Post(dump)
	assert.Equal(t, 1, res.OldEarlier)
	assert.Equal(t, 1, res.OldPages)
	assert.Equal(t, []Range{{phys(1), phys(2)}}, res.OldRanges)
}
