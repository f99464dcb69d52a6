package noise

// mt19937 is the 32-bit Mersenne Twister of Matsumoto and Nishimura (1998),
// in the form PyTorch's at::mt19937 uses: seeded with init_genrand, drawn
// with the standard twist and tempering.
type mt19937 struct {
	state [mtN]uint32
	left  int // draws left before the next twist
}

const (
	mtN         = 624
	mtM         = 397
	mtMatrixA   = 0x9908b0df
	mtUpperMask = 0x80000000
	mtLowerMask = 0x7fffffff
)

// seed initialises the state from the low 32 bits of s (init_genrand).
func (m *mt19937) seed(s uint64) {
	m.state[0] = uint32(s)
	for j := 1; j < mtN; j++ {
		prev := m.state[j-1]
		m.state[j] = 1812433253*(prev^(prev>>30)) + uint32(j)
	}
	m.left = 0
}

// twist regenerates all 624 words of state.
func (m *mt19937) twist() {
	for i := range mtN {
		y := m.state[i]&mtUpperMask | m.state[(i+1)%mtN]&mtLowerMask
		v := m.state[(i+mtM)%mtN] ^ y>>1
		if y&1 != 0 {
			v ^= mtMatrixA
		}
		m.state[i] = v
	}
	m.left = mtN
}

// next returns the next tempered 32-bit output.
func (m *mt19937) next() uint32 {
	if m.left == 0 {
		m.twist()
	}
	y := m.state[mtN-m.left]
	m.left--
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}
