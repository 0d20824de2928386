//go:build gpu || gpuemu

package gpu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/gpu/cudalib"
	"github.com/infoscale/gaualpha/gpu/driver"
	"github.com/infoscale/gaualpha/kernels/cuda"
)

// FuncAttrs are the resources the driver's compilation of a kernel uses
// (cuFuncGetAttribute): registers and local memory per thread, static
// shared memory, the largest block.
type FuncAttrs = driver.FuncAttrs

// ModuleReport is one module's load in a preflight.
type ModuleReport struct {
	Name    string
	Bytes   int     // size of the image loaded (Info.Image: the fatbin, or the PTX text)
	Seconds float64 // cuModuleLoadDataEx: the SASS's load from the fatbin, or the JIT (or a read of CUDA_CACHE_PATH's cache)
	Err     string  `json:",omitempty"`
}

// KernelReport is one kernel's resources and occupancy in a preflight.
type KernelReport struct {
	Name   string
	Module string
	// Block and DynSmem are the launch's threads per block and the largest
	// dynamic shared memory the launch code asks for at D = 128 (launchShape).
	Block, DynSmem int
	Attrs          FuncAttrs
	// BlocksPerSM is cuOccupancyMaxActiveBlocksPerMultiprocessor at Block
	// and DynSmem; Occupancy the resident threads over the multiprocessor's
	// maximum.
	BlocksPerSM int
	Occupancy   float64
	// Err says why the attributes or the occupancy are missing.
	Err string `json:",omitempty"`
	// Unused says why the launch code never runs the kernel on this device
	// (a variant whose shared memory the device does not have).
	Unused string `json:",omitempty"`
}

// PreflightReport is what Preflight found.
type PreflightReport struct {
	Info          Info
	DeviceErr     string `json:",omitempty"` // why no device was opened
	CuBLAS        string // the library file loaded; "" if none
	CuBLASVersion string
	CuBLASErr     string `json:",omitempty"`
	// CuBLASTried are the candidates tried, in order, each with where it
	// was found and why it did not load (or "loaded").
	CuBLASTried []string
	// NCCL are the NCCL files found (cudalib.NCCL, files only); NCCLLoaded
	// the one LoadNCCL opened, NCCLVersion its ncclGetVersion (22703 is
	// 2.27.3), NCCLErr why none loaded (the emulator has none).
	NCCL        []string
	NCCLLoaded  string `json:",omitempty"`
	NCCLVersion int    `json:",omitempty"`
	NCCLErr     string `json:",omitempty"`
	Modules     []ModuleReport
	Kernels     []KernelReport
	// Problems are what stops a kernel from running: it cannot be found,
	// its block is larger than the compiled kernel allows, no block fits on
	// a multiprocessor. Warnings are costs: local memory (spills).
	Problems []string
	Warnings []string
	Seconds  float64 // the whole preflight
}

// ErrNoDevice wraps the reason no device could be opened.
var ErrNoDevice = errors.New("gpu: no device")

// Preflight checks, without running a kernel, what the tests need of device
// ordinal: the driver and device, the cuBLAS library (driver.LoadBLAS),
// each module's load (timed), and every kernel of kernelSigs: its
// registers, local memory, static shared memory and largest block
// (cuFuncGetAttribute) and its occupancy at the block and dynamic shared
// memory its launch uses (cuOccupancyMaxActiveBlocksPerMultiprocessor). On
// the emulator the attributes and occupancy are not available and say so.
// Without a device it returns what it found (cuBLAS) and an error wrapping
// ErrNoDevice.
func Preflight(ordinal int) (*PreflightReport, error) {
	t0 := time.Now()
	r := &PreflightReport{}
	defer func() { r.Seconds = time.Since(t0).Seconds() }()
	n, perr := driver.Probe()
	if perr == nil && n <= ordinal {
		perr = fmt.Errorf("gpu: %d devices, device %d asked for", n, ordinal)
	}
	if perr != nil {
		r.blas(0)
		r.DeviceErr = perr.Error()
		return r, fmt.Errorf("%w: %w", ErrNoDevice, perr)
	}
	be, err := driver.Open(ordinal)
	if err != nil {
		r.blas(0)
		r.DeviceErr = err.Error()
		return r, fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	defer be.Close()
	if r.Info, err = be.Info(); err != nil {
		return r, err
	}
	r.blas(r.Info.Driver)
	if r.Info.Major < 8 {
		return r, fmt.Errorf("gpu: %s has compute capability %d.%d; the kernels need 8.0 or newer", r.Info.Name, r.Info.Major, r.Info.Minor)
	}
	r.Info.Arch = archOf(r.Info)
	r.Info.Image = imageKind()
	perSM, smErr := be.MaxThreadsPerSM()
	mods := map[string]driver.Module{}
	defer func() {
		for _, m := range mods {
			be.UnloadModule(m)
		}
	}()
	for _, name := range cuda.Modules {
		mr := ModuleReport{Name: name}
		img, err := moduleImage(name, r.Info.Arch, r.Info.Image)
		if err == nil {
			mr.Bytes = len(img)
			t := time.Now()
			var m driver.Module
			m, err = be.LoadModule(name, img)
			mr.Seconds = time.Since(t).Seconds()
			if err == nil {
				mods[name] = m
			}
		}
		if err != nil {
			mr.Err = err.Error()
			r.Problems = append(r.Problems, fmt.Sprintf("module %s: %v", name, err))
		}
		r.Modules = append(r.Modules, mr)
	}
	names := make([]string, 0, len(kernelSigs))
	for name := range kernelSigs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sig := kernelSigs[name]
		m, ok := mods[sig.module]
		if !ok {
			continue // the module's failure is reported
		}
		kr := KernelReport{Name: name, Module: sig.module}
		kr.Block, kr.DynSmem = launchShape(name)
		fn, err := be.Function(m, name)
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
			kr.Err = err.Error()
			r.Kernels = append(r.Kernels, kr)
			continue
		}
		r.kernel(be, &kr, fn, perSM, smErr)
		r.Kernels = append(r.Kernels, kr)
	}
	return r, nil
}

