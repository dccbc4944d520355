package dmcrypt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout is the per-device deadline when [Eraser.Timeout] is 0.
const DefaultTimeout = 2 * time.Second

// ErrTimedOut is in the error of a device that was still inside an ioctl at
// its deadline. Its key may or may not be gone; the ioctl may never return.
var ErrTimedOut = errors.New("no answer before the deadline")

const (
	cryptType = "crypt"
	keyWipe   = "key wipe"
	// suspendFlags: suspend without flushing queued I/O and without
	// freezing the filesystem, so that a disk that stopped answering
	// cannot hold the suspend.
	suspendFlags = unix.DM_SUSPEND_FLAG | unix.DM_NOFLUSH_FLAG | unix.DM_SKIP_LOCKFS_FLAG
	// statusFlags: target status, never the table (no DM_STATUS_TABLE_FLAG:
	// dm-crypt puts its key in the table). NOFLUSH keeps thin pools from
	// committing metadata, which is disk I/O, to answer.
	statusFlags = unix.DM_NOFLUSH_FLAG
	// The buffer for DM_LIST_DEVICES and DM_TABLE_STATUS answers grows by
	// doubling, on DM_BUFFER_FULL_FLAG, up to maxBufSize.
	initialBufSize = 16 << 10
	maxBufSize     = 16 << 20
)

// ioctler issues one device-mapper ioctl: buf is the whole request, a
// struct dm_ioctl and its payload, and receives the answer. Tests fake it;
// the real one is /dev/mapper/control (dmioctl_linux.go).
type ioctler interface {
	ioctl(cmd uint, buf []byte) error
	close() error
}

// Device is a device-mapper device with at least one crypt target.
type Device struct {
	Name  string
	UUID  string   // cryptsetup's: CRYPT-LUKS2-…, CRYPT-LUKS1-…, CRYPT-PLAIN-…; "" if none
	Crypt []Target // the crypt targets of its live table
}

// Names returns the names of devs.
func Names(devs []Device) []string {
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
	}
	return names
}

// Eraser erases dm-crypt keys. Build it with [Open] when arming; set its
// fields before the first call. Its methods may be called concurrently.
type Eraser struct {
	// Logf, if set, is told what happened to each device: names, sectors,
	// durations and errors, never table parameters or keys. It is called
	// from several goroutines at once.
	Logf func(format string, args ...any)
	// Timeout is each device's deadline for its suspend and key wipes (they
	// all start together); 0 means [DefaultTimeout]. A sooner deadline of
	// the context wins.
	Timeout time.Duration

	dm    ioctler
	spare atomic.Pointer[[]byte] // the answer buffer, allocated when arming
	mu    sync.Mutex
	known []Device // from the last complete listing
}

func newEraser(dm ioctler, bufSize int) *Eraser {
	e := &Eraser{dm: dm}
	buf := make([]byte, bufSize)
	e.spare.Store(&buf)
	return e
}

// Close closes /dev/mapper/control. An ioctl still blocked keeps it open
// until it returns.
func (e *Eraser) Close() error { return e.dm.close() }

// Devices lists the devices that have crypt targets. When it lists them
// all, it remembers them: [Eraser.Erase] starts on those at once. A device
// that cannot be read is left out and its error returned.
func (e *Eraser) Devices() ([]Device, error) {
	devs, err := e.list()
	if err == nil {
		e.mu.Lock()
		e.known = devs
		e.mu.Unlock()
	}
	return slices.Clone(devs), err
}

// EraseKeys is [Eraser.Erase] for wipe.KeyEraser: nil when every key was
// wiped, else every failure joined.
func (e *Eraser) EraseKeys(ctx context.Context) error {
	return e.Erase(ctx).Err()
}

// Report is what [Eraser.Erase] did.
type Report struct {
	// ListErr is why the devices could not all be listed when erasing
	// (the devices of the last complete [Eraser.Devices] were erased
	// anyway).
	ListErr error
	Devices []DeviceReport
}

// DeviceReport is what happened to one device.
type DeviceReport struct {
	Device
	Gone      bool          // the device no longer exists: nothing to erase
	Suspended bool          // DM_DEV_SUSPEND succeeded
	KeysWiped int           // crypt targets that took "key wipe"
	TimedOut  bool          // still inside an ioctl at the deadline
	Duration  time.Duration // from start to the last answer, or to the deadline
	Err       error         // every failure, joined; nil when all keys were wiped
}

// Err joins every error of r; nil means every key of every device listed
// was wiped.
func (r Report) Err() error {
	errs := []error{r.ListErr}
	for _, d := range r.Devices {
		errs = append(errs, d.Err)
	}
	return errors.Join(errs...)
}

