//go:build gpuemu

package driver

/*
#include <stdlib.h>
#include "emu.h"
*/
import "C"

import "unsafe"

// CField is one field of a kernel's C parameter struct, as the emulator
// (compiled from the same sources as the PTX) lays it out.
type CField struct {
	Name         string
	Offset, Size int
	Kind         byte // 'p' pointer, 'i' signed, 'u' unsigned, 'f' floating point
}

// CLayout returns the size and fields of kernel name's C parameter struct
// (ok false: the emulator has no layout for it).
func CLayout(name string) (size int, fields []CField, ok bool) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	for i := 0; ; i++ {
		var field *C.char
		var off, sz C.size_t
		var kind C.char
		if C.emu_layout(cs, C.int(i), &field, &off, &sz, &kind) == 0 {
			return int(sz), fields, sz > 0
		}
		fields = append(fields, CField{C.GoString(field), int(off), int(sz), byte(kind)})
	}
}
