//go:build gpu || gpuemu

package gpu

import (
	"errors"
	"fmt"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gpu/driver"
)

// Group is a device's membership in a group of devices, one for each
// member of a collective.Comm (one device per process): NCCL's
// communicator on CUDA, an in-process stand-in on the emulator. Its
// all-reduce sums device memory over the members without a copy to the
// host.
type Group struct {
	d          *Device
	g          driver.Group
	rank, size int
}

// JoinGroup makes d the member of c's rank in a group of c.Size()
// devices. Every member first checks that it can join (NCCL loads) and
// all learn whether one cannot; rank 0 then makes the group's id and
// broadcasts it over c, and every member joins with it. It returns when
// every member has joined.
func (d *Device) JoinGroup(c collective.Comm) (*Group, error) {
	status := "ready"
	if err := driver.GroupsReady(); err != nil {
		status = err.Error()
	}
	if err := collective.Agree(c, "device group (NCCL)", status); err != nil {
		return nil, err
	}
	if status != "ready" {
		return nil, errors.New(status)
	}
	type made struct {
		ID  driver.GroupID
		Err string
	}
	var m made
	if c.Rank() == 0 {
		id, err := driver.NewGroupID()
		m.ID = id
		if err != nil {
			m.Err = err.Error()
		}
	}
	m, err := collective.BroadcastJSON(c, m, 0)
	if err != nil {
		return nil, err
	}
	if m.Err != "" {
		return nil, fmt.Errorf("gpu: rank 0 could not make the group's id: %s", m.Err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	g, err := d.drv.JoinGroup(m.ID, c.Rank(), c.Size())
	if err != nil {
		return nil, err
	}
	return &Group{d: d, g: g, rank: c.Rank(), size: c.Size()}, nil
}

// Size is the number of members.
func (g *Group) Size() int { return g.size }

// AllReduceScaled queues on the device's stream, for each buffer i
// (counts[i] float32s at ptrs[i], the same counts on every member), the sum
// over the members of scale·x, each member's x multiplied by its own
// scale; the sum replaces x on every member, the same values on all.
func (g *Group) AllReduceScaled(ptrs []DevicePtr, counts []int, scale float32) error {
	if len(ptrs) != len(counts) {
		return fmt.Errorf("gpu: all-reduce of %d buffers with %d counts", len(ptrs), len(counts))
	}
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	if g.d.drv == nil {
		return errors.New("gpu: all-reduce on a closed device")
	}
	return g.g.AllReduceScaled(ptrs, counts, scale)
}

// Close leaves the group (before the device closes).
func (g *Group) Close() error {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	return g.g.Close()
}