// Erase erases the keys of every device with crypt targets, each device in
// its own goroutine: suspend, then "key wipe" to each crypt target, in that
// order; a failure stops nothing. The devices of the last complete
// [Eraser.Devices] start at once; meanwhile Erase lists the devices again
// and starts those opened since (or whose crypt targets changed). It
// returns when every device has answered or at the deadline (see
// [Eraser.Timeout]); a device still in an ioctl then is reported as timed
// out and its goroutine stays blocked, and so does a listing that blocks.
func (e *Eraser) Erase(ctx context.Context) Report {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var jobs []*job
	start := func(devs []Device) {
		for _, d := range devs {
			if !slices.ContainsFunc(jobs, func(j *job) bool { return j.dev.Name == d.Name && slices.Equal(j.dev.Crypt, d.Crypt) }) {
				j := newJob(d)
				jobs = append(jobs, j)
				go j.run(e.dm, e.logf)
			}
		}
	}
	e.mu.Lock()
	known := e.known
	e.mu.Unlock()
	start(known)

	var rep Report
	type listing struct {
		devs []Device
		err  error
	}
	listed := make(chan listing, 1) // never blocks an abandoned goroutine
	go func() {
		devs, err := e.list()
		listed <- listing{devs, err}
	}()
	select {
	case l := <-listed:
		rep.ListErr = l.err
		start(l.devs)
	case <-ctx.Done():
		rep.ListErr = fmt.Errorf("DM_LIST_DEVICES or DM_TABLE_STATUS: %w", ErrTimedOut)
	}
	if rep.ListErr != nil {
		e.logf("dmcrypt: listing devices: %v", rep.ListErr)
	}
wait:
	for _, j := range jobs {
		select {
		case <-j.done:
		case <-ctx.Done():
			break wait
		}
	}
	now := time.Now()
	rep.Devices = make([]DeviceReport, len(jobs))
	for i, j := range jobs {
		rep.Devices[i] = j.report(now)
		if rep.Devices[i].TimedOut {
			e.logf("dmcrypt: %v", rep.Devices[i].Err)
		}
	}
	return rep
}

// job erases one device's keys; report may read it while it runs.
type job struct {
	dev   Device
	start time.Time

	done chan struct{} // closed when run returns

	mu       sync.Mutex
	step     string // the ioctl in progress, for a timeout's error
	rep      DeviceReport
	errs     []error
	finished bool
}

func newJob(d Device) *job {
	// Until its goroutine runs, the job waits to suspend.
	return &job{dev: d, start: time.Now(), done: make(chan struct{}), step: fmt.Sprintf("DM_DEV_SUSPEND %q", d.Name)}
}

func (j *job) run(dm ioctler, logf func(string, ...any)) {
	defer close(j.done)
	buf := make([]byte, targetMsgSize(keyWipe))
	name := j.dev.Name

	err := suspend(dm, buf, name)
	if errors.Is(err, unix.ENXIO) {
		// Removed since it was listed: dm-crypt freed its key then.
		j.mu.Lock()
		j.rep.Gone, j.finished, j.rep.Duration = true, true, time.Since(j.start)
		j.mu.Unlock()
		logf("dmcrypt: %q: gone", name)
		return
	}
	j.mu.Lock()
	j.rep.Suspended = err == nil
	j.errs = append(j.errs, err)
	j.mu.Unlock()

	// Even if the suspend failed: the device may have been suspended
	// already, and a refused message costs nothing.
	for _, t := range j.dev.Crypt {
		j.begin(fmt.Sprintf("DM_TARGET_MSG %q sector %d %q", name, t.Start, keyWipe))
		err := wipeKey(dm, buf, name, t.Start)
		j.mu.Lock()
		if err == nil {
			j.rep.KeysWiped++
		}
		j.errs = append(j.errs, err)
		j.mu.Unlock()
	}

	j.mu.Lock()
	j.finished = true
	j.rep.Duration = time.Since(j.start)
	r := j.rep
	err = errors.Join(j.errs...)
	j.mu.Unlock()
	if err != nil {
		logf("dmcrypt: %q: suspended %v, %d of %d keys wiped in %v: %v", name, r.Suspended, r.KeysWiped, len(j.dev.Crypt), r.Duration, err)
	} else {
		logf("dmcrypt: %q: suspended, %d of %d keys wiped in %v", name, r.KeysWiped, len(j.dev.Crypt), r.Duration)
	}
}

func (j *job) begin(step string) {
	j.mu.Lock()
	j.step = step
	j.mu.Unlock()
}

// report returns what the job did so far; a job not finished at now has
// timed out.
func (j *job) report(now time.Time) DeviceReport {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.rep
	r.Device = j.dev
	errs := slices.Clone(j.errs)
	if !j.finished {
		r.TimedOut = true
		r.Duration = now.Sub(j.start)
		errs = append(errs, fmt.Errorf("%s: %w after %v (the ioctl may never return)", j.step, ErrTimedOut, r.Duration.Round(time.Millisecond)))
	}
	r.Err = errors.Join(errs...)
	return r
}

