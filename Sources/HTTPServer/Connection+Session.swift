/// Handing the connection to another protocol: by its preface (prior knowledge) or by `Upgrade`.
extension Connection {
    /// Keeps the first bytes while they still match the factory's preface. Returns true when the bytes were
    /// taken (kept, or handed to a new session); false when the connection speaks HTTP/1.1 and `bytes`
    /// are to be parsed (any kept bytes are fed to the parser here first).
    func probeForPreface(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard var kept = probe, let factory = loop.core.sessions else {
            probe = nil
            return false
        }
        kept.append(contentsOf: bytes)
        let preface = factory.preface
        let compared = min(kept.count, preface.count)
        if kept[0..<compared].elementsEqual(preface[0..<compared]) {
            if kept.count < preface.count {
                probe = kept
                return true
            }
            probe = nil
            install(factory.makeSession(transport: ConnectionTransport(connection: self)), initial: kept)
            return true
        }
        probe = nil
        kept.removeLast(bytes.count)
        if !kept.isEmpty {
            requestStart = loop.now
            parser.feed(kept)
        }
        return false
    }

    /// Answers `Upgrade: <token>` with 101 and hands the connection over, the request becoming the new
    /// protocol's first stream. Only for a request with nothing else in flight; otherwise it is served as
    /// HTTP/1.1 (a server may ignore an upgrade).
    func upgrade(_ request: HTTPRequest) -> Bool {
        guard let factory = loop.core.sessions, let token = factory.upgradeToken, session == nil,
              pending.isEmpty, !responding, request.version == .http1_1,
              let offered = request.headers["upgrade"],
              offered.split(separator: ",").contains(where: {
                  $0.filter { $0 != " " && $0 != "\t" }.lowercased() == token
              })
        else { return false }
        let transport = ConnectionTransport(connection: self)
        guard let upgraded = factory.makeUpgradedSession(transport: transport, request: request) else { return false }
        out.append(contentsOf: Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: \(token)\r\n\r\n".utf8))
        install(upgraded, initial: parser.takeBuffered())
        return true
    }

    /// From now on every byte read goes to `session`.
    func install(_ session: any ProtocolSession, initial: [UInt8]) {
        probe = nil
        stopParsing = true
        self.session = session
        idleSince = loop.now
        initial.withUnsafeBytes { session.start(initial: $0) }
        if phase == .open { updateDeadline() }
    }
}
