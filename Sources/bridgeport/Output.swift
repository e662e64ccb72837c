import API
import FoundationEssentials
import Glibc
import Model

/// Docker's table layout: the cells of each row tab-separated, aligned by `tabwrite`.
func table(_ header: [String], _ rows: [[String]]) -> String {
    tabwrite(([header] + rows).map { $0.joined(separator: "\t") }.joined(separator: "\n"))
}

/// Go's text/tabwriter as Docker's CLI sets it up (min width 10, padding 3, spaces): a cell
/// ends with a tab; the cells of one column in consecutive lines are padded to one width
/// (the widest plus 3); the text after a line's last tab is no column's and stays as it is.
func tabwrite(_ text: String, minWidth: Int = 10, padding: Int = 3) -> String {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
        $0.split(separator: "\t", omittingEmptySubsequences: false)
    }
    var widths = [[Int]](repeating: [], count: lines.count)
    // Go's format(): the block of consecutive lines that have a cell in `column`, widened
    // together, then the next column within that block.
    func format(_ range: Range<Int>, column: Int) {
        var line = range.lowerBound
        while line < range.upperBound {
            guard column < lines[line].count - 1 else {
                line += 1
                continue
            }
            let start = line
            var width = minWidth
            while line < range.upperBound, column < lines[line].count - 1 {
                width = max(width, lines[line][column].unicodeScalars.count + padding)
                line += 1
            }
            for member in start..<line { widths[member].append(width) }
            format(start..<line, column: column + 1)
        }
    }
    format(0..<lines.count, column: 0)
    return zip(lines, widths).map { cells, widths in
        cells.enumerated().map { column, cell in
            column < widths.count
                ? String(cell) + String(repeating: " ", count: widths[column] - cell.unicodeScalars.count)
                : String(cell)
        }.joined()
    }.joined(separator: "\n")
}

/// `--format` of `ps` and `network ls`, as Docker's formatter reads it: "table" (the
/// listing's columns), "table TEMPLATE" (a header row from the fields' titles, then a row
/// each, aligned by `tabwrite`), "json" (a JSON object per row) or a TEMPLATE (a line per row,
/// no header). A `\t` or `\n` typed is a tab or a newline.
struct Listing {
    /// Each field's column title, as Docker's: every field a row has.
    let titles: [String: String]
    /// Its methods of one argument (`Label`).
    let methods: [String]
    /// "table {{.ID}}\t...": the columns of plain `table`.
    let defaultTable: String
    /// With -q, a format of the user's gives way to `{{.ID}}` (ps) or not (network ls).
    let quietOverridesFormat: Bool
    /// Docker's words before a template's parse and execution errors.
    let parseContext: String
    let executeContext: String

