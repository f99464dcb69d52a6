package pipeline

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPNGTextRoundTrip(t *testing.T) {
	m := initImage(24, 16)
	s := Settings{Prompt: "a lighthouse at dusk", Negative: "blurry", Steps: 20, Guidance: 7.5, Width: 24, Height: 16, Seed: 42, Scheduler: "euler-a"}
	for _, tc := range []struct {
		name   string
		prompt string
		chunk  string
	}{
		{"latin1", "café at dusk", "tEXt"},
		{"utf8", "富士山 at dawn", "iTXt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := s
			s.Prompt = tc.prompt
			path := filepath.Join(t.TempDir(), "out.png")
			text := PNGText(s, "tiny")
			if err := WritePNG(path, m, text); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(tc.chunk)) {
				t.Errorf("no %s chunk", tc.chunk)
			}
			got, err := ReadPNGText(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, text) {
				t.Fatalf("text chunks %q, want %q", got, text)
			}
			if !strings.HasPrefix(got[0].Text, tc.prompt+"\nNegative prompt: blurry\nSteps: 20, Sampler: euler-a, CFG scale: 7.5, Seed: 42, Size: 24x16") {
				t.Errorf("parameters %q", got[0].Text)
			}
			// the standard decoder reads the file (CRCs right), pixels intact
			back, err := ReadImage(path)
			if err != nil {
				t.Fatal(err)
			}
			if back.Width != 24 || back.Height != 16 || !bytes.Equal(back.Pix, m.Pix) {
				t.Fatal("pixels changed in the round trip")
			}
		})
	}
	if err := EncodePNG(&bytes.Buffer{}, m, []TextChunk{{"", "x"}}); err == nil {
		t.Error("empty keyword: want an error")
	}
}

func TestDecodeImageDropsAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	src.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0}) // transparent: colour kept, as PIL's convert("RGB")
	src.SetNRGBA(1, 0, color.NRGBA{10, 20, 30, 255})
	g := image.NewGray(image.Rect(0, 0, 1, 1))
	g.SetGray(0, 0, color.Gray{77})
	for _, tc := range []struct {
		img  image.Image
		want []uint8
	}{
		{src, []uint8{200, 100, 50, 10, 20, 30}},
		{g, []uint8{77, 77, 77}},
	} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, tc.img); err != nil {
			t.Fatal(err)
		}
		m, err := DecodeImage(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Pix, tc.want) {
			t.Errorf("pixels %v, want %v", m.Pix, tc.want)
		}
	}
	if _, err := DecodeImage(strings.NewReader("not an image")); err == nil {
		t.Error("garbage: want an error")
	}
	if _, err := ReadImage(filepath.Join(t.TempDir(), "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: error %v should name it", err)
	}
}

func TestPixelConversion(t *testing.T) {
	// (x/2+0.5)·255 rounded half to even: x = 1/255 − 1 gives 0.5 → 0; NaN → 0.
	px := []float32{-1, 1, 0, -2, 2, float32(1.0/255 - 1), 0.00196078431, -0.00196078431, 0.5}
	n := len(px) / 3
	img := FromPixels(px, n, 1)
	// numpy: ((torch.tensor(px)/2+0.5).clamp(0,1).numpy()*255).round().astype("uint8")
	want := []uint8{0, 255, 128, 0, 255, 0, 128, 127, 191}
	for ch := range 3 {
		for j := range n {
			if g := img.Pix[3*j+ch]; g != want[ch*n+j] {
				t.Errorf("channel %d pixel %d: %d, want %d (x = %g)", ch, j, g, want[ch*n+j], px[ch*n+j])
			}
		}
	}
	// Normalized inverts the 8-bit levels into [−1, 1].
	m := &Image{Width: 1, Height: 1, Pix: []uint8{0, 255, 128}}
	if v := m.Normalized(); v[0] != -1 || v[1] != 1 || v[2] != 2*float32(128)/255-1 {
		t.Errorf("Normalized = %v", v)
	}
}

func FuzzDecodeImage(f *testing.F) {
	var buf bytes.Buffer
	_ = EncodePNG(&buf, initImage(3, 2), []TextChunk{{"parameters", "a"}, {"loupe", "ü 富"}})
	f.Add(buf.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeImage(bytes.NewReader(b)); err == nil && len(m.Pix) != 3*m.Width*m.Height {
			t.Fatalf("%d bytes for %d×%d", len(m.Pix), m.Width, m.Height)
		}
		_, _ = ReadPNGText(b)
	})
}