// kernel fills kr's attributes and occupancy and notes what is wrong.
func (r *PreflightReport) kernel(be driver.Driver, kr *KernelReport, fn driver.Function, perSM int, smErr error) {
	if strings.HasPrefix(kr.Name, "gau_attn_fwd_tc_bf16_d") && kr.DynSmem > r.Info.MaxSharedOptin {
		instead := "the one-stage variant"
		if strings.HasSuffix(kr.Name, "_s1") {
			instead = "the CUDA-core bfloat16 kernel"
		}
		kr.Unused = fmt.Sprintf("not launched here: its %d bytes of shared memory are above the device's %d (%s runs)", kr.DynSmem, r.Info.MaxSharedOptin, instead)
		return
	}
	if kr.DynSmem > r.Info.MaxSharedOptin {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %d bytes of dynamic shared memory; the device allows %d", kr.Name, kr.DynSmem, r.Info.MaxSharedOptin))
		return
	}
	if kr.DynSmem > 48*1024 {
		if err := be.SetMaxDynamicSmem(fn, kr.Name, kr.DynSmem); err != nil {
			r.Problems = append(r.Problems, err.Error())
			return
		}
	}
	var err error
	if kr.Attrs, err = be.FuncAttrs(fn, kr.Name); err != nil {
		kr.Err = err.Error()
		return
	}
	if kr.BlocksPerSM, err = be.Occupancy(fn, kr.Name, kr.Block, kr.DynSmem); err != nil {
		kr.Err = err.Error()
		return
	}
	if smErr == nil && perSM > 0 {
		kr.Occupancy = float64(kr.BlocksPerSM*kr.Block) / float64(perSM)
	}
	switch {
	case kr.Attrs.MaxThreads < kr.Block:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: launched with %d threads per block; compiled for at most %d (%d registers)", kr.Name, kr.Block, kr.Attrs.MaxThreads, kr.Attrs.Registers))
	case kr.BlocksPerSM < 1:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: no block of %d threads with %d bytes of dynamic shared memory fits on a multiprocessor", kr.Name, kr.Block, kr.DynSmem))
	}
	if kr.Attrs.LocalBytes > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d bytes of local memory per thread (spills or local arrays)", kr.Name, kr.Attrs.LocalBytes))
	}
}

// blas records which cuBLAS loads (driverVersion 0: any major version).
func (r *PreflightReport) blas(driverVersion int) {
	var err error
	r.CuBLAS, r.CuBLASVersion, r.CuBLASTried, err = driver.LoadBLAS(driverVersion)
	if err != nil {
		r.CuBLASErr = err.Error()
	}
	for _, c := range driver.NCCLCandidates() {
		if c.Where != cudalib.WhereLoader { // files only: a bare soname is no finding
			r.NCCL = append(r.NCCL, c.Where+": "+c.Path)
		}
	}
	if r.NCCLLoaded, r.NCCLVersion, _, err = driver.LoadNCCL(); err != nil {
		r.NCCLErr = err.Error()
	}
}

// archOf is the PTX Open checks (and loads with ImagePTX) for a device:
// sm_90 on 9.x, sm_80 otherwise.
func archOf(in Info) string {
	if in.Major == 9 {
		return "sm90"
	}
	return "sm80"
}

// launchShape is the threads per block and the largest dynamic shared
// memory the launch code of kernels.go and attention.go gives kernel name,
// with the attention at the paper's key size D = 128 (the forward with the
// three rotations of a far window, its largest).
func launchShape(name string) (block, smem int) {
	const D = 128
	switch {
	case strings.HasPrefix(name, "gau_attn_fwd_tc_bf16_d"):
		var d, s int
		if _, err := fmt.Sscanf(name, "gau_attn_fwd_tc_bf16_d%d_s%d", &d, &s); err == nil {
			return tcThreads, attnFwdTCSmem(d, s)
		}
	case strings.HasPrefix(name, "gau_attn_fwd_"):
		return threads, attnFwdSmem(D, 3)
	case name == "gau_attn_bwd_main":
		return threads, attnBwdSmem(D)
	}
	return threads, 0
}

