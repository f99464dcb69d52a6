#!/usr/bin/python3
"""Prints sentencepiece's segmentation of the hand-built models of
sentencepiece/unit_test.go (TestSegmentationRules), built here as ModelProto
messages. Needs python3-sentencepiece and python3-protobuf."""
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
T = pb.ModelProto.SentencePiece
def mk(typ, pieces):
    m = pb.ModelProto()
    m.trainer_spec.model_type = typ
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    p = m.pieces.add(); p.piece = "<unk>"; p.type = T.UNKNOWN; p.score = 0
    for piece, score, t in pieces:
        p = m.pieces.add(); p.piece = piece; p.score = score; p.type = t
    sp = spm.SentencePieceProcessor(); sp.LoadFromSerializedProto(m.SerializeToString())
    return sp
N, U, UD, C = T.NORMAL, T.UNUSED, T.USER_DEFINED, T.CONTROL
cases = [
 ("bpe tie", 2, [("a",0,N),("b",0,N),("c",0,N),("ab",-1,N),("bc",-1,N)], "abc"),
 ("bpe higher", 2, [("a",0,N),("b",0,N),("c",0,N),("ab",-2,N),("bc",-1,N)], "abc"),
 ("bpe unused reseg", 2, [("a",0,N),("b",0,N),("d",0,N),("ab",0,U)], "abd"),
 ("bpe unused through", 2, [("a",0,N),("b",0,N),("c",0,N),("ab",0,U),("abc",-1,N)], "abc"),
 ("bpe userdef", 2, [("a",0,N),("b",0,N),("ab",-1,N),("<x>",0,UD)], "a<x>bab"),
 ("uni unk penalty", 1, [("cd",-5,N),("e",-5,N),("de",-1,N)], "cde"),
 ("uni userdef", 1, [("ab",-0.5,N),("c",-0.5,N),("abc",0,UD)], "abcab"),
 ("uni unused", 1, [("a",-3,N),("b",-3,N),("ab",-0.1,U)], "ab"),
 ("unk run", 1, [("a",-1,N)], "axyza"),
 ("uni shadowed", 1, [("a",0,N),("b",0,N),("ab",-1,N),("ab",0,C),("c",-1,N),("c",0,C)], "abc"),
 ("bpe shadowed", 2, [("a",0,N),("b",0,N),("ab",-1,N),("ab",0,C),("c",-1,N),("c",0,C)], "abc"),
]
for name, typ, pcs, text in cases:
    print(name, mk(typ, pcs).encode(text, out_type=str))
