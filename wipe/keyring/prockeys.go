package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Key is a key that /proc/keys lists. Its payload is never read.
type Key struct {
	ID          int32 // serial number, as keyctl(2) takes it
	Type        string
	Description string
	// Kernel: the key is charged to no user's quota (no Q flag): the
	// kernel made it for itself, as the block layer's SED-OPAL
	// "opal-boot-pin", and keeps a reference to it.
	Kernel bool
}

func (k Key) String() string { return fmt.Sprintf("%08x %s %q", k.ID, k.Type, k.Description) }

// Disk reports whether k is, or may be, a disk-encryption key: any key of
// type logon, the type the kernel's disk and file-system encryption reads
// (cryptsetup loads a LUKS2 volume key as "cryptsetup:<uuid>-d<digest>",
// and crypttab's link-volume-key= or cryptsetup --link-vk-to-keyring link
// one under any description the admin chose, such as RHEL kdump's
// "kdump-cryptsetup:vk-<uuid>"), or the passphrase systemd caches (type
// user, description "cryptsetup"). A volume key linked as a user key under
// another name is not told apart here: see [Key.Secret].
func (k Key) Disk() bool {
	return k.Type == "logon" || k.Type == "user" && k.Description == "cryptsetup"
}

// Secret reports whether a panic takes k out of the keyrings: every key
// whose payload is a secret in kernel memory, that is of type logon, user
// (link-volume-key= links a volume key as a user key unless told
// "%logon:", under any name; Kerberos tickets, other passphrases),
// encrypted, trusted or big_key. Every [Key.Disk] key is one. A panic ends
// the system, so no key's loss matters; a key left behind might.
// One name is known not to be a secret: systemd puts each unit's
// invocation ID (public: the journal has it) in a user key "invocation_id".
func (k Key) Secret() bool {
	switch k.Type {
	case "logon", "encrypted", "trusted", "big_key":
		return true
	case "user":
		return k.Description != "invocation_id"
	}
	return false
}

// ErrMalformed is returned by [Parse] for lines it cannot read.
var ErrMalformed = errors.New("malformed /proc/keys line")

// Parse reads the content of /proc/keys, one key a line, written by
// proc_keys_show (security/keys/proc.c, the same since Linux 3.x):
//
//	seq_printf(m, "%08x %c%c%c%c%c%c%c %5d %4s %08x %5d %5d %-9.9s ",
//		   key->serial, <flags: I R D Q U N i>, usage, timeout,
//		   key->perm, uid, gid, key->type->name);
//	key->type->describe(key, m);
//
// so eight fields, then the type padded or cut to 9 characters and a
// space, then the description: for user and logon keys (user_describe)
// the description, followed by ": <payload length>" when the key is
// positive (flags I, and not N). The description is taken from its fixed
// column, so spaces in it are kept; for other key types it may include
// their summary.
//
// Parse returns the keys of every well-formed line, and [ErrMalformed]
// with the number of the first bad line if there are others.
func Parse(b []byte) ([]Key, error) {
	var keys []Key
	bad, first := 0, ""
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		k, err := parseLine(string(line))
		if err != nil {
			if bad == 0 {
				first = fmt.Sprintf("line %d: %v", n, err)
			}
			bad++
			continue
		}
		keys = append(keys, k)
	}
	if bad > 0 {
		return keys, fmt.Errorf("%w: %d bad lines; %s", ErrMalformed, bad, first)
	}
	return keys, nil
}

// typeWidth is the type column's width, "%-9.9s".
const typeWidth = 9

func parseLine(line string) (Key, error) {
	// id, flags, usage, timeout, perm, uid, gid, type
	var f [8]string
	pos, typeAt := 0, 0
	for i := range f {
		for pos < len(line) && line[pos] == ' ' {
			pos++
		}
		start := pos
		for pos < len(line) && line[pos] != ' ' {
			pos++
		}
		if start == pos {
			return Key{}, fmt.Errorf("%d fields, want at least 8", i)
		}
		f[i], typeAt = line[start:pos], start
	}
	typ := f[7]
	descAt := typeAt + typeWidth + 1
	if len(typ) > typeWidth || len(line) < descAt || strings.Trim(line[typeAt+len(typ):descAt], " ") != "" {
		return Key{}, fmt.Errorf("type column %q is not %d characters and a space", typ, typeWidth)
	}
	id, err := parseSerial(f[0])
	if err != nil {
		return Key{}, err
	}
	desc := line[descAt:]
	flags := f[1]
	positive := flags[0] == 'I' && (len(flags) < 6 || flags[5] != 'N')
	if positive {
		if i := strings.LastIndex(desc, ": "); i >= 0 {
			desc = desc[:i]
		}
	}
	return Key{ID: id, Type: typ, Description: desc, Kernel: !strings.Contains(flags, "Q")}, nil
}

// parseSerial reads a key serial printed with %08x: positive, 31 bits.
func parseSerial(s string) (int32, error) {
	if len(s) > 8 || strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) }) >= 0 {
		return 0, fmt.Errorf("key id %q is not hexadecimal", s)
	}
	id, err := strconv.ParseUint(s, 16, 32)
	if err != nil || id == 0 || id > 1<<31-1 {
		return 0, fmt.Errorf("key id %q out of range", s)
	}
	return int32(id), nil
}
