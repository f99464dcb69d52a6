// Command classes prints the GPT-2 pre-tokenizer class of every code point
// (0 other, 1 letter, 2 number, 3 space, x surrogate) as Go sees it; see compare.sh.
package main

import (
	"bufio"
	"fmt"
	"os"
	"unicode"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for r := rune(0); r <= 0x10FFFF; r++ {
		c := '0'
		switch {
		case unicode.IsSpace(r):
			c = '3'
		case unicode.IsLetter(r):
			c = '1'
		case unicode.IsNumber(r):
			c = '2'
		}
		if r >= 0xD800 && r <= 0xDFFF {
			c = 'x'
		}
		fmt.Fprintf(w, "%c", c)
	}
}
