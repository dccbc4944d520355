package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/qemu-tests/canary"
)

// Sizes of the kernel-side canaries, in pages.
const (
	filePages = 1024 // 4 MiB of tmpfs page cache
	pipePages = 256  // a 1 MiB pipe buffer
	sockPages = 64   // what a unix socket queues before the writer blocks
)

// plant plants every kind of canary and returns how many pages of each.
// The children holding anonymous canaries and the pipe and socket stay
// alive until the kexec.
func plant(cfg config) (map[canary.Kind]uint64, error) {
	counts := map[canary.Kind]uint64{}
	pages := memTotal() * uint64(cfg.plant) / 100 / canary.PageSize
	per := pages / uint64(cfg.procs)
	var next uint64
	for i := range cfg.procs {
		cmd := exec.Command("/proc/self/exe")
		cmd.Env = []string{fmt.Sprintf("LAB_PLANT=%d,%d,%d", cfg.nonce, next, per)}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start planter %d: %w", i, err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ok" {
			return nil, fmt.Errorf("planter %d: %q %v", i, line, err)
		}
		next += per
	}
	counts[canary.Anon] = next

	page := make([]byte, canary.PageSize)
	f, err := os.Create(filepath.Join(cfg.fileDir, "canary"))
	if err != nil {
		return nil, err
	}
	for i := range uint64(filePages) {
		canary.Fill(page, cfg.nonce, canary.File, i)
		if _, err := f.Write(page); err != nil {
			return nil, err
		}
	}
	f.Close()
	counts[canary.File] = filePages

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, pipePages*canary.PageSize); err != nil {
		return nil, fmt.Errorf("F_SETPIPE_SZ: %w", err)
	}
	for i := range uint64(pipePages) {
		canary.Fill(page, cfg.nonce, canary.Pipe, i)
		if _, err := unix.Write(p[1], page); err != nil {
			return nil, fmt.Errorf("pipe write %d: %w", i, err)
		}
	}
	counts[canary.Pipe] = pipePages

	s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetNonblock(s[0], true)
	var sent uint64
	for i := range uint64(sockPages) {
		canary.Fill(page, cfg.nonce, canary.Sock, i)
		if _, err := unix.Write(s[0], page); err != nil {
			break // the queue is full
		}
		sent++
	}
	counts[canary.Sock] = sent
	clear(page)
	return counts, nil
}

// plantChild fills its share of anonymous canary pages, says "ok" and waits.
func plantChild() {
	f := strings.Split(os.Getenv("LAB_PLANT"), ",")
	nonce, _ := strconv.ParseUint(f[0], 10, 32)
	first, _ := strconv.ParseUint(f[1], 10, 64)
	n, _ := strconv.ParseUint(f[2], 10, 64)
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0)
	mem, err := unix.Mmap(-1, 0, int(n)*canary.PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		fmt.Fprintln(os.Stderr, "planter: mmap:", err)
		os.Exit(1)
	}
	for i := range n {
		canary.Fill(mem[i*canary.PageSize:(i+1)*canary.PageSize], uint32(nonce), canary.Anon, first+i)
	}
	fmt.Println("ok")
	for {
		time.Sleep(time.Hour)
	}
}
