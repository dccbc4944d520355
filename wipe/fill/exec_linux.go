package fill

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// WorkerEnv marks a process started by [StartExec] as a fill worker; a main
// that finds it set calls [WorkerMain] before anything else.
const WorkerEnv = "RAMWIPE_FILL_WORKER"

// StartExec returns a [StartFunc] that runs the calling binary again as a
// worker (with [WorkerEnv] set), passing the pattern and the huge-page
// choice in the environment.
func StartExec(pattern byte, hugePages bool) StartFunc {
	return func(i int, w *os.File) (Proc, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own binary: %w", err)
		}
		cmd := exec.Command(exe)
		cmd.Env = []string{
			WorkerEnv + "=" + strconv.Itoa(i),
			"RAMWIPE_FILL_PATTERN=" + strconv.Itoa(int(pattern)),
			"RAMWIPE_FILL_HUGEPAGES=" + strconv.FormatBool(hugePages),
		}
		cmd.ExtraFiles = []*os.File{w} // fd 3
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return execProc{cmd}, nil
	}
}

type execProc struct{ cmd *exec.Cmd }

func (p execProc) Kill() { _ = p.cmd.Process.Kill() }

func (p execProc) Wait() error {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil // the OOM killer, or our own Kill: memory is full either way
		}
		if ee.ExitCode() == exitNoMemory {
			return nil
		}
	}
	return err
}

// exitNoMemory is a worker's exit code for "took all memory it could".
const exitNoMemory = 3

// WorkerMain runs a worker process started by [StartExec] and never returns.
func WorkerMain() {
	pattern, _ := strconv.Atoi(os.Getenv("RAMWIPE_FILL_PATTERN"))
	huge, _ := strconv.ParseBool(os.Getenv("RAMWIPE_FILL_HUGEPAGES"))
	w := Worker{
		Pattern:     byte(pattern),
		HugePages:   huge,
		Progress:    os.NewFile(3, "progress"),
		OOMScoreAdj: "1000",
	}
	err := w.Run()
	if errors.Is(err, ErrNoMemory) {
		os.Exit(exitNoMemory)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
