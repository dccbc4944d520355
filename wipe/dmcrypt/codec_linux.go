package dmcrypt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"golang.org/x/sys/unix"
)

// Every request is one buffer: a struct dm_ioctl, then the payload at
// data_start; the kernel answers in the same buffer. From
// include/uapi/linux/dm-ioctl.h (ioctl interface 4.x, unchanged since 2.6):
//
//	struct dm_ioctl {
//		__u32 version[3];	/* in/out */
//		__u32 data_size;	/* total size of data passed in
//					 * including this struct */
//		__u32 data_start;	/* offset to start of data
//					 * relative to start of this struct */
//		__u32 target_count;	/* in/out */
//		__s32 open_count;	/* out */
//		__u32 flags;		/* in/out */
//		__u32 event_nr;		/* in/out */
//		__u32 padding;
//		__u64 dev;		/* in/out */
//		char name[DM_NAME_LEN];	/* device name */
//		char uuid[DM_UUID_LEN];	/* unique identifier for
//					 * the block device */
//		char data[7];		/* padding or data */
//	};
//
// That is unix.DmIoctl. The fields are read and written as bytes at these
// offsets, in the machine's byte order; TestDmIoctlLayout pins them to
// unix.DmIoctl, so no Go value is ever reinterpreted as kernel memory.
const (
	hdrVersion     = 0
	hdrDataSize    = 12
	hdrDataStart   = 16
	hdrTargetCount = 20
	hdrFlags       = 28
	hdrName        = 48
	hdrUUID        = 176
	// hdrSize is sizeof(struct dm_ioctl), 312, and the data_start of every
	// request: the kernel puts its answers there too (get_result_buffer
	// aligns the end of the struct to 8 bytes, which 312 already is).
	hdrSize = unix.SizeofDmIoctl
	// hdrMinDataSize is offsetof(struct dm_ioctl, data): the kernel
	// refuses a smaller data_size and answers "no data" with exactly this.
	hdrMinDataSize = 305
)

// A target spec in the DM_TABLE_STATUS answer, unix.DmTargetSpec:
//
//	struct dm_target_spec {
//		__u64 sector_start;
//		__u64 length;
//		__s32 status;		/* used when reading from kernel only */
//		__u32 next;
//		char target_type[DM_MAX_TYPE_NAME];
//	};
//
// followed by the target's status string (NUL-terminated, then padding to
// 8 bytes). For DM_TABLE_STATUS, next is "the number of bytes from the
// start of the first dm_target_spec (that follows the dm_ioctl struct) to
// the start of the next dm_target_spec" (the header's comment; in
// drivers/md/dm-ioctl.c, retrieve_status sets spec->next = outptr - outbuf,
// for the last spec too, so the chain length is target_count, not next==0).
const (
	specStart  = 0
	specLength = 8
	specNext   = 20
	specType   = 24
	specSize   = unix.SizeofDmTargetSpec // 40
)

// An entry of the DM_LIST_DEVICES answer. x/sys/unix has no type for it:
//
//	struct dm_name_list {
//		__u64 dev;
//		__u32 next;		/* offset to the next record from
//					   the _start_ of this */
//		char name[0];
//		/* since Linux 5.14 (ioctl 4.45), after the name's NUL aligned
//		 * to 8: __u32 event_nr; __u32 flags; char uuid[0]; */
//	};
//
// list_devices (drivers/md/dm-ioctl.c) writes next = 0 in the last entry
// and pads every entry to 8 bytes; with no devices it answers no data.
const (
	nameListDev  = 0
	nameListNext = 8
	nameListName = 12
)

// A DM_TARGET_MSG payload, unix.DmTargetMsg:
//
//	struct dm_target_msg {
//		__u64 sector;	/* Device sector */
//		char message[0];
//	};
const msgSector, msgText = 0, 8

var ne = binary.NativeEndian

// ErrMalformed is returned for a device-mapper answer that does not parse:
// a kernel bug or a changed ABI, never a state of the devices.
var ErrMalformed = errors.New("malformed device-mapper answer")

