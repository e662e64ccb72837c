import Foundation
import Testing

@testable import Model

/// `run --network` (short, long and container: forms), --expose and -P, as Docker's CLI
/// and daemon read them.
@Suite struct NetworkAttachmentRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func shortAndLongForms() throws {
        #expect(try NetworkAttachmentRequest.parse("app") == NetworkAttachmentRequest(network: "app"))
        #expect(try NetworkAttachmentRequest.parse("container:web").joinedContainer == "web")
        let long = try NetworkAttachmentRequest.parse(
            "name=app,alias=a1,ALIAS=a2,ip=10.9.0.5,mac-address=92:d0:c6:0a:29:33,\"driver-opt=k=v,w\"")
        #expect(long.network == "app" && long.aliases == ["a1", "a2"] && long.ip == "10.9.0.5")
        #expect(long.macAddress == "92:d0:c6:0a:29:33" && long.driverOptions == ["k": "v,w"])
    }

    @Test(arguments: [
        ("name=app,foo=bar", "invalid field key foo"),
        ("name=app,alias", "invalid field 'alias' must be a key=value pair"),
        ("alias=a", "network name must be set (name=NETWORK)"),
        ("name=app,driver-opt=x", "invalid key value pair format in driver options"),
        ("name=\"app", "invalid CSV: unbalanced or stray '\"'"),
        ("name=a\"pp", "invalid CSV: unbalanced or stray '\"'"),
    ])
    func badLongForms(value: String, message: String) {
        #expect(throws: ModelError.invalidFlag("--network", value, message)) {
            try NetworkAttachmentRequest.parse(value)
        }
    }

    /// Any long form built from fields (commas and quotes in values quoted as CSV) reads back
    /// as the fields it was built from.
    @Test func longFormsReadBackAsWritten() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019-_.:,\"= ")
        func word() -> String {
            String(
                (0..<Int.random(in: 1...8, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        func quoted(_ field: String) -> String {
            field.contains(where: { ",\"".contains($0) })
                ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }
        for _ in 0..<500 {
            var expected = NetworkAttachmentRequest(network: "n" + word())
            var fields = ["name=" + expected.network]
            for _ in 0..<Int.random(in: 0...3, using: &generator) {
                let alias = word()
                expected.aliases.append(alias)
                fields.append("alias=" + alias)
            }
            if Bool.random(using: &generator) {
                expected.ip = word()
                fields.append("ip=" + expected.ip!)
            }
            if Bool.random(using: &generator) {
                let key = "k" + word().filter { $0 != "=" }.lowercased()
                let value = word()
                expected.driverOptions[key] = value
                fields.append("driver-opt=\(key)=\(value)")
            }
            fields.shuffle(using: &generator)
            expected.aliases = fields.filter { $0.hasPrefix("alias=") }.map { String($0.dropFirst(6)) }
            let line = fields.map(quoted).joined(separator: ",")
            #expect(try NetworkAttachmentRequest.parse(line) == expected, "\(line)")
        }
    }

    @Test func singleNetworkFlagsGoToTheFirst() throws {
        var request = ContainerRequest(ip: "10.9.0.5", aliases: ["web"], macAddress: "92:d0:c6:0a:29:33")
        request.networks = [NetworkAttachmentRequest(network: "a"), NetworkAttachmentRequest(network: "b")]
        let attachments = try request.attachments()
        #expect(attachments.map(\.network) == ["a", "b"])
        #expect(attachments[0].ip == "10.9.0.5" && attachments[0].aliases == ["web"] && attachments[1].ip == nil)
        #expect(attachments[0].macAddress == "92:d0:c6:0a:29:33")
        #expect(try ContainerRequest().attachments() == [NetworkAttachmentRequest(network: "bridge")])
    }

    @Test func conflictingNetworkFlags() {
        func request(_ networks: [String], ip: String? = nil, aliases: [String]? = nil) throws -> ContainerRequest {
            var request = ContainerRequest(ip: ip, aliases: aliases)
            request.networks = try networks.map { try NetworkAttachmentRequest.parse($0) }
            return request
        }
        #expect(throws: ModelError.conflictingOptions("cannot specify both --ip and per-network IPv4 address")) {
            try request(["name=a,ip=10.0.0.2"], ip: "10.0.0.3").attachments()
        }
        #expect(throws: ModelError.conflictingOptions("cannot specify both --network-alias and per-network alias")) {
            try request(["name=a,alias=x"], aliases: ["y"]).attachments()
        }
        #expect(throws: ModelError.conflictingNetworks("network \"a\" is specified multiple times")) {
            try request(["a", "name=a"]).attachments()
        }
        #expect(
            throws: ModelError.conflictingOptions("cannot attach both user-defined and non-user-defined network-modes")
        ) { try request(["a", "bridge"]).attachments() }
        #expect(throws: ModelError.conflictingOptions("hostname and the network mode")) {
            var joined = try request(["container:web"])
            joined.hostname = "h"
            try joined.validate()
        }
        #expect(throws: ModelError.conflictingOptions("port publishing and the container type network mode")) {
            var joined = try request(["container:web"])
            joined.ports = ["80"]
            try joined.validate()
        }
    }

    @Test func severalNetworksGetOneInterfaceEach() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        for (name, subnet) in [("a", "10.8.0.0/24"), ("b", "10.9.0.0/24")] {
            registry.networks.append(
                try registry.planNetwork(
                    NetworkRequest(name: name, subnet: subnet), id: randomID(), now: now, hostPrefixes: []))
        }
        var request = ContainerRequest(name: "web", ports: ["5000:80"])
        request.networks = [
            try NetworkAttachmentRequest.parse("name=b,ip=10.9.0.7,alias=api"), NetworkAttachmentRequest(network: "a"),
        ]
        let (container, endpoints) = try registry.planContainer(request, id: randomID(), now: now)
        #expect(container.networkMode == "b" && container.ports.count == 1)
        #expect(endpoints.map(\.containerInterface) == ["eth0", "eth1"])
        #expect(endpoints.map(\.order) == [0, 1])
        #expect(endpoints.map { $0.ip?.description } == ["10.9.0.7", "10.8.0.2"])
        #expect(endpoints[0].aliases == ["api"] && endpoints[1].aliases == nil)
        // The same network by name and by ID is one network given twice.
        let b = try registry.network("b")
        request.networks = [NetworkAttachmentRequest(network: "b"), NetworkAttachmentRequest(network: b.id)]
        request.name = "other"
        #expect(throws: ModelError.conflictingNetworks("network \"\(b.id)\" is specified multiple times")) {
            try registry.planContainer(request, id: randomID(), now: now)
        }
    }

    @Test func joiningContainerTakesTheOthersHostname() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        let (web, endpoints) = try registry.planContainer(
            ContainerRequest(name: "web", hostname: "webhost"), id: randomID(), now: now)
        registry.containers.append(web)
        registry.endpoints += endpoints
        var request = ContainerRequest(name: "side")
        request.networks = [NetworkAttachmentRequest(network: "container:web")]
        let (side, own) = try registry.planContainer(request, id: randomID(), now: now)
        #expect(own.isEmpty && side.hostname == "webhost" && side.joinedContainerID == web.id)
        #expect(side.networkMode == "container:" + web.id)
        request.networks = [NetworkAttachmentRequest(network: "container:nope")]
        #expect(throws: ModelError.containerNotFound("nope")) {
            try registry.planContainer(request, id: randomID(), now: now)
        }
    }

    @Test func exposeAndPublishAll() throws {
        #expect(try ExposedPort.parse("7000-7002/udp").map(\.description) == ["7000/udp", "7001/udp", "7002/udp"])
        #expect(try ExposedPort.parse("80").map(\.description) == ["80/tcp"])
        for bad in ["foo", "0", "80/sctp", "9-8", "70000", ""] {
            #expect(throws: ModelError.self) { try ExposedPort.parse(bad) }
        }
        let registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        var request = ContainerRequest(name: "web", ports: ["5000:80"])
        request.expose = ["80", "443", "53/udp"]
        request.publishAll = true
        let (container, _) = try registry.planContainer(request, id: randomID(), now: now)
        #expect(container.exposedPorts?.map(\.description) == ["53/udp", "80/tcp", "443/tcp"])
        let published = Dictionary(
            uniqueKeysWithValues: container.ports.map { ("\($0.containerPort)/\($0.proto)", $0) })
        #expect(published.count == 3 && published["80/tcp"]?.hostPort == 5000)
        #expect(published["443/tcp"].map { ephemeralPorts.contains($0.hostPort) } == true)
        #expect(published["53/udp"].map { ephemeralPorts.contains($0.hostPort) } == true)
        _ = registry
    }
}
