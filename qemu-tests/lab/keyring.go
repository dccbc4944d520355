package lab

import (
	"bytes"
	"crypto/rand"
	"fmt"
)

// Keyring is what the guest links into root's user keyring besides the
// dm-crypt volume (lab.crypt=1 with /lab/crypt/keyring, see the agent's
// linkKeys): a LUKS2 volume key as cryptsetup's --link-vk-to-keyring and
// systemd's link-volume-key= leave it (logon "cryptsetup:<uuid>-d0"), and a
// passphrase as systemd's ask-password cache keeps it (user "cryptsetup").
// Their payloads are random and not the volume's key, so a dump tells the
// keyring's copies apart from dm-crypt's.
type Keyring struct {
	VolumeKey  []byte // 64 bytes
	Passphrase []byte
}

// NewKeyring returns fresh secrets.
func NewKeyring() (*Keyring, error) {
	k := &Keyring{VolumeKey: make([]byte, 64), Passphrase: make([]byte, 32)}
	if _, err := rand.Read(k.VolumeKey); err != nil {
		return nil, err
	}
	if _, err := rand.Read(k.Passphrase); err != nil {
		return nil, err
	}
	return k, nil
}

// keyringMask is XORed into every byte of the guest's file: the initramfs
// and the pages it is unpacked from must not hold the secrets in the clear.
const keyringMask = 0xa5

// File is /lab/crypt/keyring's content: the volume key then the passphrase,
// masked.
func (k *Keyring) File() []byte {
	b := append(bytes.Clone(k.VolumeKey), k.Passphrase...)
	for i := range b {
		b[i] ^= keyringMask
	}
	return b
}

// KeyringScan counts the keyring payloads in a dump.
type KeyringScan struct {
	VolumeKey  int `json:"volume_key"`
	Passphrase int `json:"passphrase"`
}

func (k *Keyring) scan(ram []byte) KeyringScan {
	return KeyringScan{VolumeKey: bytes.Count(ram, k.VolumeKey), Passphrase: bytes.Count(ram, k.Passphrase)}
}

// KeyringResult is a run's keyring scans.
type KeyringResult struct {
	Pre  KeyringScan `json:"pre"`
	Post KeyringScan `json:"post"`
}

// judge: the positive control (both payloads in the pre dump), the
// negative control (a run without key erase keeps them) and, for a run that
// erased the keys, none left.
func (r *KeyringResult) judge(expect string, fail func(string, ...any)) {
	if r.Pre.VolumeKey == 0 || r.Pre.Passphrase == 0 {
		fail("positive control: the keyring's payloads were not in the pre dump (%+v)", r.Pre)
	}
	switch expect {
	case ExpectKept.String():
		if r.Post.VolumeKey == 0 || r.Post.Passphrase == 0 {
			fail("negative control: a run without key erase lost the keyring's payloads (%+v): the lab cannot see them", r.Post)
		}
	case ExpectWiped.String(), ExpectKeysErased.String():
		if r.Post.VolumeKey+r.Post.Passphrase > 0 {
			fail("%s", fmt.Sprintf("the keyring's payloads survived: %d volume key, %d passphrase", r.Post.VolumeKey, r.Post.Passphrase))
		}
	}
}
