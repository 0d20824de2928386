// Package rendezvous lets the goroutines that play the members of a group
// meet in rounds, as the processes of an MPI or NCCL group meet in a
// collective: each member hands in its part of the round and waits, and
// the last to arrive carries the round out on every member's part and
// releases the others with its result. A member that leaves releases every
// member waiting, and fails every later round, with the error it leaves
// with. The in-process stand-ins for MPI (package collective) and NCCL
// (the GPU emulator's groups) are built on it.
package rendezvous

import (
	"errors"
	"sync"
)

// ErrClosed is returned by Join and Round to a member that has left.
var ErrClosed = errors.New("rendezvous: the member has left")

// Group is the meeting place of size members, ranks 0 to size-1, holding
// one round at a time. C is a member's part of a round.
type Group[C any] struct {
	mu      sync.Mutex
	cond    *sync.Cond
	size    int
	joined  int
	gen     uint64 // rounds completed
	arrived int
	parts   []C    // this round's, by rank
	err     error  // the last completed round's result
	left    error  // set by the first member to leave
	gone    []bool // by rank: the member has left
}

// New returns a group of size members (size >= 1).
func New[C any](size int) *Group[C] {
	g := &Group[C]{size: size, parts: make([]C, size), gone: make([]bool, size)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Size returns the number of members.
func (g *Group[C]) Size() int { return g.size }

// Join counts the calling member in and returns when every member has
// joined, or with the error of a member that left first.
func (g *Group[C]) Join(rank int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone[rank] {
		return ErrClosed
	}
	g.joined++
	if g.joined == g.size {
		g.cond.Broadcast()
	}
	for g.joined < g.size && g.left == nil {
		g.cond.Wait()
	}
	return g.left
}

// Round hands in member rank's part of the current round and returns when
// the round is complete: the last member to arrive calls do with every
// member's part, by rank, while the others wait, and each member receives
// do's error. If a member leaves before the round completes, the members
// waiting return the error it left with, and so does every later round.
// A member that has left receives ErrClosed.
func (g *Group[C]) Round(rank int, part C, do func(parts []C) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone[rank] {
		return ErrClosed
	}
	if g.left != nil {
		return g.left
	}
	g.parts[rank] = part
	g.arrived++
	gen := g.gen
	if g.arrived == g.size {
		g.err = do(g.parts)
		g.arrived = 0
		clear(g.parts)
		g.gen++
		g.cond.Broadcast()
		return g.err
	}
	for g.gen == gen && g.left == nil {
		g.cond.Wait()
	}
	if g.gen == gen {
		return g.left
	}
	return g.err
}

// Leave marks member rank as gone: the members waiting in Join or Round,
// and every later round, fail with err (the first leaver's error is kept).
// Leaving twice does nothing.
func (g *Group[C]) Leave(rank int, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gone[rank] {
		return
	}
	g.gone[rank] = true
	if g.left == nil {
		g.left = err
	}
	g.cond.Broadcast()
}
