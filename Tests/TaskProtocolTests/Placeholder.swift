import Testing
@Test func placeholder_TaskProtocolTests() { #expect(Bool(true)) }
