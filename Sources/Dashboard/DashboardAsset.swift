import HTTPServer

/// One file of the page, compiled in: its bytes, its type and an ETag of its content, so a browser
/// revalidates (`Cache-Control: no-cache`) and gets a bodiless 304 while the binary is the same.
struct DashboardAsset: Sendable {
    let bytes: [UInt8]
    let contentType: String
    let etag: String

    init(_ bytes: [UInt8], _ contentType: String) {
        self.bytes = bytes
        self.contentType = contentType
        // FNV-1a over the content: a version tag, not a secret.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        self.etag = "\"" + String(hash, radix: 16) + "-" + String(bytes.count, radix: 16) + "\""
    }

    /// The asset, or a 304 when the request's `If-None-Match` names its ETag.
    func response(to request: HTTPRequest) -> HTTPResponse {
        var headers = HTTPHeaders(Dashboard.securityHeaders)
        headers["ETag"] = etag
        headers["Cache-Control"] = "no-cache"
        if let tags = request.headers["if-none-match"],
           tags.split(separator: ",").contains(where: { $0.trimmingSpaces == etag || $0.trimmingSpaces == "W/" + etag })
        {
            return HTTPResponse(status: 304, headers: headers)
        }
        headers["Content-Type"] = contentType
        return HTTPResponse(status: 200, headers: headers, body: bytes)
    }

    static let html = "text/html; charset=utf-8"
    static let javascript = "text/javascript; charset=utf-8"
    static let css = "text/css; charset=utf-8"

    /// The page itself (served at `/`).
    static let index = DashboardAsset(PackageResources.index_html, html)

    /// Everything under `/assets/`, by file name; any other name is a 404.
    static let named: [String: DashboardAsset] = [
        "app.css": DashboardAsset(PackageResources.app_css, css),
        "app.js": DashboardAsset(PackageResources.app_js, javascript),
        "api.js": DashboardAsset(PackageResources.api_js, javascript),
        "dom.js": DashboardAsset(PackageResources.dom_js, javascript),
        "events.js": DashboardAsset(PackageResources.events_js, javascript),
        "overview.js": DashboardAsset(PackageResources.overview_js, javascript),
        "chart.js": DashboardAsset(PackageResources.chart_js, javascript),
        "tasks.js": DashboardAsset(PackageResources.tasks_js, javascript),
        "task.js": DashboardAsset(PackageResources.task_js, javascript),
        "group.js": DashboardAsset(PackageResources.group_js, javascript),
        "deadletters.js": DashboardAsset(PackageResources.deadletters_js, javascript),
        "login.js": DashboardAsset(PackageResources.login_js, javascript),
    ]
}

extension Substring {
    var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
