package main

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	wide := strings.Repeat(" ", 1800)
	tests := []struct {
		name                 string
		in                   string
		text, header, footer string
	}{
		{
			name:   "man page",
			in:     "LS(1)" + wide + "用户命令" + wide + "LS(1)\n\n\n\n名称\n       ls - 列目录   \n\n\n\nGNU coreutils 9.1" + wide + "2022年9月" + wide + "LS(1)\n",
			text:   "名称\n       ls - 列目录",
			header: "LS(1) | 用户命令 | LS(1)",
			footer: "GNU coreutils 9.1 | 2022年9月 | LS(1)",
		},
		{
			name:   "mdoc page",
			in:     "FINGER(1)     BSD General Commands Manual     FINGER(1)\n\nNAME\n     finger\n\nLinux NetKit (0.16)    August 15, 1999    Linux NetKit (0.16)\n",
			text:   "NAME\n     finger",
			header: "FINGER(1) | BSD General Commands Manual | FINGER(1)",
			footer: "Linux NetKit (0.16) | August 15, 1999 | Linux NetKit (0.16)",
		},
		{
			name:   "footer without header",
			in:     "\n\n名称\n   bzip2\n\n" + wide + "bzip2(1)\n",
			text:   "名称\n   bzip2",
			footer: "bzip2(1)",
		},
		{
			name: "neither",
			in:   "NAME(名称)\n     dig\n\n跋\n     中文 man 手册页计划：https://github.com/man-pages-zh/manpages-zh\n",
			text: "NAME(名称)\n     dig\n\n跋\n     中文 man 手册页计划：https://github.com/man-pages-zh/manpages-zh",
		},
		{
			name:   "justified and ruled lines",
			in:     "A(1)" + wide + "A(1)\n\n       如果" + wide + "shell" + wide + "是\n       text" + wide + "│\n\nx" + wide + "A(1)",
			text:   "如果 shell 是\n       text │",
			header: "A(1) | A(1)",
			footer: "x | A(1)",
		},
		{name: "blank", in: " \n\n  \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, header, footer := normalize(tt.in)
			if text != tt.text {
				t.Errorf("text = %q, want %q", text, tt.text)
			}
			if got := squeeze(header); got != tt.header {
				t.Errorf("header = %q, want %q", got, tt.header)
			}
			if got := squeeze(footer); got != tt.footer {
				t.Errorf("footer = %q, want %q", got, tt.footer)
			}
		})
	}
}

func TestSoRedirect(t *testing.T) {
	tests := []struct {
		src    string
		target string
		ok     bool
	}{
		{".so man1/vi.1\n", "man1/vi.1", true},
		{".\\\" comment\n\n.so man3/stdio.3\n", "man3/stdio.3", true},
		{".TH LS 1\n.SH NAME\nls\n", "", false},
		{".so man1/a.1\n.SH NAME\n", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		target, ok := soRedirect([]byte(tt.src))
		if target != tt.target || ok != tt.ok {
			t.Errorf("soRedirect(%q) = %q, %v, want %q, %v", tt.src, target, ok, tt.target, tt.ok)
		}
	}
}
