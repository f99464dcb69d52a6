package tokenizer

// ByteLevelRune returns the printable rune that GPT-2's byte-level alphabet
// shows byte b as ('a' for 'a', 'Ġ' for ' ', 'Ċ' for '\n'). Training code
// (tokenizer/bpetrain) builds its alphabet and vocabulary strings from it.
func ByteLevelRune(b byte) rune { return byteToRune[b] }

// ByteLevelString returns the byte-level vocabulary string for raw bytes:
// ByteLevelRune of each byte, concatenated.
func ByteLevelString(b []byte) string { return bytesToToken(b) }
