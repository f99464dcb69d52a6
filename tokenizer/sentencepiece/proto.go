package sentencepiece

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PieceType is the type of a vocabulary piece (ModelProto.SentencePiece.Type).
type PieceType int32

// The piece types of sentencepiece_model.proto.
const (
	Normal      PieceType = 1 // an ordinary piece, found by the segmentation
	Unknown     PieceType = 2 // <unk>
	Control     PieceType = 3 // <s>, </s>, <pad>: never produced from text
	UserDefined PieceType = 4 // always matched whole, never normalized
	Unused      PieceType = 5 // in the vocabulary but never produced
	Byte        PieceType = 6 // <0xNN>, for byte fallback
)

// String returns the proto's name of the type ("NORMAL", "BYTE").
func (t PieceType) String() string {
	switch t {
	case Normal:
		return "NORMAL"
	case Unknown:
		return "UNKNOWN"
	case Control:
		return "CONTROL"
	case UserDefined:
		return "USER_DEFINED"
	case Unused:
		return "UNUSED"
	case Byte:
		return "BYTE"
	}
	return fmt.Sprintf("PieceType(%d)", int32(t))
}

// ModelType is the segmentation algorithm of a model (TrainerSpec.ModelType).
type ModelType int32

// The model types of sentencepiece_model.proto. Only Unigram and BPE are
// supported by New.
const (
	ModelUnigram ModelType = 1
	ModelBPE     ModelType = 2
	ModelWord    ModelType = 3
	ModelChar    ModelType = 4
)

// String returns the proto's name of the type ("UNIGRAM", "BPE").
func (t ModelType) String() string {
	switch t {
	case ModelUnigram:
		return "UNIGRAM"
	case ModelBPE:
		return "BPE"
	case ModelWord:
		return "WORD"
	case ModelChar:
		return "CHAR"
	}
	return fmt.Sprintf("ModelType(%d)", int32(t))
}

// Piece is one vocabulary entry; its id is its index in Model.Pieces.
type Piece struct {
	Piece string
	Score float32
	Type  PieceType
}

// TrainerSpec holds the fields of the trainer spec that encoding needs, with
// the proto's defaults where the file leaves them out.
type TrainerSpec struct {
	ModelType               ModelType // default Unigram
	VocabSize               int32
	TreatWhitespaceAsSuffix bool
	AllowWhitespaceOnly     bool // allow_whitespace_only_pieces
	SplitDigits             bool
	ByteFallback            bool
	UnkID, BosID, EosID     int32 // defaults 0, 1, 2; -1 when absent from the vocabulary
	PadID                   int32 // default -1
	UnkPiece, BosPiece      string
	EosPiece, PadPiece      string
	UnkSurface              string // what Decode writes for <unk>; default " ⁇ "
}

// NormalizerSpec is a normalizer or denormalizer spec.
type NormalizerSpec struct {
	Name                   string // "nmt_nfkc", "nfkc", "identity", "user_defined", ...
	PrecompiledCharsmap    []byte // Darts double-array trie + normalized strings; nil for none
	AddDummyPrefix         bool   // default true
	RemoveExtraWhitespaces bool   // default true
	EscapeWhitespaces      bool   // default true
	NormalizationRuleTSV   string
}

// Model is a decoded SentencePiece model file (ModelProto): spiece.model,
// source.spm, sentencepiece.bpe.model.
type Model struct {
	Pieces     []Piece
	Trainer    TrainerSpec
	Normalizer NormalizerSpec
	// Denormalizer is applied to decoded text when it has a charsmap; nil
	// when the file has no denormalizer_spec.
	Denormalizer *NormalizerSpec
}

func defaultTrainerSpec() TrainerSpec {
	return TrainerSpec{
		ModelType: ModelUnigram, VocabSize: 8000,
		UnkID: 0, BosID: 1, EosID: 2, PadID: -1,
		UnkPiece: "<unk>", BosPiece: "<s>", EosPiece: "</s>", PadPiece: "<pad>",
		UnkSurface: " \u2047 ",
	}
}

func defaultNormalizerSpec() NormalizerSpec {
	return NormalizerSpec{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true}
}

// Protocol buffer wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// protoReader walks the fields of one protobuf message.
type protoReader struct {
	buf   []byte
	off   int            // offset in buf
	base  int            // offset of buf in the file, for errors
	path  string         // message path, for errors ("pieces[3]")
	names map[int]string // field names, for errors
}

