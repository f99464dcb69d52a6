package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
)

// template is a post-processor: the pieces of a single or pair input, each
// a special token or one of the sequences, with its token type id
// (Hugging Face's TemplateProcessing; BertProcessing is the template
// "[CLS]:0 $A:0 [SEP]:0" / "... $B:1 [SEP]:1").
type template []templatePiece

type templatePiece struct {
	seq    int // 0 for a special token, 1 for sequence A, 2 for B
	ids    []int
	tokens []string
	typeID int
}

func bertTemplates(cls, sep int, clsTok, sepTok string) (single, pair template) {
	c := templatePiece{ids: []int{cls}, tokens: []string{clsTok}}
	s0 := templatePiece{ids: []int{sep}, tokens: []string{sepTok}}
	s1 := s0
	s1.typeID = 1
	single = template{c, {seq: 1}, s0}
	pair = template{c, {seq: 1}, s0, {seq: 2, typeID: 1}, s1}
	return single, pair
}

// added returns the number of special tokens the template adds.
func (tp template) added() int {
	n := 0
	for _, p := range tp {
		n += len(p.ids)
	}
	return n
}

func (tp template) apply(a, b []int, t *WordPiece) Encoding {
	n := tp.added() + len(a) + len(b)
	e := Encoding{IDs: make([]int, 0, n), TypeIDs: make([]int, 0, n), AttentionMask: make([]int, n), Tokens: make([]string, 0, n)}
	for _, p := range tp {
		var ids []int
		switch p.seq {
		case 0:
			e.IDs = append(e.IDs, p.ids...)
			e.Tokens = append(e.Tokens, p.tokens...)
			for range p.ids {
				e.TypeIDs = append(e.TypeIDs, p.typeID)
			}
			continue
		case 1:
			ids = a
		case 2:
			ids = b
		}
		for _, id := range ids {
			e.IDs = append(e.IDs, id)
			e.Tokens = append(e.Tokens, t.tokens[id])
			e.TypeIDs = append(e.TypeIDs, p.typeID)
		}
	}
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e
}

// parseTemplate reads a TemplateProcessing "single" or "pair" list:
// [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, ...].
func parseTemplate(raw json.RawMessage, specials map[string]jsonSpecial, field string) (template, error) {
	var items []struct {
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		} `json:"Sequence"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("post_processor.%s: %w", field, err)
	}
	var tp template
	for i, it := range items {
		switch {
		case it.SpecialToken != nil:
			sp, ok := specials[it.SpecialToken.ID]
			if !ok {
				return nil, fmt.Errorf("post_processor.%s[%d]: special token %q not in special_tokens", field, i, it.SpecialToken.ID)
			}
			if len(sp.IDs) != len(sp.Tokens) {
				return nil, fmt.Errorf("post_processor.special_tokens[%q]: %d ids but %d tokens", it.SpecialToken.ID, len(sp.IDs), len(sp.Tokens))
			}
			tp = append(tp, templatePiece{ids: sp.IDs, tokens: sp.Tokens, typeID: it.SpecialToken.TypeID})
		case it.Sequence != nil:
			switch it.Sequence.ID {
			case "A":
				tp = append(tp, templatePiece{seq: 1, typeID: it.Sequence.TypeID})
			case "B":
				tp = append(tp, templatePiece{seq: 2, typeID: it.Sequence.TypeID})
			default:
				return nil, fmt.Errorf("post_processor.%s[%d]: sequence %q, want A or B", field, i, it.Sequence.ID)
			}
		default:
			return nil, fmt.Errorf("post_processor.%s[%d]: want SpecialToken or Sequence", field, i)
		}
	}
	return tp, nil
}

type jsonSpecial struct {
	ID     string   `json:"id"`
	IDs    []int    `json:"ids"`
	Tokens []string `json:"tokens"`
}

// parsePostProcessor reads a TemplateProcessing, BertProcessing or
// RobertaProcessing post-processor; null adds no special tokens.
func parsePostProcessor(raw json.RawMessage, vocabSize int) (single, pair template, err error) {
	typ, err := typeOf(raw, "post_processor")
	if err != nil {
		return nil, nil, err
	}
	switch typ {
	case "":
		return template{{seq: 1}}, template{{seq: 1}, {seq: 2, typeID: 1}}, nil
	case "BertProcessing", "RobertaProcessing":
		var bp struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(raw, &bp); err != nil {
			return nil, nil, fmt.Errorf("post_processor: %w", err)
		}
		var sepTok, clsTok string
		var sepID, clsID int
		if json.Unmarshal(bp.Sep[0], &sepTok) != nil || json.Unmarshal(bp.Sep[1], &sepID) != nil ||
			json.Unmarshal(bp.Cls[0], &clsTok) != nil || json.Unmarshal(bp.Cls[1], &clsID) != nil {
			return nil, nil, errors.New("post_processor: want \"sep\" and \"cls\" as [token, id]")
		}
		single, pair = bertTemplates(clsID, sepID, clsTok, sepTok)
		if typ == "RobertaProcessing" {
			// <s> A </s> and <s> A </s> </s> B </s>, every type id 0 (MPNet, RoBERTa).
			c := templatePiece{ids: []int{clsID}, tokens: []string{clsTok}}
			s := templatePiece{ids: []int{sepID}, tokens: []string{sepTok}}
			pair = template{c, {seq: 1}, s, s, {seq: 2}, s}
		}
	case "TemplateProcessing":
		var tpj struct {
			Single        json.RawMessage        `json:"single"`
			Pair          json.RawMessage        `json:"pair"`
			SpecialTokens map[string]jsonSpecial `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &tpj); err != nil {
			return nil, nil, fmt.Errorf("post_processor: %w", err)
		}
		if single, err = parseTemplate(tpj.Single, tpj.SpecialTokens, "single"); err != nil {
			return nil, nil, err
		}
		if pair, err = parseTemplate(tpj.Pair, tpj.SpecialTokens, "pair"); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("post_processor type %q not supported (want TemplateProcessing or BertProcessing)", typ)
	}
	for _, tp := range []template{single, pair} {
		for _, p := range tp {
			for _, id := range p.ids {
				if id < 0 || id >= vocabSize {
					return nil, nil, fmt.Errorf("post_processor: special token id %d outside the vocabulary (size %d)", id, vocabSize)
				}
			}
		}
	}
	return single, pair, nil
}
