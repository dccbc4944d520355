package canary

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFillDecode(t *testing.T) {
	page := make([]byte, PageSize)
	Fill(page, 0xdeadbeef, Pipe, 12345)
	head := Head(0xdeadbeef)
	for c := range CellsPerPage {
		require.Equal(t, head, binary.LittleEndian.Uint64(page[c*CellSize:]))
		got, ok := Decode(binary.LittleEndian.Uint64(page[c*CellSize+8:]))
		require.True(t, ok)
		assert.Equal(t, Cell{Kind: Pipe, Cell: c, Index: 12345}, got)
	}
	assert.Equal(t, "RWCN", string(page[:4]))
}

func TestDecodeRejectsUnknownKind(t *testing.T) {
	_, ok := Decode(Tail(0, 1, 2))
	assert.False(t, ok)
	_, ok = Decode(Tail(numKinds, 1, 2))
	assert.False(t, ok)
}