var (
	modelFields      = map[int]string{1: "pieces", 2: "trainer_spec", 3: "normalizer_spec", 4: "self_test_data", 5: "denormalizer_spec"}
	pieceFields      = map[int]string{1: "piece", 2: "score", 3: "type"}
	normalizerFields = map[int]string{1: "name", 2: "precompiled_charsmap", 3: "add_dummy_prefix", 4: "remove_extra_whitespaces", 5: "escape_whitespaces", 6: "normalization_rule_tsv"}
	trainerFields    = map[int]string{1: "input", 2: "model_prefix", 3: "model_type", 4: "vocab_size", 24: "treat_whitespace_as_suffix",
		25: "split_digits", 26: "allow_whitespace_only_pieces", 35: "byte_fallback", 40: "unk_id", 41: "bos_id", 42: "eos_id", 43: "pad_id",
		44: "unk_surface", 45: "unk_piece", 46: "bos_piece", 47: "eos_piece", 48: "pad_piece"}
)

// field names field num for errors: "pieces (field 1)" or "field 7".
func (r *protoReader) field(num int) string {
	if n, ok := r.names[num]; ok {
		return fmt.Sprintf("%s (field %d)", n, num)
	}
	return fmt.Sprintf("field %d", num)
}

type protoField struct {
	num  int
	wire int
	u64  uint64 // varint, fixed32, fixed64 value
	data []byte // bytes value
	at   int    // file offset of the field's key
}

func (r *protoReader) errorf(at int, format string, args ...any) error {
	where := r.path
	if where == "" {
		where = "ModelProto"
	}
	return fmt.Errorf("%s at byte %d: %s", where, at, fmt.Sprintf(format, args...))
}

func (r *protoReader) varint() (uint64, bool) {
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		return 0, false
	}
	r.off += n
	return v, true
}

// next reads the next field; ok is false at the end of the message.
func (r *protoReader) next() (f protoField, ok bool, err error) {
	if r.off >= len(r.buf) {
		return f, false, nil
	}
	f.at = r.base + r.off
	key, good := r.varint()
	if !good {
		return f, false, r.errorf(f.at, "truncated or overlong field key")
	}
	f.num, f.wire = int(key>>3), int(key&7)
	if f.num == 0 || key>>3 > math.MaxInt32 {
		return f, false, r.errorf(f.at, "invalid field number %d", key>>3)
	}
	switch f.wire {
	case wireVarint:
		if f.u64, good = r.varint(); !good {
			return f, false, r.errorf(f.at, "%s: truncated varint", r.field(f.num))
		}
	case wireFixed64:
		if len(r.buf)-r.off < 8 {
			return f, false, r.errorf(f.at, "%s: truncated fixed64", r.field(f.num))
		}
		f.u64 = binary.LittleEndian.Uint64(r.buf[r.off:])
		r.off += 8
	case wireFixed32:
		if len(r.buf)-r.off < 4 {
			return f, false, r.errorf(f.at, "%s: truncated fixed32", r.field(f.num))
		}
		f.u64 = uint64(binary.LittleEndian.Uint32(r.buf[r.off:]))
		r.off += 4
	case wireBytes:
		n, good := r.varint()
		if !good {
			return f, false, r.errorf(f.at, "%s: truncated length", r.field(f.num))
		}
		if n > uint64(len(r.buf)-r.off) {
			return f, false, r.errorf(f.at, "%s: length %d past the end of the message (%d bytes left)", r.field(f.num), n, len(r.buf)-r.off)
		}
		f.data = r.buf[r.off : r.off+int(n)]
		r.off += int(n)
	default:
		return f, false, r.errorf(f.at, "%s: unsupported wire type %d", r.field(f.num), f.wire)
	}
	return f, true, nil
}

// want checks a field's wire type.
func (r *protoReader) want(f protoField, wire int, name string) error {
	if f.wire != wire {
		return r.errorf(f.at, "%s (field %d): wire type %d, want %d", name, f.num, f.wire, wire)
	}
	return nil
}

func (r *protoReader) int32Field(f protoField, name string) (int32, error) {
	if err := r.want(f, wireVarint, name); err != nil {
		return 0, err
	}
	return int32(f.u64), nil // proto int32: the low 32 bits of a 64-bit varint
}

func (r *protoReader) boolField(f protoField, name string) (bool, error) {
	if err := r.want(f, wireVarint, name); err != nil {
		return false, err
	}
	return f.u64 != 0, nil
}

func (r *protoReader) stringField(f protoField, name string) (string, error) {
	if err := r.want(f, wireBytes, name); err != nil {
		return "", err
	}
	return string(f.data), nil
}

