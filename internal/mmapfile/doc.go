// Package mmapfile maps a whole weight file into memory read-mostly and
// private, so that tensors can be used in place without a copy (the
// safetensors and torch checkpoint readers share it).
package mmapfile
