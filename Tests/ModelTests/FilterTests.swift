import Foundation
import Model
import PropertyBased
import Testing

/// `ps --filter` and `network prune --filter` as Docker's daemon reads them.
@Suite struct ContainerFilterRules {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func container(
        _ id: String, _ name: String, ports: [(UInt16, PortProtocol)] = [], exit: Int32? = nil
    ) -> Container {
        var container = Container(
            id: id + String(repeating: "0", count: 64 - id.count), name: name, hostname: name, command: ["sleep"],
            created: now, networkMode: "front",
            ports: ports.map {
                PortMapping(proto: $0.1, containerPort: $0.0, hostIP: IPv4Address(0, 0, 0, 0), hostPort: 40000 + $0.0)
            })
        container.process.exitCode = exit
        return container
    }

    /// Three containers: web (running, on front, 80/tcp and 53/udp), db (exited 3, on back,
    /// 5432), job (created, on host).
    static let rows: [(Container, ContainerFilter.State, [(id: String, name: String)])] = [
        (container("aa11", "web", ports: [(80, .tcp), (53, .udp)]), .running, [("f00d", "front")]),
        (container("bb22", "db", ports: [(5432, .tcp)], exit: 3), .exited, [("ba55", "back"), ("f00d", "front")]),
        (container("aa33", "job"), .created, [("", "host")]),
    ]

    func names(_ filters: [String]) throws -> [String] {
        let filter = try ContainerFilter(filters)
        return Self.rows.filter { filter.matches($0.0, state: $0.1, networks: $0.2) }.map(\.0.name)
    }

    @Test func keysAsDockerReadsThem() throws {
        #expect(try names([]) == ["web", "db", "job"])
        #expect(try names(["name=b"]) == ["web", "db", "job"], "a substring")
        #expect(try names(["name=^web$"]) == ["web"], "a pattern")
        #expect(try names(["name=^/db$"]) == ["db"], "Docker's names begin with /")
        #expect(try names(["name=web", "name=job"]) == ["web", "job"], "one key: any value")
        #expect(try names(["id=aa"]) == ["web", "job"])
        #expect(try names(["id=11"]) == [], "an ID prefix")
        #expect(try names(["network=front"]) == ["web", "db"])
        #expect(try names(["network=ba5"]) == ["db"], "an ID prefix")
        #expect(try names(["network=host"]) == ["job"])
        #expect(try names(["publish=80"]) == ["web"])
        #expect(try names(["publish=53"]) == [], "tcp by default")
        #expect(try names(["publish=53/udp"]) == ["web"])
        #expect(try names(["publish=5000-6000/tcp"]) == ["db"])
        #expect(try names(["status=exited", "status=created"]) == ["db", "job"])
        #expect(try names(["status=paused"]) == [])
        #expect(try names(["exited=3"]) == ["db"])
        #expect(try names(["exited=0"]) == ["job"], "as Docker: a created container's code is 0")
        #expect(try names(["network=front", "status=running"]) == ["web"], "two keys: both")
        #expect(try names([" NAME = web "]) == ["web"], "key and value trimmed, the key lower-cased")
        #expect(try ContainerFilter(["status=created"]).includesStopped)
        #expect(try !ContainerFilter(["name=x"]).includesStopped)
    }

    @Test func badFiltersAreRefusedInDockersWords() {
        func message(_ filter: String) -> String {
            do throws(ModelError) {
                _ = try ContainerFilter([filter])
                return "accepted"
            } catch { return error.description }
        }
        #expect(message("foo=bar") == "invalid filter 'foo'")
        #expect(message("status=foo") == "Invalid filter 'status=foo'")
        #expect(message("exited=x") == "Invalid filter 'exited=x'")
        #expect(message("publish=8080:80") == "filter for 'publish' should not contain ':': 8080:80")
        #expect(message("publish=80x").hasPrefix("error while looking up for publish 80x: "))
        #expect(message("publish=/tcp").hasPrefix("error while looking up for publish /tcp: "))
        #expect(
            message("name")
                == #"invalid argument "name" for "--filter" flag: bad format of filter (expected name=value)"#)
    }
}

