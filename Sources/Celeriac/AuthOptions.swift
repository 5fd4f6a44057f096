import ArgumentParser
import Foundation
import HTTPServer
import Logging

/// `--auth-tokens-file`, shared by the API and the worker's metrics endpoint.
struct AuthOptions: ParsableArguments {
    @Option(help: "File of bearer tokens, one per line: <token> <scopes: submit,read,admin> <name>; re-read on SIGHUP. Without it the API is open (env CELERIAC_AUTH_TOKENS_FILE).")
    var authTokensFile: String?

    mutating func validate() throws {
        try Environment.fill(&authTokensFile, "CELERIAC_AUTH_TOKENS_FILE")
        if let authTokensFile { _ = try Self.load(authTokensFile) }
    }

    /// The tokens in `path`; errors name the file and line, never a token.
    static func load(_ path: String) throws -> BearerTokens {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ValidationError("--auth-tokens-file \(path): cannot read it (\(error.localizedDescription))")
        }
        do { return try BearerTokens(parsing: text) } catch {
            throw ValidationError("--auth-tokens-file \(path): \(error)")
        }
    }

    /// The authenticating middleware, or nil (and a notice, a warning off loopback) without a file.
    func middleware(host: String, what: String, logger: Logger) throws -> BearerAuth? {
        guard let authTokensFile else {
            let loopback = host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.")
            let text: Logger.Message = "\(what): no --auth-tokens-file: every route is open to anyone who reaches \(host)"
            if loopback { logger.notice(text) } else { logger.warning("\(text) (not a loopback address)") }
            return nil
        }
        let tokens = try Self.load(authTokensFile)
        logger.info("\(what): bearer tokens on (\(tokens.entries.count) from \(authTokensFile))")
        return BearerAuth(tokens: tokens, logger: logger)
    }

    /// Re-reads the tokens file into `auth` (SIGHUP); a bad file keeps the tokens in force.
    func reload(_ auth: BearerAuth, logger: Logger) {
        guard let authTokensFile else { return }
        do {
            let tokens = try Self.load(authTokensFile)
            auth.reload(tokens)
            logger.info("SIGHUP: reloaded \(tokens.entries.count) bearer token(s) from \(authTokensFile)")
        } catch {
            logger.error("SIGHUP: \(error); keeping the \(auth.tokenCount) token(s) in force")
        }
    }
}
