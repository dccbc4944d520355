package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScanClasses(t *testing.T) {
	held := make([]byte, (base+64)/8)
	pfn := base + 50
	held[pfn/8] |= 1 << (pfn % 8)
	l := Layout{Kernel: Range{phys(45), phys(47)}, Held: held}
	s := NewScanner(nonce, planted(), l)
	pre := s.Pre(synthetic())
	assert.Equal(t, ClassHole, pre.Classes[0], "the BIOS page")
	assert.Equal(t, ClassCanary, pre.Classes[base+10])
	assert.Equal(t, ClassOld, pre.Classes[base+30])
	assert.Equal(t, ClassZero, pre.Classes[base+40])
	assert.Equal(t, ClassKernel, pre.Classes[base+45], "a zero page in the kernel image")

	post := synthetic()
	clear(pg(post, 10))
	copy(pg(post, 31), "rewritten")
	for i := range pg(post, 32) {
		pg(post, 32)[i] = 0xa5
	}
	copy(pg(post, 46), "kernel text")
	copy(pg(post, 50), "kernel stack")
	res := s.Post(post)
	for i, want := range map[int]Class{
		10: ClassZero, 11: ClassCanary, 30: ClassOld, 31: ClassNew, 32: ClassPattern,
		46: ClassKernel, 50: ClassKernel, 60: ClassZero,
	} {
		assert.Equal(t, want, res.Classes[base+i], "page %d", i)
	}
	assert.Equal(t, map[string]int{"hole": base, "zero": 47, "pattern": 1, "kernel": 3, "new": 1, "old": 2, "canary": 10}, res.ClassPages)
	assert.Equal(t, "?", Class(99).String())
}

func TestDrawMap(t *testing.T) {
	// A 4 GiB q35 guest: 2 GiB low, the hole up to 4 GiB, 2 GiB high.
	l := Layout{LowMem: Q35LowMem(4 << 30)}
	classes := make([]Class, (4<<30)/pageSize)
	for i := range classes {
		classes[i] = ClassZero
	}
	for i := range (1 << 20) / pageSize {
		classes[i] = ClassHole // the first MiB
	}
	classes[300] = ClassCanary           // in the 19th 64 KiB pixel
	classes[(2<<30)/pageSize] = ClassOld // the first page above 4 GiB
	scale := MapScale(4 << 30)
	require.Equal(t, 16, scale)
	img := DrawMap(classes, l, scale)
	w := img.Bounds().Dx()
	assert.Equal(t, 256, w)
	assert.Equal(t, (6<<30)/(64<<10)/w, img.Bounds().Dy(), "6 GiB of physical addresses")
	at := func(i int) any { return img.RGBAAt(i%w, i/w) }
	assert.Equal(t, Palette[ClassHole], at(0))
	assert.Equal(t, Palette[ClassCanary], at(18), "pages 288-303: the greatest class")
	assert.Equal(t, Palette[ClassZero], at(19))
	assert.Equal(t, Palette[ClassHole], at((3<<30)/(64<<10)), "the PCI hole")
	assert.Equal(t, Palette[ClassOld], at((4<<30)/(64<<10)))

}

// BenchmarkDrawMap draws a 4 GiB guest's map: bytes are the guest's RAM.
func BenchmarkDrawMap(b *testing.B) {
	classes := make([]Class, (4<<30)/pageSize)
	for i := range classes {
		classes[i] = Class(i % 7)
	}
	l := Layout{LowMem: Q35LowMem(4 << 30)}
	b.SetBytes(4 << 30)
	for b.Loop() {
		DrawMap(classes, l, MapScale(4<<30))
	}
}