// errTableFlag is returned by [encodeRequest] for DM_STATUS_TABLE_FLAG.
var errTableFlag = errors.New("refusing DM_STATUS_TABLE_FLAG: dm-crypt answers it with its key")

// encodeRequest fills all of buf with a request for device name (or, for
// DM_LIST_DEVICES, a name prefix; "" is every device) with flags, followed
// by payload at data_start. len(buf) becomes data_size: the room the kernel
// may answer in. It zeroes what it does not set.
func encodeRequest(buf []byte, name string, flags uint32, payload []byte) error {
	switch {
	case flags&unix.DM_STATUS_TABLE_FLAG != 0:
		return errTableFlag
	case len(name) >= unix.DM_NAME_LEN:
		return fmt.Errorf("device name %q is longer than %d bytes", name, unix.DM_NAME_LEN-1)
	case bytes.IndexByte([]byte(name), 0) >= 0:
		return fmt.Errorf("device name %q contains a NUL byte", name)
	case len(buf) < hdrSize+len(payload):
		return fmt.Errorf("buffer of %d bytes cannot hold struct dm_ioctl and %d bytes of payload", len(buf), len(payload))
	case uint64(len(buf)) > math.MaxUint32:
		return fmt.Errorf("buffer of %d bytes: data_size is 32 bits", len(buf))
	}
	clear(buf)
	ne.PutUint32(buf[hdrVersion:], 4) // version 4.0.0: any 4.x kernel accepts it
	ne.PutUint32(buf[hdrDataSize:], uint32(len(buf)))
	ne.PutUint32(buf[hdrDataStart:], hdrSize)
	ne.PutUint32(buf[hdrFlags:], flags)
	copy(buf[hdrName:], name)
	copy(buf[hdrSize:], payload)
	return nil
}

// targetMsgSize is the size of a DM_TARGET_MSG request carrying msg.
func targetMsgSize(msg string) int { return hdrSize + msgText + len(msg) + 1 }

// encodeTargetMsg writes a DM_TARGET_MSG request for the target of device
// name that contains sector, carrying msg, with DM_SECURE_DATA_FLAG (the
// kernel wipes its copies of the buffer, and ours, after use). It returns
// the request: buf[:targetMsgSize(msg)].
func encodeTargetMsg(buf []byte, name string, sector uint64, msg string) ([]byte, error) {
	if bytes.IndexByte([]byte(msg), 0) >= 0 || msg == "" {
		return nil, fmt.Errorf("target message %q: empty or contains a NUL byte", msg)
	}
	n := targetMsgSize(msg)
	if len(buf) < n {
		return nil, fmt.Errorf("buffer of %d bytes cannot hold a %d-byte target message", len(buf), n)
	}
	req := buf[:n]
	if err := encodeRequest(req, name, unix.DM_SECURE_DATA_FLAG, nil); err != nil {
		return nil, err
	}
	ne.PutUint64(req[hdrSize+msgSector:], sector)
	copy(req[hdrSize+msgText:], msg) // the NUL is already there
	return req, nil
}

// reply is what the kernel wrote back into a request buffer.
type reply struct {
	flags       uint32
	targetCount uint32
	name, uuid  string
	// data is the answer, buf[data_start:data_size]; empty when the kernel
	// had none (it then leaves data_size at hdrMinDataSize).
	data []byte
}

// decodeReply reads the header of an answered request, checking data_start
// and data_size against buf before slicing.
func decodeReply(buf []byte) (reply, error) {
	if len(buf) < hdrSize {
		return reply{}, fmt.Errorf("%w: %d bytes, shorter than struct dm_ioctl", ErrMalformed, len(buf))
	}
	r := reply{
		flags:       ne.Uint32(buf[hdrFlags:]),
		targetCount: ne.Uint32(buf[hdrTargetCount:]),
		name:        cstring(buf[hdrName : hdrName+unix.DM_NAME_LEN]),
		uuid:        cstring(buf[hdrUUID : hdrUUID+unix.DM_UUID_LEN]),
	}
	start, size := uint64(ne.Uint32(buf[hdrDataStart:])), uint64(ne.Uint32(buf[hdrDataSize:]))
	if size <= start {
		return r, nil // no data
	}
	if start < hdrMinDataSize || size > uint64(len(buf)) {
		return reply{}, fmt.Errorf("%w: data_start %d, data_size %d in a %d-byte buffer", ErrMalformed, start, size, len(buf))
	}
	r.data = buf[start:size]
	return r, nil
}

