package pipeline

// Dropout masks are not stored: the keep/drop decision for element idx of
// dropout site `site` in the step keyed by `key` is a pure function
// (a counter-based hash), so the backward pass regenerates exactly the mask
// the forward pass used, and a CUDA kernel can produce the same mask.

const golden = 0x9e3779b97f4a7c15

// goldenInverse is golden's inverse modulo 2^64 (golden is odd).
const goldenInverse = 0xf1de83e19937733d

// mix64 is the splitmix64 finaliser, a bijective 64-bit mixer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// DropThreshold converts a dropout probability p in [0, 1) to the integer
// threshold Keep compares against.
func DropThreshold(p float64) uint64 {
	if p <= 0 {
		return 0
	}
	return uint64(p * (1 << 53))
}

// Keep reports whether element idx survives dropout: a 53-bit uniform
// integer derived from (key, site, idx) compared with the threshold.
func Keep(key, site, idx, threshold uint64) bool {
	if threshold == 0 {
		return true
	}
	h := mix64(key ^ mix64(site*golden+idx))
	return h>>11 >= threshold
}

// StreamKey derives the per-step dropout key from a run seed and a step
// counter.
func StreamKey(seed, step uint64) uint64 {
	return mix64(mix64(seed+golden) ^ (step * 0xd1b54a32d192ed03))
}

// ShiftSite returns the site whose masks, for element indices counted from
// 0, are those of site for the indices from offset on: Keep(key,
// ShiftSite(site, offset), i, t) == Keep(key, site, offset+i, t) for every
// key, i and t. The hash reads site·golden + idx modulo 2^64, and golden is
// odd, so an offset of the index is one of the site. A data-parallel rank
// that runs rows [r0, r1) of a global batch draws, with its sites shifted
// by r0 times the elements per row, the dropout masks one process draws
// for those rows.
func ShiftSite(site, offset uint64) uint64 { return site + offset*goldenInverse }
