// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "bridgeport",
    products: [
        .executable(name: "bridgeport", targets: ["bridgeport"]),
        .executable(name: "bridgeport-cni", targets: ["bridgeport-cni"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        // No traits: the default ones (FullFoundation, ConfigurationSupport) link all of Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // 2.5.0: the first to require Hummingbird without its default traits (which would bring
        // all of Foundation back: SwiftPM unites the traits every dependent asks for).
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (installed by `make deps`).
        .systemLibrary(name: "CLibBPF", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
        .systemLibrary(name: "CLibNL", pkgConfig: "libnl-route-3.0", providers: [.apt(["libnl-route-3-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),

        // C shims: libbpf + bpf/bridgeport.h (the map layouts), and netlink/namespaces/process spawning.
        .target(name: "CBPF", dependencies: ["CLibBPF"]),
        .target(name: "CLinux", dependencies: ["CLibNL"]),

        // Pure model: addresses, CIDRs, -p specs, IPAM, networks and containers. No I/O.
        .target(name: "Model"),
        // The DNS wire format: queries parsed, answers built, hostile packets refused. No I/O.
        .target(name: "DNS"),
        // Durable state in SQLite.
        .target(name: "Store", dependencies: ["Model", "CSQLite"]),
        // Links, addresses, routes and namespaces through rtnetlink; container processes.
        .target(name: "Links", dependencies: ["CLinux"]),
        // libbpf in Swift: load objects, attach tcx links, pin, read per-CPU maps.
        .target(name: "BPF", dependencies: ["CBPF", "Model"]),
        // The kernel side of the agent, behind `protocol Datapath`: devices through rtnetlink,
        // the BPF programs and their maps, published host ports. Only it and BPF import CBPF.
        .target(
            name: "Datapath",
            dependencies: [
                "Model", "Links", "BPF", "CBPF", "CLinux",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // bpf/*.bpf.c compiled with the toolchain's clang on every build that needs it, as the
        // resources of a target no binary links: SwiftPM's accessor of a target's resources
        // imports all of Foundation, which the binaries do without (issue 20).
        .target(name: "BPFPrograms", plugins: ["CompileBPF"]),
        .plugin(name: "CompileBPF", capability: .buildTool()),
        // The cluster store of overlay networks: an etcd v3 client over its JSON gateway.
        .target(
            name: "Cluster",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The HTTP+JSON API shared by the agent and the CLI, and the CLI's client over the unix socket.
        .target(name: "API", dependencies: ["Model"]),
        // The agent.
        .target(
            name: "Daemon",
            dependencies: [
                "Model", "Store", "Links", "BPF", "Datapath", "API", "CDeflate", "CYAML", "Cluster", "DNS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .executableTarget(
            name: "bridgeport",
            dependencies: [
                "API", "Daemon", "Model", "Links", "BPF",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // The CNI plugin: runtimes (containerd, Podman, ...) hand it their containers' veths.
        .executableTarget(name: "bridgeport-cni", dependencies: ["API", "Model"]),

        // `make bench`: scrape cost at 1,000 and 10,000 endpoints.
        .executableTarget(
            name: "exporter-bench", dependencies: ["Daemon", "Datapath", "BPF", "CBPF", "Links", "Model"]),
        // `make bench`: fills a running agent's flow table (connections/s at 1M flows).
        .executableTarget(name: "flow-bench", dependencies: ["BPF", "CBPF"]),

        .testTarget(
            name: "ModelTests",
            dependencies: ["Model", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "Model"]),
        .testTarget(
            name: "DNSTests",
            dependencies: ["DNS", "Model", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Daemon", "Datapath", "Model", "CBPF", "BPF", "Links", "API", "CDeflate",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]),
        .testTarget(name: "APITests", dependencies: ["API", "Model"]),
        .testTarget(name: "CNITests", dependencies: ["bridgeport-cni", "API"]),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "bridgeport", "API", "Model", .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(name: "BPFTests", dependencies: ["BPF", "Model"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"]),
    ],
    swiftLanguageModes: [.v6]
)
