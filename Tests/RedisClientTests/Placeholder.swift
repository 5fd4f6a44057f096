import Testing
@Test func placeholder_RedisClientTests() { #expect(Bool(true)) }
