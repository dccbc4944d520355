package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

func write(t *testing.T, kernel string, recs ...lab.Record) string {
	b, err := json.Marshal(report{Kernel: kernel, Scenarios: recs})
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func TestRun(t *testing.T) {
	old := write(t, "vmlinuz-6.1",
		lab.Record{Result: lab.Result{Name: "512M-smp1/crypt-panic", Pass: true, Post: &lab.Scan{}, KeyPost: &lab.KeyScan{}},
			Keyring: &lab.KeyringResult{}, Panic: &lab.Panic{TriggerToKeysMS: 27.86}, Timings: lab.Timings{KexecToOff: 9.6}},
		lab.Record{Result: lab.Result{Name: "512M-smp1/default", Pass: true, Post: &lab.Scan{}}})
	cur := write(t, "vmlinuz-6.12",
		lab.Record{Result: lab.Result{Name: "512M-smp1/crypt-panic", Post: &lab.Scan{CanaryExact: 3, OldPages: 7}, KeyPost: &lab.KeyScan{Schedules: 2}},
			Keyring: &lab.KeyringResult{Post: lab.KeyringScan{VolumeKey: 1}}, Panic: &lab.Panic{TriggerToKeysMS: 30}})
	var out, errs bytes.Buffer
	require.NoError(t, run([]string{old, cur}, &out, &errs))
	assert.Contains(t, out.String(), "| 512M-smp1/crypt-panic | pass | 0 | 0 | 0 | 27.9 | 9.6 | **FAIL** | 3 | 7 | 3 | 30.0 | 0.0 |")
	assert.Contains(t, out.String(), "| 512M-smp1/default | pass | 0 | 0 | — | — | 0.0 | — | | | | | |")
	assert.Contains(t, out.String(), "vmlinuz-6.12: verdict")

	md := filepath.Join(t.TempDir(), "k.md")
	require.NoError(t, run([]string{"-o", md, old}, &out, &errs))
	assert.FileExists(t, md)
	assert.Error(t, run(nil, &out, &errs), "no report")
	assert.Error(t, run([]string{"/nonexistent/report.json"}, &out, &errs))
}
