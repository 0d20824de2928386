//go:build !unix

package gemm

import "time"

// processCPU is not available here; the CPU-time metric is then omitted.
func processCPU() time.Duration { return 0 }
