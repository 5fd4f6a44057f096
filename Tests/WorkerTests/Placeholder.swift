import Testing
@Test func placeholder_WorkerTests() { #expect(Bool(true)) }
