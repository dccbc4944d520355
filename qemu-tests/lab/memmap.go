package lab

import (
	"image"
	"image/color"
	"image/draw"
)

// Palette is the colour of each [Class] in a memory map.
var Palette = [...]color.RGBA{
	ClassHole:    {0x60, 0x60, 0x60, 0xff}, // dark grey
	ClassZero:    {0xf4, 0xf4, 0xf4, 0xff}, // near white
	ClassPattern: {0x9e, 0xca, 0xe1, 0xff}, // light blue
	ClassKernel:  {0x31, 0x82, 0xbd, 0xff}, // blue
	ClassNew:     {0xa1, 0xd9, 0x9b, 0xff}, // light green
	ClassOld:     {0xfd, 0x8d, 0x3c, 0xff}, // orange
	ClassCanary:  {0xe3, 0x1a, 0x1c, 0xff}, // red
}

// ClassNames names each [Class] for legends and reports.
var ClassNames = [...]string{
	ClassHole:    "hole: first MiB, firmware, not RAM",
	ClassZero:    "zero",
	ClassPattern: "fill pattern",
	ClassKernel:  "wipe kernel image and held pages",
	ClassNew:     "other new data",
	ClassOld:     "old-system data",
	ClassCanary:  "canary",
}

// MapScale is how many 4 KiB pages one pixel of a memory map of a guest of
// ramBytes stands for: one up to 1 GiB, 16 (64 KiB) above.
func MapScale(ramBytes uint64) int {
	if ramBytes <= 1<<30 {
		return 1
	}
	return 16
}

// mapWidth is the width in pixels of a memory map drawn at a scale.
func mapWidth(scale int) int {
	if scale == 1 {
		return 512
	}
	return 256
}

// DrawMap draws a physical memory map of a dump's page classes: one pixel
// per scale pages, by guest physical address (see [Layout.Phys]), rows left
// to right from address 0; addresses without RAM (the PCI hole below
// 4 GiB) are holes. A pixel shows the greatest class of its pages.
func DrawMap(classes []Class, l Layout, scale int) *image.RGBA {
	var top uint64 // one past the highest physical page
	if n := len(classes); n > 0 {
		top = l.Phys(uint64(n-1)*pageSize)/pageSize + 1
	}
	px := make([]Class, (top+uint64(scale)-1)/uint64(scale))
	for off, c := range classes {
		i := l.Phys(uint64(off)*pageSize) / pageSize / uint64(scale)
		px[i] = max(px[i], c)
	}
	w := mapWidth(scale)
	img := image.NewRGBA(image.Rect(0, 0, w, (len(px)+w-1)/w))
	draw.Draw(img, img.Bounds(), &image.Uniform{Palette[ClassHole]}, image.Point{}, draw.Src)
	for i, c := range px {
		img.SetRGBA(i%w, i/w, Palette[c])
	}
	return img
}