@Suite struct NetworkPruneFilterRules {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func untilAndLabels() throws {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Self.now, hostPrefixes: []))
        var request = NetworkRequest(name: "old", subnet: "10.70.0.0/24")
        request.labels = ["keep", "tier=web"]
        let old = try registry.planNetwork(request, id: randomID(), now: Self.now - 7200, hostPrefixes: [])
        registry.networks.append(old)
        let new = try registry.planNetwork(NetworkRequest(name: "new"), id: randomID(), now: Self.now, hostPrefixes: [])
        func names(_ filters: [String]) throws -> [String] {
            let filter = try NetworkPruneFilter(filters, now: Self.now)
            return [old, new].filter(filter.matches).map(\.name)
        }
        #expect(try names([]) == ["old", "new"])
        #expect(try names(["until=1h"]) == ["old"])
        #expect(try names(["until=3h"]) == [])
        #expect(try names(["until=2023-11-14T22:13:20Z"]) == ["old", "new"], "an RFC 3339 time: now")
        #expect(try names(["until=1699992800"]) == ["old"], "Unix seconds: 2 h ago")
        #expect(try names(["label=tier=web"]) == ["old"])
        #expect(try names(["label=tier=web", "label=keep"]) == ["old"], "every label= must match")
        #expect(try names(["label=tier=web", "label=other"]) == [])
        #expect(try names(["label!=keep"]) == ["new"])
        #expect(
            try names(["label!=keep", "label!=other"]) == ["old", "new"], "excluded only when every label!= matches")
        #expect(throws: ModelError.invalidFilter("dangling")) {
            try NetworkPruneFilter(["dangling=true"], now: Self.now)
        }
        #expect(
            throws: ModelError.invalidFilterValue(
                "until", "soon", reason: "failed to parse value as time or duration: \"soon\"")
        ) { try NetworkPruneFilter(["until=soon"], now: Self.now) }
        #expect(throws: ModelError.self) { try NetworkPruneFilter(["until=1h", "until=2h"], now: Self.now) }
    }

    @Test func timestampsAsDockerReadsThem() throws {
        let utc = TimeZone(identifier: "UTC")!
        func date(_ text: String) throws -> Double {
            try DockerTimestamp.date(text, now: Self.now, zone: utc).timeIntervalSince1970
        }
        #expect(try date("10m") == 1_700_000_000 - 600)
        #expect(try date("0") == 0, "0 is a Unix time, not a duration")
        #expect(try date("2023-11-14") == 1_699_920_000)
        #expect(try date("2023-11-14T22:13") == 1_700_000_000 - 20)
        #expect(try date("2023-11-14T22:13:20.5") == 1_700_000_000.5)
        #expect(try date("2023-11-14T23:13:20+01:00") == 1_700_000_000)
        #expect(try date("1700000000.25") == 1_700_000_000.25)
        #expect(throws: ModelError.self) { try date("2023-02-30") }
        #expect(throws: ModelError.self) { try date("2023-11-14T25:00") }
        #expect(throws: ModelError.self) { try date("yesterday") }
    }
}

/// Generated filters: every string is parsed or refused with a filter error naming it; what
/// a well-formed one says (values by key, in order; port ranges) survives.
@Suite struct FilterProperties {
    static let inputs = 3000

    static func text(
        _ alphabet: String, _ length: ClosedRange<Int>
    ) -> Generator<String, some Sequence & SendableMetatype> {
        Gen<Character?>.element(of: Array(alphabet)).compactMap { $0 }.string(of: length)
    }

    @Test func anyFilterIsParsedOrRefusedByName() async {
        let filter = Self.text("=nameidpublishstatusnetworkexitedfoo:/-0189 ", 0...24)
        await propertyCheck(count: Self.inputs, input: filter.array(of: 1...3)) { filters in
            do throws(ModelError) {
                _ = try ContainerFilter(filters)
            } catch {
                switch error {
                case .invalidFlag("--filter", let value, _): #expect(filters.contains(value) && !value.contains("="))
                case .invalidFilter(let key):
                    #expect(filters.contains { $0.lowercased().trimmingCharacters(in: .whitespaces).hasPrefix(key) })
                case .invalidFilterValue(let key, let value, _):
                    #expect(
                        ContainerFilter.Key(rawValue: key) != nil
                            && filters.contains { $0.hasSuffix(value) || $0.contains(value) })
                default: Issue.record("\(filters): \(error) is no filter error")
                }
            }
        }
    }

    @Test func valuesKeepTheirKeyAndOrder() async {
        let key = Gen<Int>.value(in: 0..<ContainerFilter.Key.allCases.count).map { ContainerFilter.Key.allCases[$0] }
        let value = Self.text("ab=c.^$x1", 0...10)
        await propertyCheck(count: Self.inputs, input: zip(key, value).array(of: 0...6)) { pairs in
            let filters = try Filters<ContainerFilter.Key>(pairs.map { "\($0.0.rawValue)=\($0.1)" })
            for key in ContainerFilter.Key.allCases {
                let expected = pairs.filter { $0.0 == key }.map(\.1)
                #expect(filters[key] ?? [] == expected, "\(pairs)")
            }
        }
    }

    @Test func publishMatchesThePortsInItsRange() async {
        let port = Gen<UInt16>.value(in: 1...200)
        let proto = Gen<Bool>.bool.map { $0 ? PortProtocol.tcp : .udp }
        let input = zip(port, Gen<UInt16>.value(in: 0...20), proto, port, proto)
        await propertyCheck(count: Self.inputs, input: input) { start, width, filterProto, published, publishedProto in
            let container = ContainerFilterRules.container("cc", "c", ports: [(published, publishedProto)])
            let spec = (width == 0 ? "\(start)" : "\(start)-\(start + width)") + (filterProto == .tcp ? "" : "/udp")
            let filter = try ContainerFilter(["publish=" + spec])
            let expected = (start...(start + width)).contains(published) && filterProto == publishedProto
            #expect(filter.matches(container, state: .running, networks: []) == expected, "\(spec) and \(published)")
        }
    }

    @Test func rfc3339TimesRoundTrip() async {
        let seconds = Gen<Int>.value(in: 0...4_000_000_000)
        let offset = Gen<Int>.value(in: -12...12)
        await propertyCheck(count: Self.inputs, input: seconds, offset) { seconds, hours in
            let zone = TimeZone(secondsFromGMT: hours * 3600)!
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = zone
            let text = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            let parsed = try DockerTimestamp.date(text, now: Date(), zone: TimeZone(identifier: "UTC")!)
            #expect(parsed.timeIntervalSince1970 == Double(seconds), "\(text)")
        }
    }
}
