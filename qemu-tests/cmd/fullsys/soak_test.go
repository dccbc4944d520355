package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
	"github.com/stretchr/testify/require"
)

func TestWriteSoak(t *testing.T) {
	recs := []Record{
		{Result: lab.Result{Name: "poweroff", Pass: true, Post: &lab.Scan{}, KeyPost: &lab.KeyScan{}, Summary: "ramwipe: overwrote 896 MiB"}},
		{Result: lab.Result{Name: "poweroff-2", Pass: false, Post: &lab.Scan{CanaryExact: 7}, Failures: []string{"7 canary pages survived"}}},
		{Result: lab.Result{Name: "poweroff-3", Pass: true}}, // no post dump: not a complete wipe
		{Result: lab.Result{Name: "poweroff-4", Failures: []string{"context canceled"}}, Interrupted: true},
	}
	path := filepath.Join(t.TempDir(), "soak.json")
	require.NoError(t, writeSoak(path, 5, recs))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var got struct {
		Asked, Ran, Interrupted int
		Complete                int    `json:"complete_wipes"`
		Summary                 string `json:"summary"`
		Runs                    []soakRun
	}
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, 5, got.Asked)
	require.Equal(t, 3, got.Ran)
	require.Equal(t, 1, got.Interrupted)
	require.Equal(t, 1, got.Complete)
	require.Equal(t, "1/3 complete wipes (poweroff through the shutdown hook), 3 of 5 asked ran", got.Summary)
	require.Equal(t, 7, got.Runs[1].CanaryPages)
	require.False(t, got.Runs[2].Complete)
}
