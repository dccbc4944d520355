package keyring

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// procKeys as root sees it with an unlocked LUKS2 volume and systemd's
// cached passphrase (format of security/keys/proc.c).
const sample = `0c5aa4e9 I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0: 64
1b2f0c33 I--Q---     1  99s 3f010000     0     0 user      cryptsetup: 19
2e9a7f10 I--Q---     2 perm 3f030000     0     0 keyring   _ses: 1
3f00aa01 I--Q---     1 perm 3f010000  1000  1000 user      cryptsetup-other: 5
04d0e0f1 I--Q---     1 perm 3f010000     0     0 logon     fscrypt:abcd: 64
05000001 I--Q---     1 perm 1f3f0000     0 65534 keyring   .builtin_trusted_keys: 1
06000002 I--Q---     1 perm 1f030000     0     0 asymmetri Debian Secure Boot CA: 6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1: X509.rsa 4e2a91c3 []
`

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Key
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{
			name: "sample",
			in:   sample,
			want: []Key{
				{0x0c5aa4e9, "logon", "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0", false},
				{0x1b2f0c33, "user", "cryptsetup", false},
				{0x2e9a7f10, "keyring", "_ses", false},
				{0x3f00aa01, "user", "cryptsetup-other", false},
				{0x04d0e0f1, "logon", "fscrypt:abcd", false},
				{0x05000001, "keyring", ".builtin_trusted_keys", false},
				{0x06000002, "asymmetri", "Debian Secure Boot CA: 6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1", false},
			},
		},
		{
			name: "negative key: no summary",
			in:   "00000007 I----N-     1 perm 3f010000     0     0 user      cryptsetup: neg\n",
			want: []Key{{7, "user", "cryptsetup: neg", true}},
		},
		{
			name: "uninstantiated key: no summary",
			in:   "00000007 -------     1 perm 3f010000     0     0 user      a: b\n",
			want: []Key{{7, "user", "a: b", true}},
		},
		{
			name: "spaces in the description are kept",
			in:   "00000007 I------     1 perm 3f010000     0     0 user        two  spaces : 3\n",
			want: []Key{{7, "user", "  two  spaces ", true}},
		},
		{
			name: "wide usage and uid columns",
			in:   "7fffffff I------ 123456 perm 3f010000 4294967294 4294967294 logon     cryptsetup:x-d1: 32",
			want: []Key{{0x7fffffff, "logon", "cryptsetup:x-d1", true}},
		},
		{
			name:    "bad lines are skipped and counted",
			in:      "garbage\n" + sample + "00000000 I------     1 perm 3f010000     0     0 user      zero: 1\n",
			want:    nil, // checked below: the sample's keys
			wantErr: "2 bad lines; line 1: 1 fields",
		},
		{name: "serial 0", in: "00000000 I------     1 perm 3f010000     0     0 user      a: 1", wantErr: "out of range"},
		{name: "serial past 31 bits", in: "80000000 I------     1 perm 3f010000     0     0 user      a: 1", wantErr: "out of range"},
		{name: "serial not hex", in: "+0000001 I------     1 perm 3f010000     0     0 user      a: 1", wantErr: "not hexadecimal"},
		{name: "type column too short", in: "00000001 I------     1 perm 3f010000     0     0 user a: 1", wantErr: "type column"},
		{name: "type too long", in: "00000001 I------     1 perm 3f010000     0     0 asymmetric a: 1", wantErr: "type column"},
		{name: "seven fields", in: "00000001 I------     1 perm 3f010000     0     0", wantErr: "7 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrMalformed)
				assert.ErrorContains(t, err, tt.wantErr)
				if tt.name == "bad lines are skipped and counted" {
					want, err := Parse([]byte(sample))
					require.NoError(t, err)
					assert.Equal(t, want, got)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "Parse(%q)", tt.in)
		})
	}
}

func TestDisk(t *testing.T) {
	tests := []struct {
		key  Key
		want bool
	}{
		{Key{1, "logon", "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0", false}, true},
		{Key{1, "logon", "cryptsetup:", false}, true},
		{Key{1, "user", "cryptsetup", false}, true},
		{Key{1, "user", "cryptsetup:x", false}, false},
		{Key{1, "user", "cryptsetup-other", false}, false},
		{Key{1, "logon", "cryptsetup", false}, true},
		{Key{1, "logon", "kdump-cryptsetup:vk-6f4b1f51", false}, true}, // link-volume-key=, any name
		{Key{1, "logon", "fscrypt:abcd", false}, true},
		{Key{1, "keyring", "cryptsetup", false}, false},
		{Key{1, "big_key", "cryptsetup", false}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.key.Disk(), "%v.Disk()", tt.key)
	}
}

func TestSecret(t *testing.T) {
	tests := []struct {
		key  Key
		want bool
	}{
		{Key{1, "logon", "cryptsetup:6f4b1f51-7c34-4d07-a6a3-8b01d9e3b2c1-d0", false}, true},
		{Key{1, "user", "cryptsetup", false}, true},
		{Key{1, "user", "vk", false}, true}, // link-volume-key=@u::vk links a user key
		{Key{1, "encrypted", "evm-key", false}, true},
		{Key{1, "trusted", "kmk", false}, true},
		{Key{1, "big_key", "x", false}, true},
		{Key{1, "keyring", "_ses", false}, false},
		{Key{1, "asymmetri", "Debian Secure Boot CA", false}, false},
		{Key{1, "id_resolv", "uid:1000", false}, false},
		{Key{1, "user", "invocation_id", false}, false}, // systemd's, not a secret
		{Key{1, "user", "opal-boot-pin", true}, true},   // the kernel's SED-OPAL PIN
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.key.Secret(), "%v.Secret()", tt.key)
		if tt.key.Disk() {
			assert.True(t, tt.key.Secret(), "every disk key is secret: %v", tt.key)
		}
	}
}

// format writes keys as proc_keys_show does, as positive keys. (The
// kernel pads the type to 9 bytes; Go's %-9s would count runes.)
func format(keys []Key) []byte {
	var b strings.Builder
	for _, k := range keys {
		typ := k.Type + strings.Repeat(" ", typeWidth-len(k.Type))
		flags := "I--Q---"
		if k.Kernel {
			flags = "I------"
		}
		fmt.Fprintf(&b, "%08x %s %5d %4s %08x %5d %5d %s %s: %d\n", k.ID, flags, 1, "perm", 0x3f010000, 0, 0, typ, k.Description, len(k.Description))
	}
	return []byte(b.String())
}

// Parse → format → Parse gives the same keys.
func FuzzParseProcKeys(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("ffffffff I 1 perm 0 0 0 logon cryptsetup:x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, _ := Parse(b)
		for _, k := range keys {
			if k.ID <= 0 || k.Type == "" || len(k.Type) > typeWidth || strings.ContainsAny(k.Type, " \n") || strings.Contains(k.Description, "\n") {
				t.Fatalf("Parse(%q): key %#v", b, k)
			}
		}
		again, err := Parse(format(keys))
		require.NoError(t, err)
		assert.Equal(t, keys, again)
	})
}
