package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"strings"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// Image is an 8-bit RGB image, row-major, 3 bytes a pixel.
type Image struct {
	Width, Height int
	Pix           []uint8
}

// FromPixels converts a decoder's output, [3, H, W] float32 in about
// [−1, 1], to 8-bit pixels as diffusers' VaeImageProcessor.postprocess
// does: (x/2 + 0.5).clamp(0, 1), then numpy's (x·255).round() (half to
// even), all in float32.
func FromPixels(px []float32, width, height int) *Image {
	img := &Image{Width: width, Height: height, Pix: make([]uint8, 3*width*height)}
	plane := width * height
	for ch := range 3 {
		for j, v := range px[ch*plane : (ch+1)*plane] {
			x := v/2 + 0.5
			x = min(max(x, 0), 1)
			if x != x { // NaN: torch.clamp keeps it, numpy's uint8 cast of NaN is 0
				x = 0
			}
			s := x * 255
			img.Pix[3*j+ch] = uint8(math.RoundToEven(float64(s)))
		}
	}
	return img
}

// Normalized returns the image as [3, H, W] float32 in [−1, 1], as
// diffusers' VaeImageProcessor.preprocess makes it: x/255 in float32, then
// 2x − 1.
func (m *Image) Normalized() []float32 {
	plane := m.Width * m.Height
	out := make([]float32, 3*plane)
	for j := range plane {
		for ch := range 3 {
			x := float32(m.Pix[3*j+ch]) / 255
			out[ch*plane+j] = 2*x - 1
		}
	}
	return out
}

// RGBA returns the image as a standard library image.
func (m *Image) RGBA() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.Width, m.Height))
	for j := range m.Width * m.Height {
		copy(out.Pix[4*j:], m.Pix[3*j:3*j+3])
		out.Pix[4*j+3] = 255
	}
	return out
}

// ReadImage reads a PNG (or another format registered with package image)
// as an RGB image, dropping any alpha channel as PIL's convert("RGB") does.
func ReadImage(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: init image: %w", err)
	}
	defer f.Close()
	img, err := DecodeImage(f)
	if err != nil {
		return nil, fmt.Errorf("pipeline: init image %s: %w", path, err)
	}
	return img, nil
}

// maxPixels bounds the images DecodeImage accepts (a 4096×4096 image).
const maxPixels = 1 << 24

// DecodeImage decodes an image from r as ReadImage does.
func DecodeImage(r io.Reader) (*Image, error) {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("not a readable image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("size %d×%d: want at most %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	src, _, err := image.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("not a readable image: %w", err)
	}
	b := src.Bounds()
	out := &Image{Width: b.Dx(), Height: b.Dy(), Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	j := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// Non-premultiplied colour: PIL drops alpha without compositing.
			c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
			out.Pix[j], out.Pix[j+1], out.Pix[j+2] = c.R, c.G, c.B
			j += 3
		}
	}
	return out, nil
}

// TextChunk is a PNG text chunk: a keyword (1–79 Latin-1 characters) and
// its text.
type TextChunk struct{ Key, Text string }

// EncodePNG writes m as a PNG with the given text chunks after the header:
// tEXt when the text is Latin-1, iTXt (UTF-8) otherwise.
func EncodePNG(w io.Writer, m *Image, text []TextChunk) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, m.RGBA()); err != nil {
		return err
	}
	b := buf.Bytes()
	// 8-byte signature, then IHDR: length (13), type, data, CRC = 25 bytes.
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(b) < ihdrEnd || string(b[12:16]) != "IHDR" {
		return fmt.Errorf("png: unexpected encoder output")
	}
	if _, err := w.Write(b[:ihdrEnd]); err != nil {
		return err
	}
	for _, t := range text {
		if err := writeTextChunk(w, t); err != nil {
			return err
		}
	}
	_, err := w.Write(b[ihdrEnd:])
	return err
}

// WritePNG writes m with text chunks to path atomically.
func WritePNG(path string, m *Image, text []TextChunk) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return EncodePNG(w, m, text) }); err != nil {
		return fmt.Errorf("pipeline: write %s: %w", path, err)
	}
	return nil
}