// WriteMarkdown writes the report as the gpu-check's preflight.md.
func (r *PreflightReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Preflight\n\n")
	in := r.Info
	if r.DeviceErr != "" {
		fmt.Fprintf(&b, "Device: none (%s).\n\n", r.DeviceErr)
	}
	if in.Name != "" {
		fmt.Fprintf(&b, "Device: %s (%s), compute capability %d.%d, %d SMs, %.1f GiB, shared memory per block (opt-in) %d KiB, PTX %s, kernels loaded from the %s. Driver: CUDA %s.\n\n",
			in.Name, in.Backend, in.Major, in.Minor, in.SMs, float64(in.Memory)/(1<<30), in.MaxSharedOptin/1024, in.Arch, in.Image, cudaVersion(in.Driver))
	}
	if r.CuBLASErr != "" {
		fmt.Fprintf(&b, "cuBLAS: none (%s).\n\n", r.CuBLASErr)
	} else {
		fmt.Fprintf(&b, "cuBLAS: %s (version %s).\n\n", r.CuBLAS, r.CuBLASVersion)
	}
	if len(r.CuBLASTried) > 0 {
		b.WriteString("cuBLAS candidates, in order (package cudalib):\n\n")
		for _, t := range r.CuBLASTried {
			fmt.Fprintf(&b, "- %s\n", t)
		}
		b.WriteString("\n")
	}
	if len(r.NCCL) > 0 {
		fmt.Fprintf(&b, "NCCL files found: %s.\n\n", strings.Join(r.NCCL, "; "))
	} else {
		b.WriteString("NCCL: no libnccl.so.2 file found in the places searched.\n\n")
	}
	if r.NCCLLoaded != "" {
		fmt.Fprintf(&b, "NCCL loaded: %s (version code %d), for the data-parallel gradient all-reduce.\n\n", r.NCCLLoaded, r.NCCLVersion)
	} else if r.NCCLErr != "" {
		fmt.Fprintf(&b, "NCCL not loaded: %s.\n\n", r.NCCLErr)
	}
	if len(r.Modules) > 0 {
		fmt.Fprintf(&b, "| module | %s bytes | load s | error |\n|---|---:|---:|---|\n", in.Image)
		for _, m := range r.Modules {
			fmt.Fprintf(&b, "| %s | %d | %.3f | %s |\n", m.Name, m.Bytes, m.Seconds, m.Err)
		}
		b.WriteString("\n")
	}
	if len(r.Kernels) > 0 {
		fmt.Fprintf(&b, "| kernel | block | dynamic smem | registers | local bytes | static smem | max threads | blocks/SM | occupancy |\n")
		fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, k := range r.Kernels {
			if k.Unused != "" {
				fmt.Fprintf(&b, "| %s | %d | %d | – | – | – | – | – | %s |\n", k.Name, k.Block, k.DynSmem, k.Unused)
				continue
			}
			if k.Err != "" {
				fmt.Fprintf(&b, "| %s | %d | %d | – | – | – | – | – | %s |\n", k.Name, k.Block, k.DynSmem, k.Err)
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %.0f%% |\n", k.Name, k.Block, k.DynSmem,
				k.Attrs.Registers, k.Attrs.LocalBytes, k.Attrs.StaticSmem, k.Attrs.MaxThreads, k.BlocksPerSM, 100*k.Occupancy)
		}
		b.WriteString("\n")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "- PROBLEM: %s\n", p)
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(&b, "- warning: %s\n", p)
	}
	fmt.Fprintf(&b, "\nPreflight: %.2f s.\n", r.Seconds)
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the one-line JSON scripts/gpu-check.sh reads.
func (r *PreflightReport) Summary() string {
	var load float64
	for _, m := range r.Modules {
		load += m.Seconds
	}
	b, _ := json.Marshal(map[string]any{
		"device": r.Info.Name, "device_error": r.DeviceErr, "backend": r.Info.Backend, "cc": fmt.Sprintf("%d.%d", r.Info.Major, r.Info.Minor),
		"driver": cudaVersion(r.Info.Driver), "cublas": r.CuBLAS, "cublas_version": r.CuBLASVersion, "cublas_error": r.CuBLASErr,
		"module_load_s": load, "kernels": len(r.Kernels), "problems": len(r.Problems), "warnings": len(r.Warnings),
	})
	return string(b)
}

// cudaVersion writes a cuDriverGetVersion number as "12.4" ("unknown" for 0).
func cudaVersion(v int) string {
	if v <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v/1000, v%1000/10)
}
