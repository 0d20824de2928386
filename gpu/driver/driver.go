//go:build gpu || gpuemu

package driver

import "unsafe"

// Ptr is a device address (CUdeviceptr; the emulator's are host
// addresses). 0 is null.
type Ptr uintptr

// Add returns p advanced by bytes.
func (p Ptr) Add(bytes int) Ptr { return p + Ptr(bytes) }

// Info describes the opened device.
type Info struct {
	Name           string
	Major, Minor   int   // compute capability
	SMs            int   // multiprocessors
	Memory         int64 // bytes
	MaxSharedOptin int   // largest dynamic shared memory per block with the opt-in attribute
	Driver         int   // CUDA driver version (e.g. 13000); 0 on the emulator
	Backend        string
	Arch           string // PTX checked against the Go structs (and loaded with JIT): "sm80" or "sm90"
	Image          string // what was loaded: the fatbin (default) or the PTX (JIT)
}

// FuncAttrs are the resources the driver's compilation of a kernel uses
// (cuFuncGetAttribute).
type FuncAttrs struct {
	Registers  int // per thread
	LocalBytes int // local memory per thread: spilled registers, local arrays
	StaticSmem int // static shared memory per block, bytes
	MaxThreads int // the largest block the compiled kernel can be launched with
}

// Module, Function and Event are handles of a Driver's loaded modules,
// kernels and timing events; only the Driver that made them reads them.
type (
	Module   struct{ p unsafe.Pointer }
	Function struct{ p unsafe.Pointer }
	Event    struct{ p unsafe.Pointer }
)

// Gemm is one cuBLAS product in column-major order, Batch of them strided:
// C_i = Alpha·op(A_i)·op(B_i) + Beta·C_i, op(A_i) M×K, op(B_i) K×N, A_i
// StrideA elements after A_{i-1} (likewise B, C; one product: the strides
// are not read). BF16: A and B bfloat16, else float32; C float32; the
// arithmetic float32 (CUBLAS_COMPUTE_32F: no TF32).
type Gemm struct {
	BF16, TransA, TransB bool
	M, N, K              int
	Alpha, Beta          float32
	A                    Ptr
	LDA, StrideA         int
	B                    Ptr
	LDB, StrideB         int
	C                    Ptr
	LDC, StrideC         int
	Batch                int
}

// Driver is an opened device: every call is queued on its one stream, in
// order, and a Driver is used by one goroutine at a time (package gpu's
// Device holds a mutex). Errors of asynchronous work come back from a later
// call (Sync reports them).
type Driver interface {
	// Info describes the device.
	Info() (Info, error)
	// LoadModule loads image (a fatbin, or PTX text to JIT-compile) under
	// a name for messages; Function finds a kernel in it.
	LoadModule(name, image string) (Module, error)
	UnloadModule(Module) error
	Function(m Module, name string) (Function, error)
	// SetMaxDynamicSmem allows f dynamic shared memory up to bytes (above
	// 48 KiB the attribute must be set before a launch asks for it).
	SetMaxDynamicSmem(f Function, name string, bytes int) error
	// FuncAttrs, Occupancy (blocks of block threads with smem bytes that
	// fit one multiprocessor) and MaxThreadsPerSM describe a kernel's
	// compilation for the preflight; the emulator has none.
	FuncAttrs(f Function, name string) (FuncAttrs, error)
	Occupancy(f Function, name string, block, smem int) (int, error)
	MaxThreadsPerSM() (int, error)

	Alloc(bytes int) (Ptr, error)
	Free(Ptr) error
	// HtoD and DtoH copy after the work queued so far (DtoH waits for it);
	// DtoD and Memset32 (n 32-bit words) are queued.
	HtoD(dst Ptr, src unsafe.Pointer, bytes int) error
	DtoH(dst unsafe.Pointer, src Ptr, bytes int) error
	DtoD(dst, src Ptr, bytes int) error
	Memset32(p Ptr, v uint32, n int) error

	// Launch queues kernel f with its parameter struct at params (bytes
	// long: the size of the kernel's one .param).
	Launch(f Function, name string, grid, block [3]int, smem int, params unsafe.Pointer, bytes int) error
	// Sync waits for the queued work and returns its first error.
	Sync() error

	// Events time the work queued between two Records; Elapsed waits for
	// to and returns the milliseconds.
	NewEvent() (Event, error)
	DestroyEvent(Event) error
	Record(Event) error
	Elapsed(from, to Event) (float64, error)

	// Gemm queues a cuBLAS product (cuBLAS is loaded at the first one).
	Gemm(g Gemm) error

	// JoinGroup makes this device member rank of the group of size
	// devices named by id (NewGroupID, made by one member and sent to the
	// others): NCCL's communicator on CUDA. It returns when every member
	// has joined. One device per process (or, on the emulator, per
	// goroutine).
	JoinGroup(id GroupID, rank, size int) (Group, error)

	// Close releases the device (the caller has freed its memory).
	Close() error
}

// GroupID names a group of devices to its members: NCCL's unique id (128
// bytes) on CUDA, a random name on the emulator.
type GroupID [128]byte

// Group is a device's membership in a group of devices.
type Group interface {
	// AllReduceScaled queues, on the device's stream, for each buffer i
	// (counts[i] float32s at ptrs[i], the same counts on every member) the
	// sum over the members of scale·x, each member's x multiplied by its
	// own scale (NCCL's pre-multiplied sum); the sum replaces x on every
	// member, and every member receives the same values.
	AllReduceScaled(ptrs []Ptr, counts []int, scale float32) error
	// Close leaves the group.
	Close() error
}
