import API
import Foundation
import Logging
import Model
import Testing

@testable import Daemon

/// The daemon's configuration file as dockerd reads its daemon.json, and what its settings
/// do to an agent: the default bridge, its containers' route and resolvers.
@Suite(.serialized) struct DaemonSettingsTests {
    /// A directory of the test's own, removed by `body`'s end.
    func inDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "bridgeport-settings-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    func load(_ path: String, explicit: Bool, flags: DaemonFile = DaemonFile()) -> Result<NetworkDefaults, AgentError> {
        Result { () throws(AgentError) in
            try AgentConfiguration.networkDefaults(file: path, explicit: explicit, flags: flags)
        }
    }

    func message(_ result: Result<NetworkDefaults, AgentError>) -> String {
        if case .failure(let error) = result { return error.description }
        return "accepted"
    }

    @Test func theFileIsReadAsDockerdReadsItsOwn() async throws {
        try await inDirectory { directory in
            let path = directory + "/daemon.json"
            #expect(try load(path, explicit: false).get() == NetworkDefaults())
            #expect(
                message(load(path, explicit: true))
                    == "unable to configure the Bridgeport daemon with file \(path): open \(path): no such file or directory"
            )

            try #"{"bip": "10.1.0.1/24", "dns": ["198.18.0.53"]}"#.write(
                toFile: path, atomically: true, encoding: .utf8)
            var flags = DaemonFile()
            flags.mtu = 1400
            let defaults = try load(path, explicit: false, flags: flags).get()
            #expect(defaults.defaultBridge.bridgeSubnet?.description == "10.1.0.0/24")
            #expect(defaults.defaultBridge.mtu == 1400 && defaults.dns == [IPv4Address(198, 18, 0, 53)])

            flags.dns = ["1.1.1.1"]
            #expect(
                message(load(path, explicit: true, flags: flags))
                    == "unable to configure the Bridgeport daemon with file \(path): the following directives are "
                    + "specified both as a flag and in the configuration file: dns: (from flag: [1.1.1.1], from file: [198.18.0.53])"
            )
            for (text, reason) in [
                (
                    #"{"bip": "10.1.0.1/24", "foo": true}"#,
                    "the following directives don't match any configuration option: foo"
                ),
                ("{\"bip\": ", "invalid JSON: Unexpected end of file during JSON parse."),
                (
                    #"{"bip": "10.1.0.1/24", "fixed-cidr": "10.2.0.0/24"}"#,
                    "fixed-cidr: container subnet 10.2.0.0/24 must be"
                ),
            ] {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                #expect(
                    message(load(path, explicit: false)).hasPrefix(
                        "unable to configure the Bridgeport daemon with file \(path): \(reason)"))
            }
            // Values of the file and the flags that only disagree together.
            try #"{"bip": "10.1.0.1/24"}"#.write(toFile: path, atomically: true, encoding: .utf8)
            flags = DaemonFile()
            flags.fixedCIDR = "10.3.0.0/24"
            #expect(
                message(load(path, explicit: true, flags: flags)).hasPrefix("invalid daemon configuration: fixed-cidr:")
            )
        }
    }

    static func agent(_ directory: String, _ settings: String) throws -> (Agent, FakeDatapath) {
        var configuration = AgentConfiguration()
        configuration.stateDirectory = directory + "/state"
        configuration.bpfRoot = directory + "/bpf"
        configuration.socketPath = directory + "/agent.sock"
        configuration.resolvConf = directory + "/resolv.conf"
        configuration.networkDefaults = try DaemonFile.decode(Data(settings.utf8)).validated()
        let datapath = FakeDatapath()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return (try Agent(configuration: configuration, datapath: datapath, logger: logger), datapath)
    }

    @Test func theDefaultBridgeFollowsTheSettingsWhileNoContainerIsOnIt() async throws {
        try await inDirectory { directory in
            let (first, _) = try Self.agent(
                directory, #"{"bip": "10.1.0.1/24", "default-gateway": "10.1.0.254", "dns": ["198.18.0.53"]}"#)
            _ = try await first.reconcile()
            var bridge = try #require(await first.registry.defaultNetwork)
            #expect(bridge.subnet?.description == "10.1.0.0/24" && bridge.routeGateway?.description == "10.1.0.254")

            // Restarted with other settings and nothing on it: the bridge is made anew.
            let (second, datapath) = try Self.agent(directory, #"{"bip": "10.2.0.1/24", "mtu": 1400}"#)
            let repairs = try await second.reconcile()
            #expect(
                repairs.contains {
                    $0.hasPrefix("the default bridge takes the daemon's settings: bip 10.1.0.1/24 -> 10.2.0.1/24")
                })
            bridge = try #require(await second.registry.defaultNetwork)
            #expect(bridge.subnet?.description == "10.2.0.0/24" && bridge.mtu == 1400 && bridge.auxAddresses == nil)
            #expect(try await second.store.load().defaultNetwork == bridge)
            #expect(datapath.kernel.networks.contains(bridge.id))

            // A container on it: its route goes via the default gateway, its resolver is the daemon's.
            let (third, routes) = try Self.agent(
                directory,
                #"{"bip": "10.2.0.1/24", "mtu": 1400, "default-gateway": "10.2.0.254", "dns": ["198.18.0.53"]}"#)
            _ = try await third.reconcile()
            let view = try await third.run(ContainerRequest(name: "c", command: ["sleep", "infinity"]))
            var failure: (any Error)?
            do {
                let namespace = await third.configuration.namespacePath(view.container.id)
                #expect(routes.kernel.routes[namespace]?.gateway.description == "10.2.0.254")
                let files = await third.runtime.files(view.container.id)
                let resolvConf = try String(contentsOfFile: files.resolvConf, encoding: .utf8)
                #expect(resolvConf.contains("nameserver 198.18.0.53"), "\(resolvConf)")

                // Other settings now are refused, and change nothing.
                let (fourth, _) = try Self.agent(directory, #"{"bip": "10.3.0.1/24"}"#)
                await #expect(
                    throws: ModelError.defaultBridgeInUse(
                        changes: [
                            "bip 10.2.0.1/24 -> 10.3.0.1/24", "default-gateway 10.2.0.254 -> none", "mtu 1400 -> none",
                        ],
                        users: ["c"])
                ) { _ = try await fourth.reconcile() }
                #expect(try await fourth.store.load().defaultNetwork?.subnet?.description == "10.2.0.0/24")
            } catch {
                failure = error
            }
            _ = try await third.remove("c", force: true)
            if let failure { throw failure }
        }
    }
}