// ParseModel decodes a SentencePiece model file (the serialized ModelProto).
// Fields that encoding does not use are skipped; a corrupt file is an error
// that names the field and its byte offset.
func ParseModel(data []byte) (*Model, error) {
	m := &Model{Trainer: defaultTrainerSpec(), Normalizer: defaultNormalizerSpec()}
	r := &protoReader{buf: data, names: modelFields}
	for {
		f, ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch f.num {
		case 1:
			if err := r.want(f, wireBytes, "pieces"); err != nil {
				return nil, err
			}
			p, err := parsePiece(r.subAt(f, fmt.Sprintf("pieces[%d]", len(m.Pieces)), pieceFields))
			if err != nil {
				return nil, err
			}
			m.Pieces = append(m.Pieces, p)
		case 2:
			if err := r.want(f, wireBytes, "trainer_spec"); err != nil {
				return nil, err
			}
			if err := parseTrainerSpec(r.subAt(f, "trainer_spec", trainerFields), &m.Trainer); err != nil {
				return nil, err
			}
		case 3:
			if err := r.want(f, wireBytes, "normalizer_spec"); err != nil {
				return nil, err
			}
			if err := parseNormalizerSpec(r.subAt(f, "normalizer_spec", normalizerFields), &m.Normalizer); err != nil {
				return nil, err
			}
		case 5:
			if err := r.want(f, wireBytes, "denormalizer_spec"); err != nil {
				return nil, err
			}
			d := defaultNormalizerSpec()
			if err := parseNormalizerSpec(r.subAt(f, "denormalizer_spec", normalizerFields), &d); err != nil {
				return nil, err
			}
			m.Denormalizer = &d
		}
	}
	return m, nil
}

// subAt returns a reader over the embedded message of bytes field f, whose
// file offset is the end of the field minus its length.
func (r *protoReader) subAt(f protoField, path string, names map[int]string) *protoReader {
	// f.data is a sub-slice of r.buf; its offset in r.buf gives the file offset.
	start := r.off - len(f.data)
	return &protoReader{buf: f.data, base: r.base + start, path: path, names: names}
}

func parsePiece(r *protoReader) (Piece, error) {
	p := Piece{Type: Normal}
	for {
		f, ok, err := r.next()
		if err != nil {
			return p, err
		}
		if !ok {
			return p, nil
		}
		switch f.num {
		case 1:
			if p.Piece, err = r.stringField(f, "piece"); err != nil {
				return p, err
			}
		case 2:
			if err := r.want(f, wireFixed32, "score"); err != nil {
				return p, err
			}
			p.Score = math.Float32frombits(uint32(f.u64))
		case 3:
			t, err := r.int32Field(f, "type")
			if err != nil {
				return p, err
			}
			// proto2 keeps an enum value it does not know as an unknown
			// field and reads the default, as sentencepiece's parser does.
			if t >= int32(Normal) && t <= int32(Byte) {
				p.Type = PieceType(t)
			}
		}
	}
}

func parseTrainerSpec(r *protoReader, t *TrainerSpec) error {
	for {
		f, ok, err := r.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		var i int32
		switch f.num {
		case 3:
			i, err = r.int32Field(f, "model_type")
			if i >= int32(ModelUnigram) && i <= int32(ModelChar) {
				t.ModelType = ModelType(i) // else the default, as proto2 does
			}
		case 4:
			t.VocabSize, err = r.int32Field(f, "vocab_size")
		case 24:
			t.TreatWhitespaceAsSuffix, err = r.boolField(f, "treat_whitespace_as_suffix")
		case 25:
			t.SplitDigits, err = r.boolField(f, "split_digits")
		case 26:
			t.AllowWhitespaceOnly, err = r.boolField(f, "allow_whitespace_only_pieces")
		case 35:
			t.ByteFallback, err = r.boolField(f, "byte_fallback")
		case 40:
			t.UnkID, err = r.int32Field(f, "unk_id")
		case 41:
			t.BosID, err = r.int32Field(f, "bos_id")
		case 42:
			t.EosID, err = r.int32Field(f, "eos_id")
		case 43:
			t.PadID, err = r.int32Field(f, "pad_id")
		case 44:
			t.UnkSurface, err = r.stringField(f, "unk_surface")
		case 45:
			t.UnkPiece, err = r.stringField(f, "unk_piece")
		case 46:
			t.BosPiece, err = r.stringField(f, "bos_piece")
		case 47:
			t.EosPiece, err = r.stringField(f, "eos_piece")
		case 48:
			t.PadPiece, err = r.stringField(f, "pad_piece")
		}
		if err != nil {
			return err
		}
	}
}

func parseNormalizerSpec(r *protoReader, n *NormalizerSpec) error {
	for {
		f, ok, err := r.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		switch f.num {
		case 1:
			n.Name, err = r.stringField(f, "name")
		case 2:
			if err = r.want(f, wireBytes, "precompiled_charsmap"); err == nil {
				n.PrecompiledCharsmap = f.data
			}
		case 3:
			n.AddDummyPrefix, err = r.boolField(f, "add_dummy_prefix")
		case 4:
			n.RemoveExtraWhitespaces, err = r.boolField(f, "remove_extra_whitespaces")
		case 5:
			n.EscapeWhitespaces, err = r.boolField(f, "escape_whitespaces")
		case 6:
			n.NormalizationRuleTSV, err = r.stringField(f, "normalization_rule_tsv")
		}
		if err != nil {
			return err
		}
	}
}
