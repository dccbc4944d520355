//go:build lab

package main

import (
	"errors"
	"os"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/fill"
)

// labHooks lets the lab's build of the image (go build -tags lab) change
// the fill's options. It reports whether to skip the fill. The hooks fail on
// purpose, to prove the /init still reaches its action:
//
//	ramwipe.lab=noop       no fill at all (the lab's negative control)
//	ramwipe.lab=fail-fill  every worker fails to start
//	ramwipe.lab=hang-fill  workers never finish; only the deadline ends the fill
//	ramwipe.lab=panic      the /init panics before the fill
//
// and measure it (see labbench.go): ramwipe.lab=memset=MiB,nohuge.
func labHooks(p initramfs.Params, o *fill.Options) bool {
	if bench, ok := parseLabBench(p.Lab); ok {
		bench.run(p, o)
		return false
	}
	switch p.Lab {
	case "noop":
		return true
	case "fail-fill":
		o.Start = func(int, *os.File) (fill.Proc, error) {
			return nil, errors.New("lab: worker start failed on purpose")
		}
	case "hang-fill":
		o.Start = func(int, *os.File) (fill.Proc, error) { return hangProc{make(chan struct{})}, nil }
	case "panic":
		panic("lab: /init panics on purpose")
	}
	return false
}

// hangProc is a worker that never ends by itself and ignores Kill.
type hangProc struct{ c chan struct{} }

func (h hangProc) Wait() error { <-h.c; return nil }
func (h hangProc) Kill()       {}
