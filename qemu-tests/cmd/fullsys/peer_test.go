package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

func TestKernelImage(t *testing.T) {
	k, err := kernelImage(`    1b000000-1c002a86 : Kernel code
    1c200000-1cc67fff : Kernel rodata
    1ce00000-1d1b6eff : Kernel data
    1d7e3000-1dbfffff : Kernel bss
`)
	require.NoError(t, err)
	assert.Equal(t, lab.Range{Start: 0x1b000000, End: 0x1dc00000}, k)

	_, err = kernelImage("    00000000-00000000 : Kernel code\n")
	assert.ErrorContains(t, err, "addresses hidden")
	_, err = kernelImage("")
	assert.Error(t, err)
}
