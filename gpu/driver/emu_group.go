//go:build gpuemu

package driver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/infoscale/gaualpha/internal/rendezvous"
)

// The emulator's groups stand in for NCCL: the members are emulated
// devices of one process (one per goroutine, as each rank of a test plays a
// process), and a group is found by its id in a registry. An all-reduce
// returns when every member has made it (NCCL only queues it; the order of
// a rank's work is the same), its sums added in rank order in float32,
// each member's values multiplied by its scale first, as NCCL's
// pre-multiplied sum does.

// emuGroups is the registry of the groups being joined or joined: the
// in-process stand-in for the network address an NCCL id names.
var emuGroups = struct {
	sync.Mutex
	m map[GroupID]*emuGroup
}{m: map[GroupID]*emuGroup{}}

// emuGroup is the shared state of one group: its members, which meet in
// one all-reduce round at a time, completed by the last to arrive.
type emuGroup = rendezvous.Group[emuCall]

type emuCall struct {
	b      *emuDriver
	ptrs   []Ptr
	counts []int
	scale  float32
}

type emuMember struct {
	g    *emuGroup
	id   GroupID
	rank int
	b    *emuDriver
}

// NewGroupID returns a random id.
func NewGroupID() (GroupID, error) {
	var id GroupID
	_, err := rand.Read(id[:])
	return id, err
}

// LoadNCCL reports that the emulator has no NCCL (its groups are
// in-process).
func LoadNCCL() (path string, version int, tried []string, err error) {
	return "", 0, nil, errors.New("gpu: the emulator's groups are in-process, without NCCL")
}

// JoinGroup joins the in-process group named by id, creating it for the
// first member, and returns when all size members have joined.
func (b *emuDriver) JoinGroup(id GroupID, rank, size int) (Group, error) {
	if rank < 0 || rank >= size {
		return nil, fmt.Errorf("gpu: rank %d outside a group of %d", rank, size)
	}
	emuGroups.Lock()
	g := emuGroups.m[id]
	if g == nil {
		g = rendezvous.New[emuCall](size)
		emuGroups.m[id] = g
	}
	emuGroups.Unlock()
	if g.Size() != size {
		return nil, fmt.Errorf("gpu: emulator group of %d joined as one of %d", g.Size(), size)
	}
	if err := g.Join(rank); err != nil {
		return nil, err
	}
	emuGroups.Lock()
	delete(emuGroups.m, id) // complete: a later id cannot meet it
	emuGroups.Unlock()
	return &emuMember{g: g, id: id, rank: rank, b: b}, nil
}

func (m *emuMember) AllReduceScaled(ptrs []Ptr, counts []int, scale float32) error {
	if len(ptrs) != len(counts) {
		return fmt.Errorf("gpu: all-reduce of %d buffers with %d counts", len(ptrs), len(counts))
	}
	err := m.g.Round(m.rank, emuCall{b: m.b, ptrs: ptrs, counts: counts, scale: scale}, reduce)
	if errors.Is(err, rendezvous.ErrClosed) {
		return errors.New("gpu: all-reduce on a closed group")
	}
	return err
}

// reduce sums every member's buffers, scaled, in rank order, and writes
// the sums to every member.
func reduce(calls []emuCall) error {
	first := calls[0]
	for r, c := range calls {
		if len(c.counts) != len(first.counts) {
			return fmt.Errorf("gpu: all-reduce: rank %d passed %d buffers, rank 0 %d", r, len(c.counts), len(first.counts))
		}
		for i, n := range c.counts {
			if n != first.counts[i] {
				return fmt.Errorf("gpu: all-reduce: rank %d's buffer %d has %d elements, rank 0's %d", r, i, n, first.counts[i])
			}
		}
	}
	for i, n := range first.counts {
		if n == 0 {
			continue
		}
		sum := make([]float32, n)
		x := make([]float32, n)
		for _, c := range calls {
			if err := c.b.DtoH(unsafe.Pointer(&x[0]), c.ptrs[i], 4*n); err != nil {
				return err
			}
			for j, v := range x {
				sum[j] += float32(c.scale * v) // rounded: no fused multiply-add
			}
		}
		for _, c := range calls {
			if err := c.b.HtoD(c.ptrs[i], unsafe.Pointer(&sum[0]), 4*n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *emuMember) Close() error {
	m.g.Leave(m.rank, fmt.Errorf("gpu: emulator group: rank %d has left", m.rank))
	return nil
}

// GroupsReady is nil: the emulator's groups need no library.
func GroupsReady() error { return nil }
