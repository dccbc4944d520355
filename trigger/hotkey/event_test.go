package hotkey

import (
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/assert"
)

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func TestEventLayout(t *testing.T) {
	if bits.UintSize == 64 {
		assert.Equal(t, 24, eventSize, "struct input_event on 64-bit Linux")
	} else {
		assert.Equal(t, 16, eventSize)
	}
	if !littleEndian || bits.UintSize != 64 {
		t.Skip("the literal record below is little-endian, 64-bit")
	}
	rec := []byte{
		0x10, 0x32, 0x54, 0x76, 0, 0, 0, 0, // tv_sec
		0x40, 0x42, 0x0f, 0, 0, 0, 0, 0, // tv_usec
		0x01, 0x00, // type EV_KEY
		0x0e, 0x00, // code KEY_BACKSPACE
		0x02, 0x00, 0x00, 0x00, // value 2 (repeat)
	}
	evs := make([]Event, 4)
	n, used := decodeEvents(rec, evs)
	assert.Equal(t, 1, n)
	assert.Equal(t, 24, used)
	assert.Equal(t, Event{Type: evKey, Code: uint16(keyBackspace), Value: 2}, evs[0])

	neg := append([]byte(nil), rec...)
	copy(neg[20:], []byte{0xff, 0xff, 0xff, 0xff})
	decodeEvents(neg, evs)
	assert.Equal(t, int32(-1), evs[0].Value, "value is signed")
}

// record encodes ev as the kernel would, in native byte order.
func record(ev Event) []byte {
	b := make([]byte, eventSize)
	o := eventSize - 8
	binary.NativeEndian.PutUint16(b[o:], ev.Type)
	binary.NativeEndian.PutUint16(b[o+2:], ev.Code)
	binary.NativeEndian.PutUint32(b[o+4:], uint32(ev.Value))
	for i := range o {
		b[i] = 0xa5 // the timestamp is ignored
	}
	return b
}

func records(evs ...Event) []byte {
	var b []byte
	for _, ev := range evs {
		b = append(b, record(ev)...)
	}
	return b
}

func TestDecodeEvents(t *testing.T) {
	in := []Event{press(lctrl), syn, release(lctrl), syn, dropped}
	b := records(in...)

	evs := make([]Event, 8)
	n, used := decodeEvents(b, evs)
	assert.Equal(t, len(in), n)
	assert.Equal(t, len(b), used)
	assert.Equal(t, in, evs[:n])

	// A short read leaves a partial record for later.
	n, used = decodeEvents(b[:2*eventSize+5], evs)
	assert.Equal(t, 2, n)
	assert.Equal(t, 2*eventSize, used)

	// No more than fit in evs.
	n, used = decodeEvents(b, evs[:3])
	assert.Equal(t, 3, n)
	assert.Equal(t, 3*eventSize, used)

	n, used = decodeEvents(nil, evs)
	assert.Zero(t, n)
	assert.Zero(t, used)
}

func TestBitmap(t *testing.T) {
	assert.Equal(t, 96, bitmapLen(keyCnt), "KEY_CNT bits")
	assert.Equal(t, bits.UintSize/8, bitmapLen(evCnt), "EV_CNT bits fill one long")
	assert.Equal(t, 0, bitmapLen(0))

	s := NewKeyState(keyA, lctrl, 0x2ff)
	assert.Len(t, s, 96)
	assert.True(t, s.Has(keyA))
	assert.True(t, s.Has(lctrl))
	assert.True(t, s.Has(0x2ff))
	assert.False(t, s.Has(rctrl))
	assert.False(t, s.Has(0x300), "beyond the bitmap")
	assert.False(t, KeyState(nil).Has(keyA))
	setBit(s[:8], 100) // beyond a short buffer: ignored
	if littleEndian {
		// On little-endian machines the long array is a byte bitmap:
		// KEY_A (30) is byte 3, bit 6; KEY_LEFTCTRL (29) byte 3, bit 5.
		assert.Equal(t, byte(1<<6|1<<5), s[3])
		assert.Equal(t, byte(0x80), s[95])
	}
}
