// SHA-256 (FIPS 180-4) for comparing decoded pixels with digests the fixture scripts stored from Pillow
// (CryptoKit is not available on Linux); tested against the standard vectors in SAMIOTests/ImageSHA256Tests.

import Foundation

/// The SHA-256 digest of `bytes` as 64 lowercase hex characters.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var msg = bytes
    let bitLength = UInt64(bytes.count) * 8
    msg.append(0x80)
    while msg.count % 64 != 56 { msg.append(0) }
    for i in (0..<8).reversed() { msg.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
    @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    // Raw pointers throughout: this runs over megabytes of pixels in debug builds.
    var w = [UInt32](repeating: 0, count: 64)
    msg.withUnsafeBufferPointer { mb in
        k.withUnsafeBufferPointer { kb in
            w.withUnsafeMutableBufferPointer { wb in
                h.withUnsafeMutableBufferPointer { hb in
                    let m = mb.baseAddress!, kp = kb.baseAddress!, wp = wb.baseAddress!, hp = hb.baseAddress!
                    var chunk = 0
                    while chunk < mb.count {
                        var t = 0
                        while t < 16 {
                            let o = m + chunk + 4 * t
                            wp[t] = UInt32(o[0]) << 24 | UInt32(o[1]) << 16 | UInt32(o[2]) << 8 | UInt32(o[3])
                            t += 1
                        }
                        while t < 64 {
                            let x = wp[t - 15], y = wp[t - 2]
                            let s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)
                            let s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >> 10)
                            wp[t] = wp[t - 16] &+ s0 &+ wp[t - 7] &+ s1
                            t += 1
                        }
                        var a = hp[0], b = hp[1], c = hp[2], d = hp[3], e = hp[4], f = hp[5], g = hp[6], hh = hp[7]
                        t = 0
                        while t < 64 {
                            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                            let ch = (e & f) ^ (~e & g)
                            let t1 = hh &+ s1 &+ ch &+ kp[t] &+ wp[t]
                            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                            let maj = (a & b) ^ (a & c) ^ (b & c)
                            let t2 = s0 &+ maj
                            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                            t += 1
                        }
                        hp[0] = hp[0] &+ a; hp[1] = hp[1] &+ b; hp[2] = hp[2] &+ c; hp[3] = hp[3] &+ d
                        hp[4] = hp[4] &+ e; hp[5] = hp[5] &+ f; hp[6] = hp[6] &+ g; hp[7] = hp[7] &+ hh
                        chunk += 64
                    }
                }
            }
        }
    }
    return h.map { String(format: "%08x", $0) }.joined()
}
