// swift-tools-version:6.0
import PackageDescription

/// One list of language settings for every Swift target (house style, guideline 15).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Celeriac",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Celeriac", targets: ["Celeriac"]),
        .executable(name: "celeriac", targets: ["celeriac"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis",
                       providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CSockets", path: "Sources/CSockets"),
        .target(name: "Sockets", dependencies: ["CSockets"], swiftSettings: swiftSettings),
        .target(name: "RedisClient",
                dependencies: ["CHiredis", "Sockets",
                               .product(name: "DequeModule", package: "swift-collections")],
                swiftSettings: swiftSettings),
        .target(name: "HTTPServer",
                dependencies: ["Sockets", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .executableTarget(name: "http-hello", dependencies: ["HTTPServer"], path: "Sources/HTTPHello",
                          swiftSettings: swiftSettings),
        .executableTarget(name: "HTTPParserFuzz", dependencies: ["HTTPServer"], swiftSettings: swiftSettings),
        .target(name: "TaskProtocol", swiftSettings: swiftSettings),
        .target(name: "TaskQueue",
                dependencies: ["RedisClient", "TaskProtocol", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "Worker",
                dependencies: ["TaskQueue", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "TaskAPI",
                dependencies: ["HTTPServer", "TaskQueue", .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "Celeriac",
                dependencies: ["Worker", "TaskAPI", "TaskQueue", "TaskProtocol", "RedisClient",
                               .product(name: "ArgumentParser", package: "swift-argument-parser"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: swiftSettings),
        .target(name: "ExampleTasks", dependencies: ["Celeriac", "Sockets"], swiftSettings: swiftSettings),
        .executableTarget(name: "celeriac", dependencies: ["Celeriac", "ExampleTasks"],
                          swiftSettings: swiftSettings),
        .target(name: "TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "TaskProtocolTests", dependencies: ["TaskProtocol", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Sockets", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "WorkerTests",
                    dependencies: ["Celeriac", "ExampleTasks", "TaskQueue", "Worker", "Sockets", "TestSupport"],
                    swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
