package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

func entry(name string, mem int, post lab.Scan) lab.BenchEntry {
	return lab.BenchEntry{
		Record: lab.Record{MemMiB: mem, FillMiB: 900, Timings: lab.Timings{Fill: 2, KexecToOff: 10}, Result: lab.Result{Name: name, Post: &post,
			Summary: "ramwipe: overwrote 900 MiB of 800 MiB free in 2s (450 MiB/s): memory full"}},
		Variant: path.Base(name),
	}
}

func TestRun(t *testing.T) {
	dir, docs := t.TempDir(), t.TempDir()
	fill := entry("1024M-smp2/fill-2-workers-nohuge", 1024, lab.Scan{Pages: 1000})
	fill.Memset = &lab.Memset{MiB: 256, Threads: 2, FreshMiBs: 500, ResidentMiBs: 1000, OOMKillMS: 1000, FullMS: 1020, FirstEndMS: 1600}
	def := entry("1024M-smp2/default", 1024, lab.Scan{Pages: 1000})
	def.Map = "map.png"
	sd := entry("1024M-smp2/sdmem", 1024, lab.Scan{Pages: 1000, CanaryExact: 3, OldPages: 97, FoundFraction: 0.01, ClassPages: map[string]int{"old": 97, "canary": 3}})
	sd.Sdmem = &lab.Sdmem{Seconds: 5, Status: "signal:_killed"}
	fired := entry("512M-smp1/crypt-panic", 512, lab.Scan{Pages: 500})
	fired.Panic = &lab.Panic{TriggerToKeysMS: 12.5, TriggerToKexecMS: 20, HostTriggerToKeysMS: 40}
	fired.Timings.KexecToWipeInit = 6
	fired.KeyPost = &lab.KeyScan{}
	fired.Idle = &lab.Idle{Seconds: 60, Threads: 9, Switches: 2, Control: 600, CPUTicks: 0, RSSKB: 11264, LockedKB: 1228800, PerSecond: 0.03,
		Locked: &lab.LockedMemory{RSSKB: 11264, TotalKB: 11008, BinaryKB: 3584, HeapKB: 4096, StacksKB: 128, OtherKB: 3200}}
	rep := lab.BenchReport{Kernel: "vmlinuz-6.1", Seconds: 600, Entries: []lab.BenchEntry{
		fill, def, sd, fired, entry("2048M-smp2/default", 2048, lab.Scan{Pages: 2000}),
	}}
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bench.json"), b, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "map.png"), []byte("png"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "host.json"), []byte(
		`{"Action":"output","Output":"BenchmarkWipe/how=clear/workers=1-2   \t"}`+"\n"+
			`{"Action":"output","Output":"      20\t   5283534 ns/op\t50806.04 MB/s\n"}`+"\n"), 0o644))
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# x\n"+beginMark+"\nold\n"+endMark+"\ntail\n"), 0o644))

	var out, errs bytes.Buffer
	require.NoError(t, run([]string{"-dir", dir, "-readme", readme, "-docs", docs}, &out, &errs))
	assert.Empty(t, errs.String())
	md, err := os.ReadFile(filepath.Join(dir, "performance.md"))
	require.NoError(t, err)
	for _, want := range []string{
		"| 2 | off | 400 | 500 | 1000 | 0.80 | 0.40 | 1000 | 1020 | 800 | 1.60 |",
		"| secure-delete `sdmem -ll` in the old system, then power off | — | 5.0 (sdmem, ended: signal: killed) | 10.0 | 3 | 1.00 % | 97 | 10.00 % |",
		"| 2048 MiB | 0.0 | 800 | 2.00 | 400 | 2.56 | 10.0 | 0 | 0 |",
		"| `BenchmarkWipe/how=clear/workers=1-2` | 50806.04 |",
		"memmap-1024M-default.png",
		"| `ramwipe panic` (CLI, unix socket) | 12.5 | 20.0 | 6.0 | 2.00 | 10.0 | 40 | 0 | 0 |",
		"over 60 s before the trigger, in the same run): 2 context\nswitches over its 9 threads (0.03 per second) against 600",
		"It had 11.0 MiB resident, 10.8 MiB\nof it locked",
		"`VmLck`, 1200 MiB,",
		"| `ramwiped` at rest | 3.5 | 4.0 | 0.1 | 3.1 | **10.8** |",
	} {
		assert.Contains(t, string(md), want)
	}
	r, err := os.ReadFile(readme)
	require.NoError(t, err)
	assert.Equal(t, "# x\n"+beginMark+"\n"+string(md)+endMark+"\ntail\n", string(r))
	f, err := os.Open(filepath.Join(docs, "bench-peers.png"))
	require.NoError(t, err)
	defer f.Close()
	_, err = png.Decode(f)
	require.NoError(t, err)

	require.Error(t, run([]string{"-dir", t.TempDir()}, &out, &errs), "no bench.json")
	require.NoError(t, os.WriteFile(readme, []byte("no markers"), 0o644))
	require.Error(t, run([]string{"-dir", dir, "-readme", readme}, &out, &errs))
}
