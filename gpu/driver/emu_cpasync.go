//go:build gpuemu

package driver

/*
int emu_probe_cp_async_run(const unsigned long long* in, unsigned long long* out, long long mode, int order, char* err,
                           int errlen);
*/
import "C"

import "fmt"

// EmuProbeCpAsync runs emu.cc's emu_probe_cp_async in the given mode (0 to
// 6, see there) on in [128], its copies landing at their wait (late) or at
// their issue: out[slot][lane] is what lane read of its next lane's 16
// bytes at the slot's point (0xff bytes where nothing was read or the copy
// had not landed).
func EmuProbeCpAsync(in *[128]uint64, mode int, late bool) (out [3][32][2]uint64, err error) {
	order := C.int(1) // forward: every copy lands at its issue
	if late {
		order = 2 // reverse: at its wait
	}
	for s := range out {
		for l := range out[s] {
			out[s][l] = [2]uint64{^uint64(0), ^uint64(0)}
		}
	}
	var msg [256]C.char
	if C.emu_probe_cp_async_run((*C.ulonglong)(&in[0]), (*C.ulonglong)(&out[0][0][0]), C.longlong(mode), order, &msg[0], C.int(len(msg))) != 0 {
		return out, fmt.Errorf("gpu: emulator: %s", C.GoString(&msg[0]))
	}
	return out, nil
}
