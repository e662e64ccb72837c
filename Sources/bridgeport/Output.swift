import API
import Foundation
import Model

/// Docker's table layout (Go's tabwriter with min width 10 and padding 3).
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in max(10, all.map { $0[column].count }.max()! + 3) }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined()
    }.joined(separator: "\n")
}

/// "5 seconds ago", "About a minute ago", "3 hours ago": Docker's human durations.
func humanDuration(since date: Date, now: Date = Date()) -> String {
    let seconds = max(0, Int(now.timeIntervalSince(date)))
    switch seconds {
    case ..<1: return "Less than a second"
    case ..<60: return "\(seconds) second\(seconds == 1 ? "" : "s")"
    case ..<120: return "About a minute"
    case ..<3600: return "\(seconds / 60) minutes"
    case ..<7200: return "About an hour"
    case ..<(48 * 3600): return "\(seconds / 3600) hours"
    default: return "\(seconds / 86400) days"
    }
}

/// Pretty JSON the way `docker inspect` prints it (Go's MarshalIndent with 4 spaces:
/// `"Key": value`, `{}` and `[]` when empty). Keys are sorted.
func printJSON(_ value: Any) { print(goJSON(value)) }

func goJSON(_ value: Any, indent: String = "") -> String {
    let inner = indent + "    "
    switch value {
    case let map as [String: Any]:
        if map.isEmpty { return "{}" }
        let entries = map.keys.sorted().map { "\(inner)\(jsonString($0)): \(goJSON(map[$0]!, indent: inner))" }
        return "{\n" + entries.joined(separator: ",\n") + "\n\(indent)}"
    case let list as [Any]:
        if list.isEmpty { return "[]" }
        return "[\n" + list.map { inner + goJSON($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
    case let text as String: return jsonString(text)
    case let flag as Bool: return flag ? "true" : "false"
    case is NSNull: return "null"
    default: return "\(value)"
    }
}

func jsonString(_ text: String) -> String {
    let options: JSONSerialization.WritingOptions = [.fragmentsAllowed, .withoutEscapingSlashes]
    let data = (try? JSONSerialization.data(withJSONObject: text, options: options)) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

func iso8601(_ date: Date?) -> String {
    guard let date else { return "0001-01-01T00:00:00Z" }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}

// MARK: Docker-shaped inspect documents

func inspectDocument(_ view: NetworkView) -> [String: Any] {
    let network = view.network
    var ipamConfig: [[String: Any]] = []
    if let subnet = network.subnet {
        var entry: [String: Any] = ["Subnet": subnet.description]
        if let gateway = network.gateway { entry["Gateway"] = gateway.description }
        if let range = network.ipRange { entry["IPRange"] = range.description }
        if let aux = network.auxAddresses { entry["AuxiliaryAddresses"] = aux.mapValues(\.description) }
        ipamConfig.append(entry)
    }
    var containers: [String: Any] = [:]
    for endpoint in view.endpoints {
        containers[endpoint.endpoint.containerID] = [
            "Name": endpoint.containerName,
            "EndpointID": endpointID(endpoint.endpoint),
            "MacAddress": endpoint.endpoint.mac?.description ?? "",
            "IPv4Address": endpoint.endpoint.ip.map { "\($0)/\(endpoint.prefixLength ?? 32)" } ?? "",
            "IPv6Address": "",
        ]
    }
    return [
        "Name": network.name, "Id": network.id, "Created": iso8601(network.created), "Scope": network.scope,
        "Driver": network.driver.dockerName, "EnableIPv4": true, "EnableIPv6": false,
        "IPAM": ["Driver": "default", "Options": [String: String](), "Config": ipamConfig],
        "Internal": network.internal, "Attachable": network.attachable ?? false, "Ingress": false,
        "ConfigFrom": ["Network": ""], "ConfigOnly": false,
        "Containers": containers, "Options": driverOptions(network), "Labels": network.labels ?? [:],
    ]
}

/// The options as Docker shows them: the user's, plus what the driver chose.
private func driverOptions(_ network: Network) -> [String: String] {
    var options = network.options
    if let vni = network.vni { options["com.docker.network.driver.overlay.vxlanid_list"] = "\(vni)" }
    return options
}

func inspectDocument(_ view: ContainerView) -> [String: Any] {
    let container = view.container
    // HostConfig.PortBindings: what was asked; NetworkSettings.Ports: what is published
    // now (nothing while stopped), as Docker shows them.
    func bindings(_ mappings: [PortMapping]) -> [String: Any] {
        var result: [String: [[String: String]]] = [:]
        for mapping in mappings {
            result["\(mapping.containerPort)/\(mapping.proto.rawValue)", default: []].append(
                ["HostIp": mapping.hostIP.description, "HostPort": "\(mapping.hostPort)"])
        }
        return result
    }
    let portBindings = bindings(container.ports)
    let ports = bindings(container.publishedPorts)
    var networks: [String: Any] = [:]
    for endpoint in view.endpoints {
        networks[endpoint.networkName] = [
            "NetworkID": endpoint.endpoint.networkID,
            "EndpointID": endpointID(endpoint.endpoint),
            "Gateway": endpoint.gateway?.description ?? "",
            "IPAddress": endpoint.endpoint.ip?.description ?? "",
            "IPPrefixLen": endpoint.prefixLength ?? 0,
            "MacAddress": endpoint.endpoint.mac?.description ?? "",
            // Docker 25+: the aliases given, and every name peers resolve the container by
            // (null on the default bridge, which has no names).
            "Aliases": endpoint.endpoint.aliases.map { $0 as Any } ?? NSNull(),
            "DNSNames": endpoint.hasNames
                ? container.dnsNames(aliases: endpoint.endpoint.aliases ?? []) as Any : NSNull(),
        ]
    }
    if view.endpoints.isEmpty {
        // host and none: Docker still lists the network, with no address of its own.
        networks[container.networkMode] = [
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "MacAddress": "", "Aliases": NSNull(), "DNSNames": NSNull(),
        ]
    }
    let primary = view.endpoints.first { $0.networkName == Network.defaultName }
    let process = container.process
    let names = container.names ?? NameSettings()
    let confinement = container.confinement ?? Confinement()
    return [
        "Id": container.id, "Name": "/" + container.name, "Created": iso8601(container.created),
        "Path": container.command.first ?? "", "Args": Array(container.command.dropFirst()),
        "State": [
            "Status": view.status.rawValue, "Running": view.status == .running, "Paused": false,
            "Restarting": false, "OOMKilled": false, "Dead": false,
            "Pid": view.status == .running ? Int(process.pid) : 0, "ExitCode": Int(process.exitCode ?? 0), "Error": "",
            "StartedAt": iso8601(process.startedAt), "FinishedAt": iso8601(process.finishedAt),
        ],
        "Config": [
            "Hostname": container.hostname, "Domainname": names.domainname ?? "", "Cmd": container.command,
            "ExposedPorts": Dictionary(uniqueKeysWithValues: Set(portBindings.keys).map { ($0, [String: String]()) }),
        ],
        "HostConfig": [
            "NetworkMode": container.networkMode == Network.defaultName ? "bridge" : container.networkMode,
            "PortBindings": portBindings,
            "PortAllowedSources": (container.allowedSources ?? [:]).mapValues { $0.map(\.description) },
            "Dns": names.servers.map(\.description), "DnsSearch": names.search, "DnsOptions": names.options,
            "ExtraHosts": names.extraHosts.isEmpty ? NSNull() : names.extraHosts.map(\.description) as Any,
            "CapAdd": confinement.capAdd.isEmpty ? NSNull() : confinement.capAdd.map { "CAP_" + $0 } as Any,
            "CapDrop": confinement.capDrop.isEmpty ? NSNull() : confinement.capDrop.map { "CAP_" + $0 } as Any,
            "Privileged": confinement.privileged,
        ],
        "NetworkSettings": [
            "Ports": ports, "Networks": networks,
            "IPAddress": primary?.endpoint.ip?.description ?? "", "Gateway": primary?.gateway?.description ?? "",
            "IPPrefixLen": primary?.prefixLength ?? 0, "MacAddress": primary?.endpoint.mac?.description ?? "",
        ],
    ]
}

/// A stable ID for an endpoint, shaped like Docker's.
func endpointID(_ endpoint: Endpoint) -> String {
    String((endpoint.networkID.prefix(32) + endpoint.containerID.prefix(32)))
}

/// `docker ps` STATUS column.
func statusText(_ view: ContainerView) -> String {
    switch view.status {
    case .running: "Up " + humanDuration(since: view.container.process.startedAt ?? view.container.created)
    case .created: "Created"
    case .exited:
        "Exited (\(view.container.process.exitCode ?? 0)) "
            + humanDuration(since: view.container.process.finishedAt ?? Date()) + " ago"
    }
}
