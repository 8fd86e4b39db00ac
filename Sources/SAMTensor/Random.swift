// SplitMix64 (Steele, Lea & Flood 2014): the toolkit's one seeded generator — random weights, the evaluation
// protocols' draws, overlay colours — easy to reproduce in Python.

public struct SplitMix64: Sendable {
    public var state: UInt64

    /// Starts from `state = seed`; the first output is the mix of `seed + 0x9E3779B97F4A7C15`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits (numpy's `random()` construction).
    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in [0, 1) from the top 24 bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
