package suspend

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSystemClock(t *testing.T) {
	var c SystemClock
	b := c.Boottime()
	assert.Positive(t, b)
	assert.GreaterOrEqual(t, c.Suspended(), time.Duration(0))
	assert.GreaterOrEqual(t, b, c.Suspended())

	fired := make(chan struct{})
	stop, err := c.AtBoottime(c.Boottime()+50*time.Millisecond, func() { close(fired) })
	require.NoError(t, err)
	defer stop()
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("the CLOCK_BOOTTIME timer did not fire")
	}

	stop, err = c.AtBoottime(c.Boottime()+100*time.Millisecond, func() { t.Error("fired after stop") })
	require.NoError(t, err)
	stop()
	stop() // twice is fine
	time.Sleep(200 * time.Millisecond)
}