    /// The lines to print (each ending with a newline; nothing for no rows but a table's header).
    func render(_ rows: [Template.Record], format: String?, quiet: Bool) throws -> String {
        var source = format.flatMap { $0.isEmpty ? nil : $0 } ?? "table"
        if quiet && (source == "table" || quietOverridesFormat) {
            source = "{{.ID}}"
        } else if source == "table" {
            source = defaultTable
        } else if source == "json" {
            source = "{{json .}}"
        }
        let isTable = source.hasPrefix("table")
        let text = (isTable ? String(source.dropFirst(5)) : source).trimming(while: { $0 == " " })
            .replacing("\\t", with: "\t").replacing("\\n", with: "\n")
        let template: Template
        do { template = try Template(text) } catch { throw Failure(error, parseContext) }
        // Checked on a row of empty values first, so that a bad field fails before any output.
        var probe = Template.Record(fields: titles.mapValues { _ in "" })
        for method in methods { probe.methods[method] = { _ in "" } }
        var lines = ""
        do {
            _ = try template.render(probe)
            for row in rows { lines += try template.render(row) + "\n" }
        } catch { throw Failure(error, executeContext) }
        return isTable ? tabwrite(template.renderHeader(titles) + "\n" + lines) : lines
    }
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

/// JSON's null in the documents (`[String: Any]`) that inspect and templates print.
struct JSONNull {}

/// value as JSON: indented from indent, or on one line (Go's Marshal, `{{json}}`) if nil.
func goJSON(_ value: Any, indent: String? = "") -> String {
    let inner = indent.map { $0 + "    " }
    let (open, close) = (inner.map { "\n" + $0 } ?? "", indent.map { "\n" + $0 } ?? "")
    switch value {
    case let map as [String: Any]:
        if map.isEmpty { return "{}" }
        let colon = indent == nil ? ":" : ": "
        let entries = map.keys.sorted().map { jsonString($0) + colon + goJSON(map[$0]!, indent: inner) }
        return "{" + open + entries.joined(separator: "," + open) + close + "}"
    case let list as [Any]:
        if list.isEmpty { return "[]" }
        return "[" + open + list.map { goJSON($0, indent: inner) }.joined(separator: "," + open) + close + "]"
    case let text as String: return jsonString(text)
    case let flag as Bool: return flag ? "true" : "false"
    case is JSONNull: return "null"
    default: return "\(value)"
    }
}

/// A string as JSON writes one: quoted, with `"`, `\` and the control characters escaped
/// (`/` and the rest as they are).
func jsonString(_ text: String) -> String {
    var quoted = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\n": quoted += "\\n"
        case "\r": quoted += "\\r"
        case "\t": quoted += "\\t"
        case "\u{08}": quoted += "\\b"
        case "\u{0C}": quoted += "\\f"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: quoted.unicodeScalars.append(scalar)
        }
    }
    return quoted + "\""
}

/// A time as Go prints one (Time.String, Docker's CreatedAt): "2024-05-02 10:11:12.345678 +0000
/// UTC"; the fraction to the microsecond, without trailing zeros. In the local zone as Go finds
/// it (TZ, else /etc/localtime), read by localtime_r from the same tzdata, so with the same
/// abbreviations ("CET", where Foundation's ICU says "GMT+1").
func goTime(_ date: Date, fractional: Bool = true) -> String {
    let whole = date.timeIntervalSince1970.rounded(.down)
    var clock = time_t(whole)
    var local = tm()
    tzset()
    guard localtime_r(&clock, &local) != nil else { return "" }
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    var text = "\(local.tm_year + 1900)-\(two(local.tm_mon + 1))-\(two(local.tm_mday)) "
    text += "\(two(local.tm_hour)):\(two(local.tm_min)):\(two(local.tm_sec))"
    let micros = min(999_999, Int(((date.timeIntervalSince1970 - whole) * 1e6).rounded()))
    if fractional && micros > 0 {
        var fraction = String(micros)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        text += "." + fraction
    }
    let offset = Int32(local.tm_gmtoff)
    text += " " + (offset < 0 ? "-" : "+") + two(abs(offset) / 3600) + two(abs(offset) % 3600 / 60)
    return text + " " + (local.tm_zone.map { String(cString: $0) } ?? "UTC")
}

