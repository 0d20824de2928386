package train

import "math/rand/v2"

// PoSEPositions returns position ids for a training sequence of length L
// that let a model trained at L see the relative distances of a target
// length T > L (positional skip-wise training, Zhu et al. 2023, with two
// chunks as in its main experiments): the sequence is cut at a uniformly
// drawn point c in [1, L-1], the first chunk keeps positions 0..c-1 and the
// second is shifted by a skip u drawn uniformly from [0, T-L], so its
// positions are c+u..L-1+u. Positions increase strictly and stay below T.
// With T <= L it returns 0..L-1.
func PoSEPositions(L, T int, rng *rand.Rand) []int {
	pos := make([]int, L)
	for i := range pos {
		pos[i] = i
	}
	if T <= L || L < 2 {
		return pos
	}
	c := 1 + rng.IntN(L-1)
	u := rng.IntN(T - L + 1)
	for i := c; i < L; i++ {
		pos[i] += u
	}
	return pos
}
