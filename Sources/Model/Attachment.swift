import FoundationEssentials

/// A container interface another runtime made (the reference CNI `bridge` plugin, say)
/// whose host-side veth Bridgeport equips: counters, anti-spoofing and published ports
/// in its maps. Bridgeport neither made nor removes the veth.
public struct Attachment: Codable, Sendable, Hashable, Identifiable {
    /// The runtime's container ID (CNI_CONTAINERID).
    public var containerID: String
    /// The interface inside the container (CNI_IFNAME).
    public var interface: String
    /// The runtime's network name (the CNI configuration's "name").
    public var network: String
    /// The container's network namespace (CNI_NETNS).
    public var namespace: String
    public var hostInterface: String
    public var ip: IPv4Address
    /// Its IPv6 address, on a Bridgeport network with IPv6 (Docker's driver).
    public var ip6: IPv6Address? = nil
    public var mac: MACAddress
    public var ports: [PortMapping]
    /// A Bridgeport network the interface hangs on (Docker's remote driver): its policy
    /// applies, and the veth is Bridgeport's to remove. Nil for a CNI chain's veth.
    public var networkID: String? = nil
    /// Which runtime made it; nil (in older stores too) is CNI. A CNI runtime holds its host
    /// ports itself (Podman's conmon, as with the portmap plugin); dockerd's remote driver
    /// does not, so the agent holds them, as Docker's own bridge driver does.
    public var runtime: AttachmentRuntime? = nil

    public var agentHoldsHostPorts: Bool { runtime == .docker }
    /// A CNI chain's network, as the previous plugin's result gives it (its address's
    /// prefix), and the number it has in the maps: isolated from the other networks as
    /// a Bridgeport network is. Nil when the runtime gave no prefix (no isolation).
    public var subnet: IPv4Network? = nil
    public var networkNumber: UInt16? = nil

    public var id: String { containerID + "/" + interface }

    public init(
        containerID: String, interface: String, network: String, namespace: String, hostInterface: String,
        ip: IPv4Address, mac: MACAddress, ports: [PortMapping], networkID: String? = nil
    ) {
        self.containerID = containerID
        self.interface = interface
        self.network = network
        self.namespace = namespace
        self.hostInterface = hostInterface
        self.ip = ip
        self.mac = mac
        self.ports = ports
        self.networkID = networkID
    }
}

public enum AttachmentRuntime: String, Codable, Sendable, Hashable {
    case cni, docker
}

/// What a runtime asks for, before validation (addresses as text).
public struct AttachmentRequest: Codable, Sendable {
    public var containerID: String
    public var interface: String
    public var network: String
    public var namespace: String
    public var hostInterface: String
    public var ip: String
    public var mac: String
    public var ports: [PortMapping]
    /// The CNI network's subnet ("10.88.0.0/16"), from the previous plugin's result.
    public var subnet: String? = nil
    /// Its IPv6 address, when the previous plugin gave it one: its IPv6 bindings lead there.
    public var ip6: String? = nil

    public init(
        containerID: String, interface: String, network: String, namespace: String, hostInterface: String,
        ip: String, mac: String, ports: [PortMapping], subnet: String? = nil, ip6: String? = nil
    ) {
        self.ip6 = ip6
        self.containerID = containerID
        self.interface = interface
        self.network = network
        self.namespace = namespace
        self.hostInterface = hostInterface
        self.ip = ip
        self.mac = mac
        self.ports = ports
        self.subnet = subnet
    }
}