/// "a=1,b=2": labels as Docker's listings show them (sorted here; Docker's come in map order).
func labelList(_ labels: [String: String]?) -> String {
    (labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
}

func iso8601(_ date: Date?) -> String {
    guard let date else { return "0001-01-01T00:00:00Z" }
    return Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
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
    if let v6 = network.ipv6 {
        var entry: [String: Any] = ["Subnet": v6.subnet.description, "Gateway": v6.gateway.description]
        if let range = v6.ipRange { entry["IPRange"] = range.description }
        ipamConfig.append(entry)
    }
    var containers: [String: Any] = [:]
    for endpoint in view.endpoints {
        containers[endpoint.endpoint.containerID] = [
            "Name": endpoint.containerName,
            "EndpointID": endpointID(endpoint.endpoint),
            "MacAddress": endpoint.endpoint.mac?.description ?? "",
            "IPv4Address": endpoint.endpoint.ip.map { "\($0)/\(endpoint.prefixLength ?? 32)" } ?? "",
            "IPv6Address": endpoint.endpoint.ip6.map { "\($0)/\(network.ipv6?.subnet.prefixLength ?? 128)" } ?? "",
        ]
    }
    return [
        "Name": network.name, "Id": network.id, "Created": iso8601(network.created), "Scope": network.scope,
        "Driver": network.driver.dockerName, "EnableIPv4": network.ipv4Enabled,
        "EnableIPv6": network.ipv6 != nil,
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
            "IPv6Gateway": endpoint.gateway6?.description ?? "",
            "GlobalIPv6Address": endpoint.endpoint.ip6?.description ?? "",
            "GlobalIPv6PrefixLen": endpoint.endpoint.ip6 == nil ? 0 : endpoint.prefixLength6 ?? 0,
            // Docker 25+: the aliases given, and every name peers resolve the container by
            // (null on the default bridge, which has no names).
            "Aliases": endpoint.endpoint.aliases.map { $0 as Any } ?? JSONNull(),
            "DNSNames": endpoint.hasNames
                ? container.dnsNames(aliases: endpoint.endpoint.aliases ?? []) as Any : JSONNull(),
        ]
    }
    if view.endpoints.isEmpty && container.joinedContainerID == nil {
        // host and none: Docker still lists the network, with no address of its own.
        networks[container.networkMode] = [
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "MacAddress": "", "Aliases": JSONNull(), "DNSNames": JSONNull(),
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
            "ExposedPorts": Dictionary(
                uniqueKeysWithValues: Set(portBindings.keys).union((container.exposedPorts ?? []).map(\.description))
                    .map { ($0, [String: String]()) }),
        ],
        "HostConfig": [
            "NetworkMode": container.networkMode == Network.defaultName ? "bridge" : container.networkMode,
            "PortBindings": portBindings, "PublishAllPorts": container.publishAll == true,
            "AutoRemove": container.autoRemove == true,
            "PortAllowedSources": (container.allowedSources ?? [:]).mapValues { $0.map(\.description) },
            "Dns": names.servers.map(\.description), "DnsSearch": names.search, "DnsOptions": names.options,
            "ExtraHosts": names.extraHosts.isEmpty ? JSONNull() : names.extraHosts.map(\.description) as Any,
            "CapAdd": confinement.capAdd.isEmpty ? JSONNull() : confinement.capAdd.map { "CAP_" + $0 } as Any,
            "CapDrop": confinement.capDrop.isEmpty ? JSONNull() : confinement.capDrop.map { "CAP_" + $0 } as Any,
            "Privileged": confinement.privileged,
        ],
        "NetworkSettings": [
            "Ports": ports, "Networks": networks,
            "IPAddress": primary?.endpoint.ip?.description ?? "", "Gateway": primary?.gateway?.description ?? "",
            "IPPrefixLen": primary?.prefixLength ?? 0, "MacAddress": primary?.endpoint.mac?.description ?? "",
        ],
        // Bridgeport's own: the container's last drops (at most 5, oldest first).
        "LastDrops": (view.lastDrops ?? []).map { DropLine($0).document },
    ]
}

/// A drop as inspect and stats show it, with Docker's CamelCase keys.
struct DropLine: Encodable {
    let Time: String, Reason: String, Direction: String, Network: String, Interface: String, `Protocol`: String
    let Source: String, Destination: String, Length: UInt32

    init(_ event: MonitorEvent) {
        Time = event.time
        Reason = event.reason ?? ""
        Direction = event.direction ?? ""
        Network = event.network ?? ""
        Interface = event.interface ?? ""
        `Protocol` = event.proto ?? ""
        Source = event.sourceText ?? ""
        Destination = event.destinationText ?? ""
        Length = event.length ?? 0
    }

    var document: [String: Any] {
        [
            "Time": Time, "Reason": Reason, "Direction": Direction, "Network": Network, "Interface": Interface,
            "Protocol": `Protocol`, "Source": Source, "Destination": Destination, "Length": Int(Length),
        ]
    }
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
