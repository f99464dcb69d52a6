// Package checkpoint opens the weights of a Hugging Face model directory in
// whichever form the repository ships them, and reads them as one set of
// named tensors:
//
//	model.safetensors              one safetensors file (package safetensors)
//	model.safetensors.index.json   safetensors shards listed by an index
//	pytorch_model.bin              one torch.save file (package torchfile)
//	pytorch_model.bin.index.json   torch.save shards listed by an index
//
// Open takes the first of these that exists, in that order (the order
// transformers prefers). An index is a JSON object
//
//	{"metadata": {"total_size": 6474690560},
//	 "weight_map": {"h.0.ln_1.weight": "model-00001-of-00002.safetensors", ...}}
//
// naming, for every tensor, the shard file (in the same directory) that
// holds it. Open opens every shard and checks the index against them: a
// missing shard, a tensor listed twice, a tensor stored in a shard other
// than the one weight_map names, in two shards, in no shard or in none that
// weight_map lists are each an error naming the index, the tensor and the
// files.
//
//	c, err := checkpoint.Open(dir)
//	if err != nil { ... }
//	defer c.Close()
//	wte, err := c.Float32("wte.weight") // F32: a view of the mapped file
//
// Every file is memory-mapped; F32 tensors are returned in place, without a
// copy, so a model's weights cost their size in (file-backed) memory once.
package checkpoint
