package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// smapsSample is an abridged /proc/PID/smaps of a static Go binary under
// mlockall: the executable, its bss, a heap arena (reserved, part mapped),
// the runtime's heap index and the main thread's stack.
const smapsSample = `00400000-004ab000 r-xp 00000000 fe:00 9982152                            /sbin/ramwiped
Rss:                 684 kB
Locked:              684 kB
0058e000-00599000 rw-p 0018e000 fe:00 9982152                            /sbin/ramwiped
Rss:                  44 kB
Locked:               44 kB
00599000-005cf000 rw-p 00000000 00:00 0 
Rss:                 216 kB
Locked:              216 kB
32a8bc000000-32a8be800000 ---p 00000000 00:00 0 
Rss:                   0 kB
Locked:                0 kB
32a8be800000-32a8bf000000 rw-p 00000000 00:00 0 
Rss:                8192 kB
Locked:             8192 kB
32a8bf000000-32a8c0000000 ---p 00000000 00:00 0 
Rss:                   0 kB
Locked:                0 kB
7fa661900000-7fa663a00000 rw-p 00000000 00:00 0 
Rss:               33792 kB
Locked:            33792 kB
7fff72efe000-7fff72f1f000 rw-p 00000000 00:00 0                          [stack]
Rss:                  12 kB
Locked:               12 kB
`

func TestClassify(t *testing.T) {
	maps := parseSmaps([]byte(smapsSample))
	assert.Len(t, maps, 8)
	got, class := classify(maps, "/sbin/ramwiped")
	assert.Equal(t, breakdown{rssKB: 42940, lockedKB: 42940, binaryKB: 944, heapKB: 8192, stacksKB: 12, otherKB: 33792}, got)
	assert.Equal(t, []string{classBinary, classBinary, classBinary, classHeap, classHeap, classHeap, classOther, classStacks}, class)

	// Without the executable's path nothing is taken for its bss.
	got, _ = classify(maps, "")
	assert.Equal(t, int64(0), got.binaryKB)
	assert.Equal(t, int64(944+33792), got.otherKB)
}
