// Package chart draws the lab's pictures for people: a dump's before/after
// memory map and the peer comparison, each a PNG with a title, labelled
// axes and a legend inside the image (gonum.org/v1/plot).
package chart

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

// thumb is a legend thumbnail: a square of one colour.
type thumb struct{ c color.Color }

func (t thumb) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(t.c, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// MemoryMaps writes the pre-trigger and post dumps' memory maps of a guest
// of ramBytes side by side to path as PNG: each page class in its colour
// ([lab.Palette]), physical addresses up the y axis, a legend of the
// classes with each one's share of the post dump.
func MemoryMaps(path, title string, pre, post *lab.Scan, l lab.Layout, ramBytes uint64) error {
	if pre == nil || post == nil || len(pre.Classes) == 0 || len(post.Classes) == 0 {
		return errors.New("memory map: no page classes (a dump was not scanned)")
	}
	scale := lab.MapScale(ramBytes)
	panels := []struct {
		name string
		s    *lab.Scan
	}{{"before the trigger", pre}, {"after the wipe", post}}
	var plots []*plot.Plot
	for _, p := range panels {
		img := flip(lab.DrawMap(p.s.Classes, l, scale))
		rowMiB := float64(img.Bounds().Dx()*scale*4096) / (1 << 20)
		topMiB := rowMiB * float64(img.Bounds().Dy())
		pl := newPlot(fmt.Sprintf("%s: %s", title, p.name))
		pl.X.Label.Text = "offset within the row (MiB)"
		pl.Y.Label.Text = "physical address (MiB)"
		pl.Add(plotter.NewImage(img, 0, 0, rowMiB, topMiB))
		pl.X.Min, pl.X.Max, pl.Y.Min, pl.Y.Max = 0, rowMiB, 0, topMiB
		plots = append(plots, pl)
	}

	const w, h, legendW = 14 * vg.Inch, 9 * vg.Inch, 4 * vg.Inch
	canvas := vgimg.New(w, h)
	dc := draw.New(canvas)
	maps := draw.Crop(dc, 0, -legendW, 0, 0)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter}
	for i, c := range plot.Align([][]*plot.Plot{plots}, tiles, maps)[0] {
		plots[i].Draw(c)
	}
	leg := newLegend()
	for c := range lab.Palette {
		share := 100 * float64(post.ClassPages[lab.Class(c).String()]) / float64(len(post.Classes))
		leg.Add(fmt.Sprintf("%s (%.2f%% after)", lab.ClassNames[c], share), thumb{lab.Palette[c]})
	}
	leg.Draw(draw.Crop(dc, w-legendW+vg.Millimeter*2, 0, 0, -vg.Inch))
	return writePNG(path, canvas)
}

// flip turns an image upside down, so that address 0 (the map's top left
// pixel) is at the bottom of the plot and addresses grow up the y axis.
func flip(src *image.RGBA) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		copy(dst.Pix[(b.Max.Y-1-y)*dst.Stride:][:b.Dx()*4], src.Pix[y*src.Stride:][:b.Dx()*4])
	}
	return dst
}

// Bar is one bar of a [Bars] chart.
type Bar struct {
	Label string  // in the legend
	Short string  // under the bar
	Value float64 // in the panel's unit
	Color color.Color
}

// Panel is one bar chart of a [Bars] figure.
type Panel struct {
	Title, YLabel string
	Bars          []Bar
	// Format prints a bar's value above it.
	Format string
}

// Bars writes panels side by side to path as PNG, with a legend of the
// first panel's bar labels under them (the panels show the same peers).
func Bars(path string, panels []Panel) error {
	if len(panels) == 0 || len(panels[0].Bars) == 0 {
		return errors.New("chart: no bars")
	}
	var plots []*plot.Plot
	for _, pn := range panels {
		pl := newPlot(pn.Title)
		pl.Y.Label.Text = pn.YLabel
		pl.Y.Min = 0
		var names []string
		for i, b := range pn.Bars {
			bc, err := plotter.NewBarChart(plotter.Values{b.Value}, 0.6*vg.Inch)
			if err != nil {
				return err
			}
			bc.Color = b.Color
			bc.LineStyle.Width = 0
			bc.XMin = float64(i)
			pl.Add(bc)
			names = append(names, b.Short)
			labels, err := plotter.NewLabels(plotter.XYLabels{
				XYs:    plotter.XYs{{X: float64(i), Y: b.Value}},
				Labels: []string{fmt.Sprintf(pn.Format, b.Value)},
			})
			if err != nil {
				return err
			}
			labels.Offset = vg.Point{X: -0.2 * vg.Inch, Y: 2 * vg.Millimeter}
			pl.Add(labels)
		}
		pl.NominalX(names...)
		pl.X.Min, pl.X.Max = -0.6, float64(len(pn.Bars))-0.4
		top := 0.0
		for _, b := range pn.Bars {
			top = max(top, b.Value)
		}
		pl.Y.Max = max(top*1.2, 1e-9)
		plots = append(plots, pl)
	}
	const w, h, legendH = 13 * vg.Inch, 7 * vg.Inch, 1.8 * vg.Inch
	canvas := vgimg.New(w, h)
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Centimeter, PadTop: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: vg.Millimeter}
	for i, c := range plot.Align([][]*plot.Plot{plots}, tiles, draw.Crop(dc, 0, 0, legendH, 0))[0] {
		plots[i].Draw(c)
	}
	leg := newLegend()
	leg.YOffs = -vg.Centimeter
	for _, b := range panels[0].Bars {
		leg.Add(b.Short+": "+b.Label, thumb{b.Color})
	}
	leg.Draw(draw.Crop(dc, vg.Centimeter, 0, 0, -(h - legendH)))
	return writePNG(path, canvas)
}

// newPlot is a plot with a title in a readable size.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.Title.Padding = vg.Centimeter / 2
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(11)
	}
	return p
}

// newLegend is a legend for the top left of a canvas beside the plots.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(12)
	l.Padding = vg.Millimeter * 1.5
	l.ThumbnailWidth = 0.3 * vg.Inch
	return l
}

func writePNG(path string, c *vgimg.Canvas) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = vgimg.PngCanvas{Canvas: c}.WriteTo(f)
	return errors.Join(err, f.Close())
}
