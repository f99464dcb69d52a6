package textfmt

import "testing"

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.00 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine(" a\n b\t c ", 10); got != "a b c" {
		t.Errorf("OneLine = %q", got)
	}
	if got := OneLine("abcdéfgh", 5); got != "abcd…" {
		t.Errorf("OneLine cut = %q", got)
	}
}