extension Registry {
    /// Validates an attachment. Asking again for the same container and interface
    /// replaces it (a runtime may repeat ADD); its host ports must be free of every
    /// other container's and attachment's.
    public func planAttachment(_ request: AttachmentRequest) throws(ModelError) -> Attachment {
        guard !request.containerID.isEmpty else { throw .invalidName(request.containerID, "the container ID is empty") }
        try validateInterfaceName(request.interface, option: "interface")
        try validateInterfaceName(request.hostInterface, option: "host interface")
        guard let ip = IPv4Address(request.ip) else {
            throw .invalidIP(request.ip, "expected an IPv4 address like 10.22.0.5")
        }
        guard let mac = MACAddress(request.mac) else {
            throw .invalidOption("mac=\(request.mac)", "expected a MAC address like 02:42:0a:16:00:05")
        }
        var attachment = Attachment(
            containerID: request.containerID, interface: request.interface, network: request.network,
            namespace: request.namespace, hostInterface: request.hostInterface, ip: ip, mac: mac,
            ports: request.ports)
        if let text = request.ip6 {
            guard let ip6 = IPv6Address(text) else { throw .invalidIP(text, "expected an IPv6 address like fd00::5") }
            attachment.ip6 = ip6
        }
        if let text = request.subnet {
            let subnet = try IPv4Network.parse(text)
            guard subnet.contains(ip) else {
                throw .invalidIP(request.ip, "the address is not in the network's subnet \(subnet)")
            }
            if let network = networks.first(where: { $0.subnet.map(subnet.overlaps) == true }) {
                throw .invalidOption("subnet=\(subnet)", "it overlaps Bridgeport's network \(network.name)")
            }
            attachment.subnet = subnet
            // The CNI network's number: the one its other attachments have, or a new one.
            attachment.networkNumber =
                attachments.first { $0.id != attachment.id && $0.network == request.network && $0.subnet == subnet }?
                .networkNumber ?? unusedLocalNumber()
            guard attachment.networkNumber != nil else { throw .networksExhausted }
        }
        var taken = containers.flatMap(\.ports) + attachments.filter { $0.id != attachment.id }.flatMap(\.ports)
        for mapping in attachment.ports {
            guard mapping.hostPort > 0, mapping.containerPort > 0 else {
                throw .invalidPortSpec("\(mapping.hostPort):\(mapping.containerPort)", "ports are 1 to 65535")
            }
            if mapping.hostIP.family == .ipv6 && attachment.ip6 == nil {
                throw .noIPv6ForBinding("\(mapping.containerPort)/\(mapping.proto.rawValue) on \(mapping.hostIP)")
            }
            if taken.contains(where: { $0.conflicts(with: mapping) }) {
                throw .portAllocated(mapping.hostSide.description)
            }
            taken.append(mapping)
        }
        return attachment
    }
}

/// The CNI plugin as the main plugin: Bridgeport makes the interface, on its bridge
/// network named after the CNI network, with an address of its own IPAM.
public struct MainAttachmentRequest: Codable, Sendable {
    public var containerID: String
    public var interface: String
    /// The CNI network's name: the Bridgeport network (made at the first ADD).
    public var network: String
    public var namespace: String
    /// The subnet for that network when the first ADD makes it (nil: Docker's pools).
    public var subnet: String?
    /// Whether that network has IPv6 too, and its IPv6 subnet (nil: a ULA /64).
    public var ipv6: Bool? = nil
    public var subnet6: String? = nil
    public var ports: [PortMapping]

    public init(
        containerID: String, interface: String, network: String, namespace: String, subnet: String?,
        ports: [PortMapping]
    ) {
        self.containerID = containerID
        self.interface = interface
        self.network = network
        self.namespace = namespace
        self.subnet = subnet
        self.ports = ports
    }
}

/// What the main plugin reports back: the interface and where it hangs.
public struct MainAttachment: Codable, Sendable {
    public var attachment: Attachment
    public var bridge: String
    public var gateway: IPv4Address
    public var prefixLength: Int
    /// The network's IPv6 gateway and prefix length, when it has IPv6 (attachment.ip6).
    public var gateway6: IPv6Address? = nil
    public var prefixLength6: Int? = nil

    public init(attachment: Attachment, bridge: String, gateway: IPv4Address, prefixLength: Int, ipv6: IPv6Settings?) {
        self.attachment = attachment
        self.bridge = bridge
        self.gateway = gateway
        self.prefixLength = prefixLength
        self.gateway6 = ipv6?.gateway
        self.prefixLength6 = ipv6?.subnet.prefixLength
    }
}

/// CNI 1.1's GC: every attachment of `network` not named in `keep` (IDs
/// "containerID/interface") is released.
public struct AttachmentCollection: Codable, Sendable {
    public var network: String
    public var keep: [String]

    public init(network: String, keep: [String]) {
        self.network = network
        self.keep = keep
    }
}

/// An endpoint Docker created on one of its Bridgeport networks (libnetwork's
/// CreateEndpoint), before it joins a sandbox. Stored, so that an agent restart between
/// CreateEndpoint and Join changes nothing for dockerd.
public struct DockerEndpoint: Codable, Sendable, Hashable, Identifiable {
    /// libnetwork's endpoint ID.
    public var id: String
    public var networkID: String
    public var ip: IPv4Address
    public var ip6: IPv6Address? = nil
    public var mac: MACAddress

    public init(id: String, networkID: String, ip: IPv4Address, mac: MACAddress) {
        self.id = id
        self.networkID = networkID
        self.ip = ip
        self.mac = mac
    }
}
