package hotkey

import (
	"encoding/binary"
	"math/bits"
)

// Event is one input event without its timestamp.
type Event struct {
	Type  uint16
	Code  uint16
	Value int32
}

// eventSize is sizeof(struct input_event) on this architecture. From
// include/uapi/linux/input.h:
//
//	struct input_event {
//		struct timeval time;	/* or __kernel_ulong_t __sec, __usec */
//		__u16 type;
//		__u16 code;
//		__s32 value;
//	};
//
// The time is two longs either way (16 bytes on 64-bit machines, 8 on
// 32-bit ones, where the kernel uses the __sec/__usec form for 64-bit
// time_t users), then 8 bytes of type, code and value: 24 bytes on 64-bit.
const eventSize = 2*bits.UintSize/8 + 8

// decodeEvents decodes the whole input_event records at the start of b into
// evs and returns how many it decoded and how many bytes they took. The
// caller keeps the remainder (a record split by a short read) for later.
func decodeEvents(b []byte, evs []Event) (n, used int) {
	for n < len(evs) && used+eventSize <= len(b) {
		r := b[used+eventSize-8 : used+eventSize]
		evs[n] = Event{
			Type:  binary.NativeEndian.Uint16(r[0:]),
			Code:  binary.NativeEndian.Uint16(r[2:]),
			Value: int32(binary.NativeEndian.Uint32(r[4:])),
		}
		n++
		used += eventSize
	}
	return n, used
}
