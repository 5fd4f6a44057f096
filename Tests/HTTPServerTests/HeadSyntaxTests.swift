@testable import HTTPServer
import Testing

@Suite struct HeadSyntaxTests {
    @Test func wordAtATimeValueCheck_findsTheSameByte_asTheByteByByteRule() {
        let alphabet: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0x80, 0x9F, 0xFF]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &generator)
            // Mostly plain bytes, so refused ones land anywhere in long clean runs.
            let bytes = (0..<count).map { _ in Int.random(in: 0..<8, using: &generator) == 0 ? alphabet.randomElement()! : 0x61 }
            let start = count == 0 ? 0 : Int.random(in: 0...count, using: &generator)
            let expected = (start..<count).first { !HeadSyntax.isFieldValueByte(bytes[$0]) }
            bytes.withUnsafeBufferPointer { line in
                #expect(HeadSyntax.firstNonFieldValueByte(line, from: start, to: count) == expected, "\(bytes) from \(start)")
            }
        }
    }

    @Test func tokenBytes_areExactlyTheTcharsOfRFC9110() {
        let tchars = Set("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for byte in UInt8.min...UInt8.max { #expect(HeadSyntax.isTokenByte(byte) == tchars.contains(byte), "byte \(byte)") }
    }
}
