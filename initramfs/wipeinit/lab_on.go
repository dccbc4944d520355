//go:build lab

package main

import (
	"errors"
	"os"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/fill"
)

// labHooks lets the lab's build of the image (go build -tags lab) fail on
// purpose, to prove the /init still reaches its action:
//
//	ramwipe.lab=noop       no fill at all (the lab's negative control)
//	ramwipe.lab=fail-fill  every worker fails to start
//	ramwipe.lab=hang-fill  workers never finish; only the deadline ends the fill
//	ramwipe.lab=panic      the /init panics before the fill
//
// and measure it (see labbench.go): ramwipe.lab=memset=MiB,nohuge.
func labHooks(p initramfs.Params, start fill.StartFunc, workers int, logf func(string, ...any)) (fill.StartFunc, bool) {
	if bench, ok := parseLabBench(p.Lab); ok {
		return bench.run(p, start, workers, logf), false
	}
	switch p.Lab {
	case "noop":
		return start, true
	case "fail-fill":
		return func(int, *os.File) (fill.Proc, error) {
			return nil, errors.New("lab: worker start failed on purpose")
		}, false
	case "hang-fill":
		return func(int, *os.File) (fill.Proc, error) { return hangProc{make(chan struct{})}, nil }, false
	case "panic":
		panic("lab: /init panics on purpose")
	}
	return start, false
}

// hangProc is a worker that never ends by itself and ignores Kill.
type hangProc struct{ c chan struct{} }

func (h hangProc) Wait() error { <-h.c; return nil }
func (h hangProc) Kill()       {}
