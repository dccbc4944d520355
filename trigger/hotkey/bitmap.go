package hotkey

import (
	"encoding/binary"
	"math/bits"
)

// The kernel fills EVIOCGBIT and EVIOCGKEY buffers as arrays of unsigned
// long (drivers/input/evdev.c, bits_to_user), so bit n lives in long n/W at
// bit n%W, W = bits per long. On little-endian machines that is byte n/8,
// bit n%8; on big-endian ones it is not, so the bitmaps are read word by
// word in native byte order. Buffers are whole longs: a shorter buffer
// would get the wrong half of a long on big-endian machines.
const wordBytes = bits.UintSize / 8

// bitmapLen returns the bytes of a kernel bitmap of n bits.
func bitmapLen(n int) int {
	return (n + bits.UintSize - 1) / bits.UintSize * wordBytes
}

func word(b []byte, i int) (uint64, bool) {
	off := i * wordBytes
	if off < 0 || off+wordBytes > len(b) {
		return 0, false
	}
	if wordBytes == 8 {
		return binary.NativeEndian.Uint64(b[off:]), true
	}
	return uint64(binary.NativeEndian.Uint32(b[off:])), true
}

func testBit(b []byte, n int) bool {
	w, ok := word(b, n/bits.UintSize)
	return ok && w>>(n%bits.UintSize)&1 == 1
}

func setBit(b []byte, n int) {
	i := n / bits.UintSize
	w, ok := word(b, i)
	if !ok {
		return
	}
	w |= 1 << (n % bits.UintSize)
	if wordBytes == 8 {
		binary.NativeEndian.PutUint64(b[i*wordBytes:], w)
	} else {
		binary.NativeEndian.PutUint32(b[i*wordBytes:], uint32(w))
	}
}

// KeyState is a key bitmap as the kernel fills it for EVIOCGKEY (keys held
// down) and EVIOCGBIT(EV_KEY) (keys a device has): bit k is key k.
type KeyState []byte

// NewKeyState returns a bitmap of every key code with the given keys set.
func NewKeyState(keys ...Key) KeyState {
	s := make(KeyState, bitmapLen(keyCnt))
	for _, k := range keys {
		setBit(s, int(k))
	}
	return s
}

// Has reports whether bit k is set.
func (s KeyState) Has(k Key) bool { return testBit(s, int(k)) }
