package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindImage(t *testing.T) {
	g, err := findImage("trixie", dracutTool)
	require.NoError(t, err)
	assert.Equal(t, "trixie/dracut", g.String())
	_, err = findImage("sid", initramfsTools)
	assert.ErrorContains(t, err, "no guest image sid/initramfs-tools: want one of bookworm/initramfs-tools, bookworm/dracut, trixie/initramfs-tools, trixie/dracut")
}
