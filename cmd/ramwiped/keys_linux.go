package main

import (
	"errors"
	"io/fs"

	"github.com/ramwipe/ramwipe/wipe"
	"github.com/ramwipe/ramwipe/wipe/dmcrypt"
	"github.com/ramwipe/ramwipe/wipe/keyring"
)

var _ wipe.KeyEraser = (*dmcrypt.Eraser)(nil)

// openKeyEraser opens device-mapper for the panic path and lists the crypt
// devices. Without /dev/mapper/control there is no dm-crypt device to erase.
func openKeyEraser() (wipe.KeyEraser, []string, error) {
	e, err := dmcrypt.Open()
	if errors.Is(err, dmcrypt.ErrNoDeviceMapper) || errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	devs, err := e.Devices()
	return eraser{e}, dmcrypt.Names(devs), err
}

// eraser is the dm-crypt key eraser, which can also list the devices for
// the status (DM_LIST_DEVICES and DM_TABLE_STATUS, without the tables).
type eraser struct{ *dmcrypt.Eraser }

func (e eraser) CryptDevices() ([]string, error) {
	devs, err := e.Devices()
	return dmcrypt.Names(devs), err
}

// sweeper adapts keyring.Sweeper to the panic sequence.
type sweeper struct{ s *keyring.Sweeper }

func (s sweeper) Sweep() error {
	_, err := s.s.Sweep()
	return err
}

// openKeyringSweeper opens /proc/keys now, so the sweep only reads an open
// file; logf says what it swept (descriptions, never payloads).
func openKeyringSweeper(logf func(string, ...any)) (wipe.KeyringSweeper, error) {
	s, err := keyring.Open()
	if err != nil {
		return nil, err
	}
	s.Logf = logf
	return sweeper{s}, nil
}
