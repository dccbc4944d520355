package chart

import (
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// scan is a 64 MiB dump whose pages take the classes fill gives them.
func scan(fill func(page int) lab.Class) *lab.Scan {
	s := &lab.Scan{Classes: make([]lab.Class, 64<<20/4096), ClassPages: map[string]int{}}
	for i := range s.Classes {
		s.Classes[i] = fill(i)
		s.ClassPages[s.Classes[i].String()]++
	}
	return s
}

func decode(t *testing.T, path string) (w, h int) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestMemoryMaps(t *testing.T) {
	pre := scan(func(p int) lab.Class {
		switch {
		case p < 256:
			return lab.ClassHole
		case p%3 == 0:
			return lab.ClassCanary
		}
		return lab.ClassOld
	})
	post := scan(func(p int) lab.Class {
		if p < 256 {
			return lab.ClassHole
		}
		return lab.ClassPattern
	})
	path := filepath.Join(t.TempDir(), "map.png")
	if dir := os.Getenv("RAMWIPE_CHART_DIR"); dir != "" {
		path = filepath.Join(dir, "map.png") // to look at it
	}
	require.NoError(t, MemoryMaps(path, "test, 64 MiB", pre, post, lab.Layout{LowMem: 1 << 30}, 64<<20))
	w, h := decode(t, path)
	assert.Greater(t, w, h, "two maps and a legend side by side")

	assert.Error(t, MemoryMaps(path, "x", pre, &lab.Scan{}, lab.Layout{}, 64<<20), "a dump without classes")
}

func TestBars(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bars.png")
	if dir := os.Getenv("RAMWIPE_CHART_DIR"); dir != "" {
		path = filepath.Join(dir, "bars.png")
	}
	red, blue := color.RGBA{0xe3, 0x1a, 0x1c, 0xff}, color.RGBA{0x31, 0x82, 0xbd, 0xff}
	require.NoError(t, Bars(path, []Panel{
		{Title: "time", YLabel: "seconds", Format: "%.1f s", Bars: []Bar{{"wipes", "a", 16.7, blue}, {"does not", "b", 1.9, red}}},
		{Title: "left", YLabel: "% of RAM", Format: "%.2f %%", Bars: []Bar{{"wipes", "a", 0, blue}, {"does not", "b", 61.2, red}}},
	}))
	decode(t, path)
	assert.Error(t, Bars(path, nil))
}
