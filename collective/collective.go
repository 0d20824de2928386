// Package collective is what data-parallel training and sharded evaluation
// need of a group of processes, behind one interface (Comm): each member's
// rank, element-wise sums over the group (all-reduce), broadcast from one
// rank, gather to one rank, and a barrier.
//
// Three implementations: Single, the one-process group every command uses
// by default; Local, n goroutine "ranks" sharing memory, for tests; and MPI
// (package collective/mpi, built with -tags mpi), the processes mpirun or
// Slurm's srun starts, each its own address space. The device-memory
// all-reduce of GPUs (NCCL) is package gpu's, set up over a Comm.
//
// Every member calls the same collectives in the same order with matching
// arguments (the same length for a sum, the same root); a call blocks until
// every member has made it. A member that fails while the others wait in a
// collective ends the group: under MPI its process exits non-zero and the
// launcher stops the job; in a Local group its Close makes the others'
// calls return ErrLeft.
package collective

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Comm is one member of a group of processes (or goroutines).
type Comm interface {
	// Rank is this member's number, 0 to Size()-1; rank 0 writes the
	// results.
	Rank() int
	// Size is the number of members.
	Size() int
	// LocalRank is this member's number among those on the same machine
	// (the GPU it uses).
	LocalRank() int
	// AllReduceSum32 replaces buf on every member by the element-wise sum
	// of every member's buf (of one length on all). Every member receives
	// the same values.
	AllReduceSum32(buf []float32) error
	// AllReduceSum64 is AllReduceSum32 in float64.
	AllReduceSum64(buf []float64) error
	// Broadcast copies root's buf into every member's buf (of one length
	// on all).
	Broadcast(buf []byte, root int) error
	// Gather returns, on root, every member's data in rank order (copies;
	// lengths may differ); nil on the other members.
	Gather(data []byte, root int) ([][]byte, error)
	// Barrier returns when every member has called it.
	Barrier() error
	// Close leaves the group (MPI: finalizes it). A member closes after
	// its last collective.
	Close() error
}

// ErrLeft is returned (wrapped) by a Local group's collectives once a
// member has closed or failed.
var ErrLeft = errors.New("collective: a member has left the group")

// Share returns the half-open range [lo, hi) of n items that rank takes
// of a group of size: contiguous blocks in rank order, whose sizes differ
// by at most one (the first ranks take the smaller ones).
func Share(n, rank, size int) (lo, hi int) {
	return rank * n / size, (rank + 1) * n / size
}

// BroadcastBytes returns root's data on every member (its length first,
// then the bytes); data is read on root only.
func BroadcastBytes(c Comm, data []byte, root int) ([]byte, error) {
	var n [8]byte
	if c.Rank() == root {
		binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	}
	if err := c.Broadcast(n[:], root); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > 1<<40 {
		return nil, fmt.Errorf("collective: broadcast of %d bytes", size)
	}
	buf := make([]byte, size)
	if c.Rank() == root {
		copy(buf, data)
	}
	if err := c.Broadcast(buf, root); err != nil {
		return nil, err
	}
	return buf, nil
}

// GatherJSON gathers every member's v, encoded as JSON, to root and
// returns them there in rank order (nil elsewhere).
func GatherJSON[T any](c Comm, v T, root int) ([]T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("collective: encoding rank %d's value: %w", c.Rank(), err)
	}
	parts, err := c.Gather(b, root)
	if err != nil || c.Rank() != root {
		return nil, err
	}
	out := make([]T, len(parts))
	for r, p := range parts {
		if err := json.Unmarshal(p, &out[r]); err != nil {
			return nil, fmt.Errorf("collective: decoding rank %d's value: %w", r, err)
		}
	}
	return out, nil
}

// BroadcastJSON returns root's v on every member, encoded as JSON (v is
// read on root only).
func BroadcastJSON[T any](c Comm, v T, root int) (T, error) {
	var b []byte
	if c.Rank() == root {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return v, fmt.Errorf("collective: encoding the broadcast value: %w", err)
		}
	}
	b, err := BroadcastBytes(c, b, root)
	if err != nil {
		return v, err
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return v, fmt.Errorf("collective: decoding the broadcast value: %w", err)
	}
	return out, nil
}

// Agree checks that every member holds the same value of what (a string
// naming, say, the options or a checkpoint's step): root gathers them and
// every member returns the same error, naming the first member that
// differs, or nil.
func Agree(c Comm, what, value string) error {
	all, err := GatherJSON(c, value, 0)
	if err != nil {
		return err
	}
	var msg string
	if c.Rank() == 0 {
		for r, v := range all {
			if v != all[0] {
				msg = fmt.Sprintf("rank %d's %s (%s) differs from rank 0's (%s)", r, what, v, all[0])
				break
			}
		}
	}
	if msg, err = BroadcastJSON(c, msg, 0); err != nil {
		return err
	}
	if msg != "" {
		return errors.New("collective: " + msg)
	}
	return nil
}

// checkRoot reports a root outside the group.
func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("collective: root %d outside a group of %d", root, size)
	}
	return nil
}

// Single is the group of one process: every collective returns at once
// (a sum is the buffer itself, a gather is the data).
type Single struct{}

// Rank is 0.
func (Single) Rank() int { return 0 }

// Size is 1.
func (Single) Size() int { return 1 }

// LocalRank is 0.
func (Single) LocalRank() int { return 0 }

// AllReduceSum32 leaves buf as it is.
func (Single) AllReduceSum32([]float32) error { return nil }

// AllReduceSum64 leaves buf as it is.
func (Single) AllReduceSum64([]float64) error { return nil }

// Broadcast leaves buf as it is (root must be 0).
func (Single) Broadcast(_ []byte, root int) error { return checkRoot(root, 1) }

// Gather returns a copy of data (root must be 0).
func (Single) Gather(data []byte, root int) ([][]byte, error) {
	if err := checkRoot(root, 1); err != nil {
		return nil, err
	}
	return [][]byte{append([]byte(nil), data...)}, nil
}

// Barrier returns at once.
func (Single) Barrier() error { return nil }

// Close does nothing.
func (Single) Close() error { return nil }
