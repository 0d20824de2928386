package gau

import (
	"bytes"
	"testing"
)

// FuzzReadConfig: ReadConfig never panics, and any config it accepts is
// valid and survives a Marshal/ReadConfig round trip unchanged.
func FuzzReadConfig(f *testing.F) {
	for _, c := range []Config{DefaultConfig(), PaperConfig(), tinyConfig()} {
		c.VocabSize = 100
		b, _ := c.Marshal()
		f.Add(b)
	}
	f.Add([]byte(`{"vocab_size": 12000, "hidden_size": 768, "intermediate_size": 1536, "attention_key_size": 128, "num_hidden_layers": 24, "normalization": "softmax_plus", "hidden_act": "swish", "use_bias": false, "attention_scale": true, "type_vocab_size": 2}`))
	f.Add([]byte(`{"attention_key_size": 7}`))
	f.Add([]byte(`{"cosscale": -1, "vocab_size": 10}`))
	f.Add([]byte(`{"train_length": 0}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadConfig(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ReadConfig(bytes.NewReader(b), "round trip")
		if err != nil {
			t.Fatalf("round trip rejected: %v\n%s", err, b)
		}
		if c2 != c {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, c2)
		}
	})
}
