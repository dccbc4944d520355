// Package fill overwrites free physical memory from user space.
//
// [Run] starts one worker process per CPU and waits for memory to be full.
// Each worker ([Worker.Run]) maps large anonymous chunks, asks for
// transparent huge pages, and makes the kernel fault every page in for
// writing (MADV_POPULATE_WRITE); the kernel zeroes each page it hands out,
// and a non-zero [Worker.Pattern] is written on top. Workers run as separate,
// OOM-killable processes (oom_score_adj 1000) because PID 1 cannot be
// OOM-killed: filling from PID 1 deadlocks the machine. The first worker to
// run out of memory, by ENOMEM or by the OOM killer, means memory is full;
// Run then kills the others and returns without waiting for them to end
// (the kernel freeing their memory is no part of the wipe).
//
// Needs: Linux; for MADV_POPULATE_WRITE, 5.14 or later (older kernels fall
// back to touching each page). Run is meant for the wipe image, where the
// memory it takes belongs to nobody: on a live system it would push every
// other process out of memory.
//
// Not guaranteed: memory the kernel keeps for itself (its image, page
// tables, the free-page reserve below min_free_kbytes, per-CPU lists) is
// never handed to a worker. The wipe kernel's memtest=1 and init_on_free=1
// cover that; the lab measures how much each of them leaves.
package fill
