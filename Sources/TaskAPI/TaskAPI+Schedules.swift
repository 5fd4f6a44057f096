import Beat
import Foundation
import HTTPServer
import TaskProtocol
import TaskQueue

/// Periodic schedules over HTTP: stored in Redis, where every running beat picks them up on its next
/// pass (at most a second later), without a restart.
extension TaskAPI {
    /// The fields `PUT /schedules/{name}` accepts; anything else is a 422 naming the field.
    static let scheduleFields: Set<String> = ["task", "args", "kwargs", "queue", "every", "cron", "timezone"]

    /// `GET /schedules`: every stored schedule, by name.
    func listSchedules(_ request: HTTPRequest) async throws -> HTTPResponse {
        let items: [JSONValue] = try await broker.schedules().sorted { $0.key < $1.key }.compactMap { name, text in
            (try? PeriodicSchedule(name: name, json: JSONValue.parse(text))).map(Self.scheduleJSON)
        }
        return .json(bytes: JSONValue.object(["items": .array(items), "count": .int(Int64(items.count))]).serializedBytes())
    }

    /// `GET /schedules/{name}`: one schedule, 404 when there is none by that name.
    func getSchedule(_ request: HTTPRequest) async throws -> HTTPResponse {
        let name = try Self.scheduleName(request)
        guard let text = try await broker.schedules()[name],
              let schedule = try? PeriodicSchedule(name: name, json: JSONValue.parse(text)) else {
            throw HTTPError(status: 404, title: "Not Found", detail: "no schedule named '\(name)'", field: "name")
        }
        return .json(bytes: Self.scheduleJSON(schedule).serializedBytes())
    }

    /// `PUT /schedules/{name}`: creates or replaces a schedule (`every` seconds or `cron` + `timezone`).
    func putSchedule(_ request: HTTPRequest) async throws -> HTTPResponse {
        let name = try Self.scheduleName(request)
        let body = try Submission.jsonObject(request)
        for key in body.keys where !Self.scheduleFields.contains(key) {
            throw key.isEmpty ? HTTPError(status: 422, detail: "the body has a field with an empty name", field: "body")
                              : HTTPError(status: 422, detail: "unknown field '\(key)'", field: key)
        }
        let schedule: PeriodicSchedule
        do { schedule = try PeriodicSchedule(name: name, json: .object(body)) } catch {
            throw HTTPError(status: 422, detail: "'\(error.field)' \(error.reason)", field: error.field)
        }
        try await broker.saveSchedule(name, definition: schedule.json.serialized())
        return .json(bytes: Self.scheduleJSON(schedule).serializedBytes())
    }

    /// `DELETE /schedules/{name}`: no more ticks; 404 when there was none by that name.
    func deleteSchedule(_ request: HTTPRequest) async throws -> HTTPResponse {
        let name = try Self.scheduleName(request)
        guard try await broker.deleteSchedule(name) else {
            throw HTTPError(status: 404, title: "Not Found", detail: "no schedule named '\(name)'", field: "name")
        }
        return HTTPResponse(status: 204)
    }

    static func scheduleName(_ request: HTTPRequest) throws -> String {
        let name = request.pathParameters["name"] ?? ""
        guard (1...200).contains(name.utf8.count), name.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "/") }) else {
            throw HTTPError(status: 422, detail: "a schedule name is 1 to 200 printable ASCII characters, no spaces or slashes", field: "name")
        }
        return name
    }

    static func scheduleJSON(_ schedule: PeriodicSchedule) -> JSONValue {
        guard case .object(var object) = schedule.json else { return .null }
        object["name"] = .string(schedule.name)
        return .object(object)
    }
}