func writeTextChunk(w io.Writer, t TextChunk) error {
	if len(t.Key) < 1 || len(t.Key) > 79 {
		return fmt.Errorf("png: text keyword %q: want 1–79 characters", t.Key)
	}
	for i := 0; i < len(t.Key); i++ {
		if c := t.Key[i]; c < 32 || c > 126 {
			return fmt.Errorf("png: text keyword %q: want printable ASCII", t.Key)
		}
	}
	latin1, ok := toLatin1(t.Text)
	var typ string
	var data []byte
	if ok {
		typ = "tEXt"
		data = append(append([]byte(t.Key), 0), latin1...)
	} else {
		// iTXt: keyword, 0, compression flag 0, method 0, empty language
		// tag, 0, empty translated keyword, 0, UTF-8 text.
		typ = "iTXt"
		data = append(append([]byte(t.Key), 0, 0, 0, 0, 0), t.Text...)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(data)))
	copy(hdr[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(data)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc.Sum32())
	for _, part := range [][]byte{hdr[:], data, tail[:]} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// toLatin1 converts s to Latin-1 bytes; ok is false when s has a character
// outside Latin-1 or a NUL (which tEXt cannot hold).
func toLatin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r == 0 || r > 0xff {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// ReadPNGText returns the tEXt and iTXt (uncompressed) chunks of a PNG
// file's bytes, in order.
func ReadPNGText(b []byte) ([]TextChunk, error) {
	if len(b) < 8 || string(b[:8]) != "\x89PNG\r\n\x1a\n" {
		return nil, fmt.Errorf("not a PNG file")
	}
	var out []TextChunk
	for p := 8; p < len(b); {
		if len(b)-p < 12 {
			return nil, fmt.Errorf("truncated chunk at byte %d", p)
		}
		n := int(binary.BigEndian.Uint32(b[p:]))
		if n < 0 || n > len(b)-p-12 {
			return nil, fmt.Errorf("chunk at byte %d: length %d runs past the end", p, n)
		}
		typ, data := string(b[p+4:p+8]), b[p+8:p+8+n]
		switch typ {
		case "tEXt":
			if k := bytes.IndexByte(data, 0); k > 0 {
				r := make([]rune, 0, len(data)-k-1)
				for _, c := range data[k+1:] {
					r = append(r, rune(c))
				}
				out = append(out, TextChunk{string(data[:k]), string(r)})
			}
		case "iTXt":
			k := bytes.IndexByte(data, 0)
			if k > 0 && len(data) >= k+3 && data[k+1] == 0 {
				rest := data[k+3:]
				if l := bytes.IndexByte(rest, 0); l >= 0 {
					rest = rest[l+1:]
					if l := bytes.IndexByte(rest, 0); l >= 0 {
						out = append(out, TextChunk{string(data[:k]), string(rest[l+1:])})
					}
				}
			}
		case "IEND":
			return out, nil
		}
		p += 12 + n
	}
	return out, nil
}

// PNGText returns the text chunks loupe writes into its images: "parameters"
// in the AUTOMATIC1111 web UI's format (prompt, "Negative prompt:" line,
// then "Steps: …, Sampler: …, CFG scale: …, Seed: …, Size: …, Model: …"),
// which image viewers and other tools read, and "loupe" with the settings as
// JSON.
func PNGText(s Settings, model string) []TextChunk {
	var b strings.Builder
	b.WriteString(s.Prompt)
	if s.Negative != "" {
		b.WriteString("\nNegative prompt: " + s.Negative)
	}
	fmt.Fprintf(&b, "\nSteps: %d, Sampler: %s, CFG scale: %g, Seed: %d, Size: %dx%d", s.Steps, s.Scheduler, s.Guidance, s.Seed, s.Width, s.Height)
	if s.ImageToImage {
		fmt.Fprintf(&b, ", Denoising strength: %g", s.Strength)
	}
	if model != "" {
		b.WriteString(", Model: " + model)
	}
	js, _ := json.Marshal(struct {
		Settings
		Model string `json:"model,omitempty"`
	}{s, model})
	return []TextChunk{{"parameters", b.String()}, {"loupe", string(js)}}
}
