package eval

import (
	"testing"

	"github.com/infoscale/gaualpha/gau"
)

// softmax_plus_n0 has base n0 (factor 1 at n0); infoscale_visible applies
// to the masking methods only, counting the keys a row keeps.
func TestNormVariants(t *testing.T) {
	cfg := gau.DefaultConfig()
	vs, names, err := NormVariants(cfg, []string{"softmax", " softmax_plus_n0", NormInfoVisible})
	if err != nil || len(vs) != 2 || names[1] != NormPlusN0 || vs[1].Name != NormPlusN0 || vs[1].Policy.Base != float64(cfg.TrainLength) || vs[1].Policy.Factor(cfg.TrainLength) != 1 {
		t.Fatalf("rope: %+v %v %v", vs, names, err)
	}
	cfg.Method = "window"
	vs, names, err = NormVariants(cfg, []string{NormInfoVisible})
	if err != nil || len(vs) != 1 || vs[0].Name != "window+infoscale_visible" || !vs[0].Policy.VisibleKeys {
		t.Fatalf("window: %+v %v %v", vs, names, err)
	}
	if _, _, err := NormPolicy(cfg, "softmax_plus_17"); err == nil {
		t.Error("an unknown normalisation accepted")
	}
}