// parseNameList decodes the data of a DM_LIST_DEVICES answer into device
// names. It checks every offset before reading and returns no names on
// error.
func parseNameList(data []byte) ([]string, error) {
	if len(data) == 0 {
		return nil, nil // no devices
	}
	var names []string
	for off := 0; ; {
		rest := data[off:]
		if len(rest) < nameListName+1 {
			return nil, fmt.Errorf("%w: name list entry at %d: %d bytes left", ErrMalformed, off, len(rest))
		}
		next := uint64(ne.Uint32(rest[nameListNext:]))
		if off == 0 && next == 0 && ne.Uint64(rest[nameListDev:]) == 0 {
			return nil, nil // dev 0 "flags no data" (list_devices)
		}
		end := uint64(len(rest))
		if next != 0 {
			if next > end || next%8 != 0 || next <= nameListName {
				return nil, fmt.Errorf("%w: name list entry at %d: next %d with %d bytes left", ErrMalformed, off, next, len(rest))
			}
			end = next
		}
		name, ok := cstringOK(rest[nameListName:end])
		if !ok || name == "" || len(name) >= unix.DM_NAME_LEN {
			return nil, fmt.Errorf("%w: name list entry at %d: bad name", ErrMalformed, off)
		}
		names = append(names, name)
		if next == 0 {
			return names, nil
		}
		off += int(next) // next <= len(rest): no overflow
	}
}

// Target is one target of a device's live table: its type and where it
// lies on the device, in 512-byte sectors. Never its parameters.
type Target struct {
	Type   string // "crypt", "linear", …
	Start  uint64 // first sector
	Length uint64 // sectors
}

// parseTargetSpecs decodes the data of a DM_TABLE_STATUS answer holding
// count target specs. It checks every offset before reading, ignores the
// status strings, and returns no targets on error.
func parseTargetSpecs(data []byte, count uint32) ([]Target, error) {
	// Each spec takes at least specSize+8 bytes (its status string's NUL,
	// padded), but the last one's padding may be cut off by data_size.
	if uint64(count) > uint64(len(data))/specSize {
		return nil, fmt.Errorf("%w: %d target specs in %d bytes", ErrMalformed, count, len(data))
	}
	ts := make([]Target, 0, count)
	for i, off := uint32(0), uint64(0); i < count; i++ {
		if off+specSize > uint64(len(data)) {
			return nil, fmt.Errorf("%w: target spec %d at %d: past the end (%d bytes)", ErrMalformed, i, off, len(data))
		}
		s := data[off : off+specSize]
		typ := cstring(s[specType:specSize]) // strncpy'd: NUL within 16, or cut at 16
		if typ == "" {
			return nil, fmt.Errorf("%w: target spec %d at %d: no target type", ErrMalformed, i, off)
		}
		ts = append(ts, Target{Type: typ, Start: ne.Uint64(s[specStart:]), Length: ne.Uint64(s[specLength:])})
		next := uint64(ne.Uint32(s[specNext:]))
		if i+1 < count && (next <= off+specSize || next%8 != 0) {
			return nil, fmt.Errorf("%w: target spec %d at %d: next %d", ErrMalformed, i, off, next)
		}
		off = next
	}
	return ts, nil
}

// cstring returns b up to its first NUL, or all of b.
func cstring(b []byte) string {
	s, _ := cstringOK(b)
	return s
}

// cstringOK returns b up to its first NUL, and whether there was one.
func cstringOK(b []byte) (string, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i]), true
	}
	return string(b), false
}
