package tokenizer

import (
	"testing"
)

// FuzzParseUnigramJSON feeds mutated Unigram tokenizer.json files to
// ParseUnigramJSON: an error, or a tokenizer that encodes and decodes
// without panicking and with ids in range.
func FuzzParseUnigramJSON(f *testing.F) {
	f.Add(`{"added_tokens":[{"id":0,"content":"<pad>","special":true},{"id":1,"content":"</s>","special":true},{"id":2,"content":"<unk>","special":true}],
"normalizer":null,
"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"▁","add_prefix_space":true}]},
"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],"pair":[],"special_tokens":{"</s>":{"id":"</s>","ids":[1],"tokens":["</s>"]}}},
"model":{"type":"Unigram","unk_id":2,"vocab":[["<pad>",0],["</s>",0],["<unk>",0],["▁",-1.5],["▁the",-2],["a",-3],["b",-3.5],["ab",-4]]}}`)
	f.Add(`{"normalizer":{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]},
"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false},
"model":{"type":"Unigram","unk_id":0,"byte_fallback":true,"vocab":[["<unk>",0],["<0x41>",0],["▁",-1]]}}`)
	f.Fuzz(func(t *testing.T, data string) {
		tok, err := ParseUnigramJSON([]byte(data))
		if err != nil {
			return
		}
		for _, s := range []string{"", "the  ab", "x😀 ab\t"} {
			e := tok.EncodeText(s, EncodeOptions{AllowSpecial: true})
			for _, id := range e.IDs {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("id %d out of range %d", id, tok.VocabSize())
				}
			}
			tok.Decode(e.IDs)
		}
	})
}
