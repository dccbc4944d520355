package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// guestImage is a full-system guest: a Debian release and the tool that
// makes its initramfs. qemu-tests/fullsys/build-image.sh builds each.
type guestImage struct {
	Suite     string `json:"suite"`     // bookworm, trixie
	Initramfs string `json:"initramfs"` // initramfs-tools, dracut
}

// The initramfs tools build-image.sh knows.
const (
	initramfsTools = "initramfs-tools"
	dracutTool     = "dracut"
)

// guestImages are the guests the lab builds: every suite with either
// initramfs tool. The first of a suite is its default (-suite).
var guestImages = []guestImage{
	{"bookworm", initramfsTools},
	{"bookworm", dracutTool},
	{"trixie", initramfsTools},
	{"trixie", dracutTool},
}

// findImage returns the guest of this suite and initramfs tool, or an
// error that lists the ones there are.
func findImage(suite, initramfs string) (guestImage, error) {
	g := guestImage{suite, initramfs}
	if slices.Contains(guestImages, g) {
		return g, nil
	}
	var names []string
	for _, g := range guestImages {
		names = append(names, g.String())
	}
	return guestImage{}, fmt.Errorf("no guest image %s: want one of %s", g, strings.Join(names, ", "))
}

func (g guestImage) String() string { return g.Suite + "/" + g.Initramfs }

// imageBuild is how the guest image was had: built now, or found in the
// cache with the same recipe.
type imageBuild struct {
	guestImage
	Dir     string  `json:"dir"`
	Built   bool    `json:"built"`
	Seconds float64 `json:"seconds"`
}

// build runs build-image.sh, which prints the image's directory and, only
// when it builds, what it does on stderr.
func (g guestImage) build(ctx context.Context, cache string, stderr io.Writer) (*imageBuild, error) {
	start := time.Now()
	var log strings.Builder
	args := []string{"qemu-tests/fullsys/build-image.sh", cache, g.Suite}
	if g.Initramfs == dracutTool {
		args = append(args, dracutTool)
	}
	cmd := exec.CommandContext(ctx, "sh", args...)
	cmd.Stderr = io.MultiWriter(stderr, &log)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("build-image.sh %s (%s): %w", cache, g, err)
	}
	return &imageBuild{
		guestImage: g,
		Dir:        strings.TrimSpace(string(out)),
		Built:      strings.Contains(log.String(), "debootstrap"),
		Seconds:    time.Since(start).Seconds(),
	}, nil
}
