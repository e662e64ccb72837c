import Foundation
import Model
import Testing

/// macvlan and overlay planning: parents, VLANs, modes, VNIs and the cluster's pool.
@Suite struct DriverRules {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func fresh() throws -> Registry { Registry(networks: try Registry.predefinedNetworks(now: now, hostPrefixes: [])) }

    @Test func vlanParents() throws {
        #expect(try parseVLANParent("eth0") == nil)
        let parsed = try #require(try parseVLANParent("eth0.10"))
        #expect(parsed.base == "eth0" && parsed.vlan == 10)
        #expect(throws: ModelError.invalidOption("parent=eth0.0", "vlan id must be between 1-4094, received: 0")) {
            try parseVLANParent("eth0.0")
        }
        #expect(throws: ModelError.self) { try parseVLANParent("eth0.x") }
        #expect(throws: ModelError.self) { try parseVLANParent(".10") }
    }

    @Test func macvlanNetworks() throws {
        var registry = try fresh()
        let request = NetworkRequest(
            name: "lan", driver: "macvlan", subnet: "192.168.1.0/24", options: ["parent": "eth0.10"])
        let network = try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: [])
        #expect(network.parent == "eth0.10" && network.bridgeName == nil && network.macvlanMode == "bridge")
        registry.networks.append(network)
        var again = request
        again.name = "lan2"
        again.subnet = "192.168.2.0/24"
        #expect(throws: ModelError.parentInUse(parent: "eth0.10", network: "lan")) {
            try registry.planNetwork(again, id: randomID(), now: now, hostPrefixes: [])
        }
        let loud = NetworkRequest(name: "loud", driver: "macvlan", options: ["parent": "eth1", "macvlan_mode": "loud"])
        #expect(throws: ModelError.self) { try registry.planNetwork(loud, id: randomID(), now: now, hostPrefixes: []) }
        // No parent (or --internal): a dummy device of its own.
        let solo = try registry.planNetwork(
            NetworkRequest(name: "solo", driver: "macvlan"), id: "ab" + randomID().dropFirst(2), now: now,
            hostPrefixes: [])
        #expect(solo.parent == "dm-" + solo.id.prefix(12))
    }

    @Test func macvlanEndpointsHaveNoHostSide() throws {
        var registry = try fresh()
        let network = try registry.planNetwork(
            NetworkRequest(name: "lan", driver: "macvlan", subnet: "192.168.1.0/24", options: ["parent": "eth0"]),
            id: randomID(), now: now, hostPrefixes: [])
        registry.networks.append(network)
        var indexes: Set<Int> = []
        for name in ["a", "b"] {
            let (container, endpoint) = try registry.planContainer(
                ContainerRequest(name: name, network: "lan", ports: ["80"]), id: randomID(), now: now)
            let planned = try #require(endpoint.first)
            #expect(planned.hostInterface == nil && planned.interfaceLabel == "eth0")
            #expect(container.ports.isEmpty, "macvlan containers publish no ports")
            let index = try #require(planned.linkIndex)
            #expect(Endpoint.namespacedIndexes.contains(index) && !indexes.contains(index))
            indexes.insert(index)
            registry.containers.append(container)
            registry.endpoints.append(planned)
        }
    }

    @Test func overlayNetworks() throws {
        let registry = try fresh()
        let request = NetworkRequest(name: "ov", driver: "overlay")
        #expect(throws: ModelError.self) {
            try registry.planNetwork(request, id: randomID(), now: now, hostPrefixes: [])
        }
        let taken = [("other", try IPv4Network.parse("10.0.0.0/24"))]
        let network = try registry.planNetwork(
            request, id: randomID(), now: now, hostPrefixes: [], vni: 4097, otherSubnets: taken)
        #expect(network.subnet?.description == "10.0.1.0/24", "the cluster pool, past the other hosts' subnets")
        #expect(network.vni == 4097 && network.scope == "global" && network.vxlanName != nil)
    }
}

/// Other runtimes' interfaces (the CNI plugin): addresses and ports are checked.
@Suite struct AttachmentRules {
    func request(
        _ id: String, host: String, ports: [PortMapping], mac: String = "02:42:0a:de:00:02"
    ) -> AttachmentRequest {
        AttachmentRequest(
            containerID: id, interface: "eth0", network: "cninet", namespace: "/run/netns/\(id)", hostInterface: host,
            ip: "10.222.0.2", mac: mac, ports: ports)
    }

    @Test func portsAreTheHostsOnce() throws {
        var registry = Registry()
        let web = PortMapping(proto: .tcp, containerPort: 80, hostIP: .any, hostPort: 8080)
        let first = try registry.planAttachment(request("a", host: "veth1", ports: [web]))
        #expect(first.mac.description == "02:42:0a:de:00:02" && first.id == "a/eth0")
        registry.attachments.append(first)
        #expect(throws: ModelError.portAllocated("0.0.0.0:8080")) {
            try registry.planAttachment(request("b", host: "veth2", ports: [web]))
        }
        // The same container asking again (a repeated ADD) replaces its own ports.
        #expect(try registry.planAttachment(request("a", host: "veth1", ports: [web])).ports == [web])
        #expect(throws: ModelError.self) {
            try registry.planAttachment(request("c", host: "veth3", ports: [], mac: "02:42:zz:00:00:01"))
        }
        #expect(MACAddress("02:42:0a:de:00") == nil && MACAddress("02:42:0a:de:00:02:03") == nil)
    }
}
