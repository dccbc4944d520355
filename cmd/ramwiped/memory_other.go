//go:build linux && !amd64

package main

import "errors"

// releaseHeapIndex knows the Go runtime's heap index on amd64 only.
func releaseHeapIndex() (uintptr, error) {
	return 0, errors.New("not on this architecture")
}
