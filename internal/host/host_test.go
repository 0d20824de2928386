package host

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	const info = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n"
	cases := []struct {
		in, key string
		want    int64
		wantErr string
	}{
		{info, "MemAvailable", 20000000 * 1024, ""},
		{info, "MemTotal", 24576000 * 1024, ""},
		{"MemAvailable: 0 kB\n", "MemAvailable", 0, ""},
		{"MemTotal: 5 kB\n", "MemAvailable", 0, "no MemAvailable"},
		{"MemAvailable: 12 MB\n", "MemAvailable", 0, "unexpected"},
		{"MemAvailable: -3 kB\n", "MemAvailable", 0, "bad MemAvailable"},
		{"MemAvailable: x kB\n", "MemAvailable", 0, "bad MemAvailable"},
	}
	for _, c := range cases {
		got, err := parseMeminfo(strings.NewReader(c.in), c.key)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q %s: %d, %v; want %d", c.in, c.key, got, err, c.want)
		}
	}
}

func TestParseCPUModel(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R45\nmodel name\t: other\n"
	if got := parseCPUModel(strings.NewReader(in)); got != "AMD EPYC 9R45" {
		t.Errorf("model %q", got)
	}
	if got := parseCPUModel(strings.NewReader("processor: 0\n")); got != runtime.GOARCH+" CPU" {
		t.Errorf("no model name: %q", got)
	}
}
