import Foundation
@testable import TaskProtocol
import Testing

/// The envelope's base64 against Foundation's, the reference every Celery client decodes with.
struct Base64Tests {
    @Test func everyLengthAndPadding_matchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...96 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var out = Array("prefix".utf8)
            Base64.encode(bytes, to: &out)
            #expect(out == Array("prefix".utf8) + Array(Data(bytes).base64EncodedString().utf8), "length \(length)")
        }
    }
}
