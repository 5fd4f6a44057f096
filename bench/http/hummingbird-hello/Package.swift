// swift-tools-version:6.0
// The benchmark anchor: Hummingbird 2's hello-world, built beside Celeriac's (bench/http/run.sh).
// A separate package on purpose: never a dependency of the main package.
import PackageDescription

let package = Package(
    name: "hummingbird-hello",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        .executableTarget(name: "HummingbirdHello", dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
    ]
)
