//go:build gpuemu

package driver

/*
int emu_probe_ldmatrix_run(const unsigned short* in, const long long* rows, const long long* cols, unsigned* out,
                           float* dout, char* err, int errlen);
*/
import "C"

import "fmt"

// EmuProbeLdmatrix runs emu.cc's emu_probe_ldmatrix: in is a [32][24]
// bfloat16 matrix in shared memory, lane l gives row rows[l] at column
// cols[l] (0, 8 or 16) to ldmatrix x1, x2 and x4 without and with .trans
// (out[v][lane], v = 0..5), and dout [16][16] is in[0..15][0..15] ·
// in[16..31][0..15] formed by ldmatrix, ldmatrix .trans and mma as the
// tensor-core attention forms its products.
func EmuProbeLdmatrix(in *[32 * 24]uint16, rows, cols *[32]int64) (out [6][32][4]uint32, dout [16 * 16]float32, err error) {
	for l := range 32 {
		if rows[l] < 0 || rows[l] >= 32 || (cols[l] != 0 && cols[l] != 8 && cols[l] != 16) {
			return out, dout, fmt.Errorf("gpu: emulator: ldmatrix probe: lane %d row %d column %d out of range", l, rows[l], cols[l])
		}
	}
	var msg [256]C.char
	if C.emu_probe_ldmatrix_run((*C.ushort)(&in[0]), (*C.longlong)(&rows[0]), (*C.longlong)(&cols[0]),
		(*C.uint)(&out[0][0][0]), (*C.float)(&dout[0]), &msg[0], C.int(len(msg))) != 0 {
		return out, dout, fmt.Errorf("gpu: emulator: %s", C.GoString(&msg[0]))
	}
	return out, dout, nil
}