// suspend suspends device name without flush or filesystem freeze, in buf.
func suspend(dm ioctler, buf []byte, name string) error {
	req := buf[:hdrSize]
	err := encodeRequest(req, name, suspendFlags, nil)
	if err == nil {
		err = dm.ioctl(unix.DM_DEV_SUSPEND, req)
	}
	if err == nil {
		// do_suspend answers with the device's status (__dev_status).
		var r reply
		if r, err = decodeReply(req); err == nil && r.flags&unix.DM_SUSPEND_FLAG == 0 {
			err = errors.New("answered without DM_SUSPEND_FLAG: not suspended")
		}
	}
	if err != nil {
		return fmt.Errorf("DM_DEV_SUSPEND %q: %w%s", name, err, hint(err))
	}
	return nil
}

// wipeKey sends "key wipe" to the crypt target of device name that starts
// at sector, in buf, and clears buf after.
func wipeKey(dm ioctler, buf []byte, name string, sector uint64) error {
	req, err := encodeTargetMsg(buf, name, sector, keyWipe)
	if err == nil {
		err = dm.ioctl(unix.DM_TARGET_MSG, req)
		clear(req)
	}
	if err != nil {
		h := hint(err)
		if errors.Is(err, unix.EINVAL) {
			h = " — the device is not suspended, or no crypt target is at that sector"
		}
		return fmt.Errorf("DM_TARGET_MSG %q sector %d %q: %w%s", name, sector, keyWipe, err, h)
	}
	return nil
}

// list lists the devices with crypt targets: DM_LIST_DEVICES, then
// DM_TABLE_STATUS for each device. A device that disappears in between is
// skipped; any other failure leaves its device out and is returned.
func (e *Eraser) list() ([]Device, error) {
	q := querier{dm: e.dm}
	if p := e.spare.Swap(nil); p != nil {
		q.buf = *p
	} else {
		q.buf = make([]byte, initialBufSize) // another list is running
	}
	defer func() { e.spare.Store(&q.buf) }()

	r, err := q.query(unix.DM_LIST_DEVICES, "DM_LIST_DEVICES", "", 0)
	if err != nil {
		return nil, err
	}
	names, err := parseNameList(r.data)
	if err != nil {
		return nil, fmt.Errorf("DM_LIST_DEVICES: %w", err)
	}
	var devs []Device
	var errs []error
	for _, name := range names {
		what := fmt.Sprintf("DM_TABLE_STATUS %q", name)
		r, err := q.query(unix.DM_TABLE_STATUS, what, name, statusFlags)
		if errors.Is(err, unix.ENXIO) {
			continue // removed since the list
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts, err := parseTargetSpecs(r.data, r.targetCount)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			continue
		}
		d := Device{Name: name, UUID: r.uuid}
		for _, t := range ts {
			if t.Type == cryptType {
				d.Crypt = append(d.Crypt, t)
			}
		}
		if len(d.Crypt) > 0 {
			devs = append(devs, d)
		}
	}
	return devs, errors.Join(errs...)
}

// querier asks questions whose answers may not fit: on DM_BUFFER_FULL_FLAG
// it asks again with twice the buffer.
type querier struct {
	dm  ioctler
	buf []byte
}

// query issues cmd for device name; what names the call in errors. The
// answer's data is valid until the next query.
func (q *querier) query(cmd uint, what, name string, flags uint32) (reply, error) {
	for {
		if err := encodeRequest(q.buf, name, flags, nil); err != nil {
			return reply{}, fmt.Errorf("%s: %w", what, err)
		}
		if err := q.dm.ioctl(cmd, q.buf); err != nil {
			return reply{}, fmt.Errorf("%s: %w%s", what, err, hint(err))
		}
		r, err := decodeReply(q.buf)
		if err != nil {
			return reply{}, fmt.Errorf("%s: %w", what, err)
		}
		if r.flags&unix.DM_BUFFER_FULL_FLAG == 0 {
			return r, nil
		}
		if len(q.buf) >= maxBufSize {
			return reply{}, fmt.Errorf("%s: the answer does not fit in %d bytes", what, len(q.buf))
		}
		q.buf = make([]byte, 2*len(q.buf))
	}
}

// hint says what a person can do about a device-mapper error.
func hint(err error) string {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return " — device-mapper needs root (CAP_SYS_ADMIN)"
	case errors.Is(err, unix.ENXIO):
		return " — no such device (removed?)"
	case errors.Is(err, unix.ENOTTY):
		return " — not a device-mapper control node"
	}
	return ""
}

func (e *Eraser) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}
