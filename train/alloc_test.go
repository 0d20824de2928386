package train

import (
	"testing"
)

// A training step of the default model allocates nothing once its buffers
// exist: the batch, the executor's values, the kernels' scratch memory and
// the parallel loops' tasks are all reused from step to step. (The first
// steps size the buffers and fill the runtime's own caches. On a machine
// whose cores other processes keep busy, a parallel worker that waits long
// enough parks, and the runtime may allocate its wait record, 112 bytes,
// when its per-core cache of them is empty: the runtime's allocation, not
// the step's.)
func TestStepAllocatesNothing(t *testing.T) {
	tr := defaultTrainer(t)
	step := func() {
		if _, _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		step()
	}
	if a := testing.AllocsPerRun(20, step); a != 0 {
		t.Errorf("a training step allocates %v times", a)
	}
}
