package dmcrypt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// headerSize is sizeof(struct dm_ioctl) (include/uapi/linux/dm-ioctl.h).
const headerSize = unix.SizeofDmIoctl

// ErrMalformed reports a device-mapper reply that does not parse.
var ErrMalformed = errors.New("malformed device-mapper reply")

// request builds an ioctl buffer of size bytes: a struct dm_ioctl for
// device name with flags, then payload at data_start.
func request(size int, name string, flags uint32, payload []byte) ([]byte, error) {
	if len(name) >= len(unix.DmIoctl{}.Name) {
		return nil, fmt.Errorf("device name %q: longer than %d bytes", name, len(unix.DmIoctl{}.Name)-1)
	}
	size = max(size, headerSize+len(payload))
	buf := make([]byte, size)
	h := header(buf)
	h.Version = [3]uint32{4, 0, 0}
	h.Data_size = uint32(size)
	h.Data_start = headerSize
	h.Flags = flags
	copy(h.Name[:], name)
	copy(buf[headerSize:], payload)
	return buf, nil
}

// header views the start of buf as a struct dm_ioctl.
func header(buf []byte) *unix.DmIoctl {
	if len(buf) < headerSize {
		panic("dmcrypt: buffer shorter than struct dm_ioctl")
	}
	return (*unix.DmIoctl)(unsafe.Pointer(&buf[0]))
}

// data returns the reply's data area, checked against the buffer.
func data(buf []byte) ([]byte, error) {
	h := header(buf)
	start, size := int(h.Data_start), int(h.Data_size)
	if start < headerSize || size > len(buf) || start > size {
		return nil, fmt.Errorf("%w: data_start %d, data_size %d, buffer %d", ErrMalformed, start, size, len(buf))
	}
	return buf[start:size], nil
}

// ParseNameList decodes the reply data of DM_LIST_DEVICES: a chain of
//
//	struct dm_name_list { __u64 dev; __u32 next; char name[]; ... };
//
// where next is the offset of the following entry from this one, 0 at the end.
func ParseNameList(d []byte) ([]string, error) {
	const nameOff = 12
	var names []string
	for off := 0; ; {
		if len(d)-off < nameOff {
			if off == 0 && len(d) < 8 {
				return nil, nil // no devices: an empty reply
			}
			return names, fmt.Errorf("%w: name list entry at %d past the end", ErrMalformed, off)
		}
		dev := binary.LittleEndian.Uint64(d[off:])
		next := int(binary.LittleEndian.Uint32(d[off+8:]))
		if dev == 0 && next == 0 && off == 0 {
			return nil, nil // the kernel writes a zeroed entry when there are no devices
		}
		end := bytes.IndexByte(d[off+nameOff:], 0)
		if end < 0 {
			return names, fmt.Errorf("%w: unterminated name at %d", ErrMalformed, off)
		}
		names = append(names, string(d[off+nameOff:off+nameOff+end]))
		if next == 0 {
			return names, nil
		}
		if next < nameOff || next > len(d)-off {
			return names, fmt.Errorf("%w: next offset %d at %d", ErrMalformed, next, off)
		}
		off += next
		if len(names) > 1<<16 {
			return names, fmt.Errorf("%w: more than 65536 devices", ErrMalformed)
		}
	}
}

// Target is one target of a device's live table.
type Target struct {
	Start, Length uint64 // in 512-byte sectors
	Type          string
}

// ParseTargets decodes the reply data of DM_TABLE_STATUS: count entries of
//
//	struct dm_target_spec { __u64 sector_start, length; __s32 status;
//	                        __u32 next; char target_type[16]; };
//
// each followed by its status string; next is the offset of the following
// spec from the start of the data area (drivers/md/dm-ioctl.c, retrieve_status).
func ParseTargets(d []byte, count int) ([]Target, error) {
	if count < 0 || count > 1<<16 {
		return nil, fmt.Errorf("%w: %d targets", ErrMalformed, count)
	}
	var ts []Target
	off := 0
	for i := range count {
		if off < 0 || len(d)-off < unix.SizeofDmTargetSpec {
			return ts, fmt.Errorf("%w: target %d at %d past the end", ErrMalformed, i, off)
		}
		typ := d[off+24 : off+40]
		if n := bytes.IndexByte(typ, 0); n >= 0 {
			typ = typ[:n]
		}
		ts = append(ts, Target{
			Start:  binary.LittleEndian.Uint64(d[off:]),
			Length: binary.LittleEndian.Uint64(d[off+8:]),
			Type:   string(typ),
		})
		next := int(binary.LittleEndian.Uint32(d[off+20:]))
		if i < count-1 && next <= off {
			return ts, fmt.Errorf("%w: target %d: next offset %d does not advance", ErrMalformed, i, next)
		}
		off = next
	}
	return ts, nil
}

// targetMsg is the payload of DM_TARGET_MSG:
//
//	struct dm_target_msg { __u64 sector; char message[]; };
func targetMsg(sector uint64, msg string) []byte {
	b := make([]byte, 8+len(msg)+1)
	binary.LittleEndian.PutUint64(b, sector)
	copy(b[8:], msg)
	return b
}
