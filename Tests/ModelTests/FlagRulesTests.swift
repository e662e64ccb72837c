import Foundation
import Model
import Testing

/// --cap-add, --cap-drop and --privileged, as moby's TweakCapabilities reads them.
@Suite struct ConfinementRules {
    static let dockerDefault: UInt64 = 0xa804_25fb  // CapEff of a default Docker container

    @Test func dockersDefaultSet() throws {
        #expect(Confinement().capabilities == Self.dockerDefault)
    }

    @Test func addAndDrop() throws {
        let netAdmin: UInt64 = 1 << 12
        let chown: UInt64 = 1 << 0
        #expect(
            try Confinement(capAdd: ["net_admin"], capDrop: [], privileged: false).capabilities == Self.dockerDefault
                | netAdmin)
        #expect(
            try Confinement(capAdd: [], capDrop: ["CAP_CHOWN"], privileged: false).capabilities == Self.dockerDefault
                & ~chown)
        #expect(
            try Confinement(capAdd: ["NET_BIND_SERVICE"], capDrop: ["ALL"], privileged: false).capabilities == 1 << 10)
        #expect(
            try Confinement(capAdd: ["CHOWN"], capDrop: ["CHOWN"], privileged: false).capabilities
                == Self.dockerDefault, "adds win")
        let all: UInt64 = (1 << 41) - 1
        #expect(try Confinement(capAdd: ["ALL"], capDrop: ["NET_RAW"], privileged: false).capabilities == all)
        #expect(try Confinement(capAdd: [], capDrop: ["ALL"], privileged: true).capabilities == all)
    }

    @Test func unknownCapabilitiesAreRefused() throws {
        #expect(throws: ModelError.invalidFlag("--cap-add", "foo", "unknown capability: \"CAP_FOO\"")) {
            try Confinement(capAdd: ["foo"], capDrop: [], privileged: false)
        }
        #expect(throws: ModelError.self) { try Confinement(capAdd: [], capDrop: ["CAP_NOPE"], privileged: false) }
        #expect(try ContainerRequest().confinement() == nil)
    }
}

@Suite struct PortSummaryRules {
    func mapping(
        _ host: UInt16, _ container: UInt16, _ proto: PortProtocol = .tcp, ip: IPv4Address = .any
    ) -> PortMapping {
        PortMapping(proto: proto, containerPort: container, hostIP: ip, hostPort: host)
    }

    @Test func consecutiveBindingsMergeAsDockersDo() {
        #expect(PortMapping.summary([mapping(6001, 7001), mapping(6000, 7000)]) == "0.0.0.0:6000-6001->7000-7001/tcp")
        #expect(
            PortMapping.summary([mapping(6000, 7000), mapping(6001, 7005)])
                == "0.0.0.0:6000->7000/tcp, 0.0.0.0:6001->7005/tcp")
        #expect(
            PortMapping.summary([mapping(53, 53, .udp), mapping(54, 54), mapping(53, 53)])
                == "0.0.0.0:53-54->53-54/tcp, 0.0.0.0:53->53/udp")
        #expect(PortMapping.summary([]) == "")
    }
}

@Suite struct NetworkFilterRules {
    @Test func keysAndValuesAsDockerReadsThem() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var registry = Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: []))
        var request = NetworkRequest(name: "front-end", subnet: "10.70.0.0/24")
        request.labels = ["tier=web", "owner"]
        let front = try registry.planNetwork(request, id: "abc" + randomID().dropFirst(3), now: now, hostPrefixes: [])
        registry.networks.append(front)
        func names(_ filters: [String]) throws -> [String] {
            let filter = try NetworkFilter(filters)
            return registry.networks.filter(filter.matches).map(\.name).sorted()
        }
        #expect(try names(["type=custom"]) == ["front-end"])
        #expect(try names(["type=builtin"]) == ["bridge", "host", "none"])
        #expect(try names(["driver=null"]) == ["none"])
        #expect(try names(["label=tier=web"]) == ["front-end"])
        #expect(try names(["label=owner"]) == ["front-end"])
        #expect(try names(["label=tier=db"]) == [])
        #expect(try names(["name=end", "name=hos"]) == ["front-end", "host"], "one key: any value")
        #expect(try names(["name=end", "driver=host"]) == [], "two keys: both")
        #expect(try names(["id=abc"]) == ["front-end"])
        #expect(throws: ModelError.self) { try NetworkFilter(["colour=red"]) }
        #expect(throws: ModelError.self) { try NetworkFilter(["type=other"]) }
        #expect(throws: ModelError.self) { try NetworkFilter(["name"]) }
    }
}
