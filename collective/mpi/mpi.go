//go:build mpi

package mpi

/*
#cgo pkg-config: ompi-c
#include <mpi.h>
#include <stdlib.h>

static int gau_mpi_init(int* provided) {
	int done = 0;
	MPI_Initialized(&done);
	if (done) return -1;
	return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
}

// gau_mpi_setup duplicates MPI_COMM_WORLD (errors returned, not fatal)
// and splits it by machine (shared memory) for the local rank.
static int gau_mpi_setup(MPI_Comm* world, MPI_Comm* node, int* rank, int* size, int* lrank) {
	int r = MPI_Comm_dup(MPI_COMM_WORLD, world);
	if (r != MPI_SUCCESS) return r;
	if ((r = MPI_Comm_set_errhandler(*world, MPI_ERRORS_RETURN)) != MPI_SUCCESS) return r;
	if ((r = MPI_Comm_rank(*world, rank)) != MPI_SUCCESS) return r;
	if ((r = MPI_Comm_size(*world, size)) != MPI_SUCCESS) return r;
	if ((r = MPI_Comm_split_type(*world, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, node)) != MPI_SUCCESS) return r;
	return MPI_Comm_rank(*node, lrank);
}

static int gau_allreduce_f32(MPI_Comm c, float* buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, c);
}
static int gau_allreduce_f64(MPI_Comm c, double* buf, int n) {
	return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, c);
}
static int gau_bcast(MPI_Comm c, void* buf, int n, int root) { return MPI_Bcast(buf, n, MPI_BYTE, root, c); }
static int gau_gather_sizes(MPI_Comm c, long long* mine, long long* all, int root) {
	return MPI_Gather(mine, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, root, c);
}
static int gau_gatherv(MPI_Comm c, void* send, int n, void* recv, int* counts, int* displs, int root) {
	return MPI_Gatherv(send, n, MPI_BYTE, recv, counts, displs, MPI_BYTE, root, c);
}
static int gau_barrier(MPI_Comm c) { return MPI_Barrier(c); }
static int gau_finalize(MPI_Comm* world, MPI_Comm* node) {
	MPI_Comm_free(node);
	MPI_Comm_free(world);
	return MPI_Finalize();
}
static void gau_errstr(int code, char* buf, int n) {
	int len = 0;
	if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) len = 0;
	buf[len < n ? len : n - 1] = 0;
}
static const char* gau_library(char* buf) {
	int len = 0;
	MPI_Get_library_version(buf, &len);
	return buf;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/infoscale/gaualpha/collective"
)

// Built reports whether this binary has MPI (-tags mpi).
const Built = true

// opened guards MPI_Init_thread, which a process may call once.
var opened sync.Once

// Open returns the group the launcher started: MPI's world, when
// Launcher finds a launcher's variables, or else the one-process group
// (MPI is not initialised). A process opens MPI once; a second Open
// returns an error.
func Open() (collective.Comm, error) {
	l := Launcher(os.Getenv)
	if l.By == "" {
		return collective.Single{}, nil
	}
	var c *Comm
	err := errors.New("mpi: Open called twice (MPI initialises once per process)")
	opened.Do(func() { c, err = open() })
	if err != nil {
		return nil, err
	}
	if c.size == 1 {
		if err := checkSingle(l, "MPI sees one: with srun, name the MPI plugin (srun --mpi=pmix)"); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// isMPI reports whether c is MPI's world.
func isMPI(c collective.Comm) bool {
	_, ok := c.(*Comm)
	return ok
}

// Comm is MPI's world (a duplicate of MPI_COMM_WORLD whose errors are
// returned, not fatal).
type Comm struct {
	mu                sync.Mutex // one collective at a time
	calls             chan func()
	world, node       C.MPI_Comm
	rank, size, local int
	library           string
	closed            bool
}

func open() (*Comm, error) {
	c := &Comm{calls: make(chan func())}
	ready := make(chan error)
	go c.serve(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// serve initialises MPI on a locked OS thread and runs every call on it
// until Close.
func (c *Comm) serve(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	var provided C.int
	if r := C.gau_mpi_init(&provided); r != 0 {
		if r == -1 {
			ready <- errors.New("mpi: MPI is already initialised in this process")
		} else {
			ready <- fmt.Errorf("mpi: MPI_Init_thread: %s", errString(r))
		}
		return
	}
	if provided < C.MPI_THREAD_FUNNELED {
		ready <- fmt.Errorf("mpi: the MPI library provides thread level %d, below MPI_THREAD_FUNNELED", int(provided))
		C.MPI_Finalize()
		return
	}
	var rank, size, local C.int
	if r := C.gau_mpi_setup(&c.world, &c.node, &rank, &size, &local); r != 0 {
		ready <- fmt.Errorf("mpi: setting up the world communicator: %s", errString(r))
		C.MPI_Finalize()
		return
	}
	var lib [C.MPI_MAX_LIBRARY_VERSION_STRING + 1]C.char
	c.library = strings.TrimSpace(strings.SplitN(C.GoString(C.gau_library(&lib[0])), "\n", 2)[0])
	c.rank, c.size, c.local = int(rank), int(size), int(local)
	ready <- nil
	for f := range c.calls {
		f()
	}
}

// do runs f on MPI's thread.
func (c *Comm) do(what string, f func() C.int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("mpi: %s after Close", what)
	}
	done := make(chan C.int)
	c.calls <- func() { done <- f() }
	if r := <-done; r != 0 {
		return fmt.Errorf("mpi: rank %d: %s: %s", c.rank, what, errString(r))
	}
	return nil
}

func errString(code C.int) string {
	var buf [C.MPI_MAX_ERROR_STRING + 1]C.char
	C.gau_errstr(code, &buf[0], C.int(len(buf)))
	return fmt.Sprintf("%s (error %d)", C.GoString(&buf[0]), int(code))
}

// Rank is this process's rank in the world.
func (c *Comm) Rank() int { return c.rank }

// Size is the number of processes.
func (c *Comm) Size() int { return c.size }

// LocalRank is this process's rank among those sharing its machine.
func (c *Comm) LocalRank() int { return c.local }

// Library is the MPI library's version line (MPI_Get_library_version).
func (c *Comm) Library() string { return c.library }

// chunk is the most elements one MPI call takes (its counts are ints).
const chunk = 1 << 30

func (c *Comm) AllReduceSum32(buf []float32) error {
	for lo := 0; lo < len(buf); lo += chunk {
		part := buf[lo:min(lo+chunk, len(buf))]
		if err := c.do("MPI_Allreduce", func() C.int {
			return C.gau_allreduce_f32(c.world, (*C.float)(unsafe.Pointer(&part[0])), C.int(len(part)))
		}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Comm) AllReduceSum64(buf []float64) error {
	for lo := 0; lo < len(buf); lo += chunk {
		part := buf[lo:min(lo+chunk, len(buf))]
		if err := c.do("MPI_Allreduce", func() C.int {
			return C.gau_allreduce_f64(c.world, (*C.double)(unsafe.Pointer(&part[0])), C.int(len(part)))
		}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Comm) checkRoot(root int) error {
	if root < 0 || root >= c.size {
		return fmt.Errorf("mpi: root %d outside a group of %d", root, c.size)
	}
	return nil
}

func (c *Comm) Broadcast(buf []byte, root int) error {
	if err := c.checkRoot(root); err != nil {
		return err
	}
	for lo := 0; lo < len(buf); lo += chunk {
		part := buf[lo:min(lo+chunk, len(buf))]
		if err := c.do("MPI_Bcast", func() C.int {
			return C.gau_bcast(c.world, unsafe.Pointer(&part[0]), C.int(len(part)), C.int(root))
		}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Comm) Gather(data []byte, root int) ([][]byte, error) {
	if err := c.checkRoot(root); err != nil {
		return nil, err
	}
	mine := C.longlong(len(data))
	sizes := make([]C.longlong, c.size)
	if err := c.do("MPI_Gather", func() C.int { return C.gau_gather_sizes(c.world, &mine, &sizes[0], C.int(root)) }); err != nil {
		return nil, err
	}
	var total int64
	counts := make([]C.int, c.size)
	displs := make([]C.int, c.size)
	if c.rank == root {
		for r, n := range sizes {
			displs[r], counts[r] = C.int(total), C.int(n)
			total += int64(n)
		}
	}
	// Every rank learns whether the gather fits one MPI call, so that all
	// return the same error rather than some waiting.
	fits := [1]byte{1}
	if total > math.MaxInt32 {
		fits[0] = 0
	}
	if err := c.Broadcast(fits[:], root); err != nil {
		return nil, err
	}
	if fits[0] == 0 {
		return nil, fmt.Errorf("mpi: gather of more than 2 GiB to rank %d", root)
	}
	recv := make([]byte, max(total, 1))
	send := unsafe.Pointer(nil)
	if len(data) > 0 {
		send = unsafe.Pointer(&data[0])
	}
	if err := c.do("MPI_Gatherv", func() C.int {
		return C.gau_gatherv(c.world, send, C.int(len(data)), unsafe.Pointer(&recv[0]), &counts[0], &displs[0], C.int(root))
	}); err != nil {
		return nil, err
	}
	if c.rank != root {
		return nil, nil
	}
	out := make([][]byte, c.size)
	for r := range out {
		out[r] = recv[displs[r] : displs[r]+counts[r] : displs[r]+counts[r]]
	}
	return out, nil
}

func (c *Comm) Barrier() error {
	return c.do("MPI_Barrier", func() C.int { return C.gau_barrier(c.world) })
}

// Close finalizes MPI (every rank calls it after its last collective).
func (c *Comm) Close() error {
	err := c.do("MPI_Finalize", func() C.int { return C.gau_finalize(&c.world, &c.node) })
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.calls)
	}
	c.mu.Unlock()
	return err
}
