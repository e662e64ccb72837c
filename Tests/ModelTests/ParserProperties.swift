import Foundation
import Model
import PropertyBased
import Testing

// Property tests of everything that parses user input: thousands of generated inputs per
// parser. Two kinds of property: any string is either accepted or rejected with the
// parser's own error naming the input (never a crash, never another error), and what a
// well-formed input says survives parsing unchanged.

/// Strings over an alphabet that reaches every branch of the parser (separators, digits,
/// letters of the protocol names, and a few that are never valid).
private func strings(
    of alphabet: String, length: ClosedRange<Int> = 0...24
) -> Generator<String, some Sequence & SendableMetatype> {
    Gen<Character?>.element(of: Array(alphabet)).compactMap { $0 }.string(of: length)
}

private let octet = Gen<UInt8>.value(in: 0...255)
private let address = zip(octet, octet, octet, octet).map { IPv4Address($0, $1, $2, $3) }
private let port = Gen<UInt16>.value(in: 1...65535)

@Suite struct ParserProperties {
    static let inputs = 3000

    // MARK: -p

    @Test func anyPortSpecIsParsedOrRejectedByName() async {
        await propertyCheck(count: Self.inputs, input: strings(of: "0123456789:::--./tcpudTCPx[] ")) { spec in
            do throws(ModelError) {
                let requests = try PortRequest.parse(spec)
                #expect(!requests.isEmpty, "\(spec) gave no request")
                for request in requests {
                    #expect(request.containerPort >= 1, "\(spec): container port 0")
                    if let hostPorts = request.hostPorts { #expect(hostPorts.lowerBound >= 1, "\(spec): host port 0") }
                }
            } catch {
                // A bad HOSTIP is refused in go-connections' words, naming the address.
                if case .invalidHostIP(let value, _) = error {
                    #expect(spec.contains(value) && error.description.hasPrefix("invalid IP address"))
                    return
                }
                guard case .invalidPortSpec(let value, let rule) = error else {
                    Issue.record("\(spec): \(error) is not an invalid port specification")
                    return
                }
                #expect(value == spec && !rule.isEmpty)
                #expect(error.description.hasPrefix("invalid port specification \"\(spec)\": "))
            }
        }
    }

    @Test func wellFormedPortSpecsKeepWhatTheySay() async {
        let protocols: [PortProtocol?] = [nil, .tcp, .udp]
        let specs = zip(address.optional, port.optional, port, Gen<Int>.value(in: 0...2).map { protocols[$0] })
        await propertyCheck(count: Self.inputs, input: specs) {
            (hostIP: IPv4Address?, hostPort: UInt16?, containerPort: UInt16, proto: PortProtocol?) in
            var spec = hostIP.map { "\($0):" } ?? ""
            if hostPort != nil || hostIP != nil { spec += hostPort.map { "\($0):" } ?? ":" }
            spec += "\(containerPort)" + (proto.map { "/\($0.rawValue)" } ?? "")
            let expected = PortRequest(
                proto: proto ?? .tcp, containerPort: containerPort,
                hostIP: hostIP.map(IPAddress.v4),
                hostPorts: hostPort.map { $0...$0 })
            let parsed = try PortRequest.parse(spec)
            #expect(parsed == [expected], "\(spec)")
        }
    }

    @Test func portRangesExpandOnePerPort() async {
        let ranges = zip(
            Gen<UInt16>.value(in: 1...65000), Gen<UInt16>.value(in: 0...200), Gen<UInt16>.value(in: 1...65000))
        await propertyCheck(count: 500, input: ranges) { hostStart, width, containerStart in
            let spec = "\(hostStart)-\(hostStart + width):\(containerStart)-\(containerStart + width)"
            let requests = try PortRequest.parse(spec)
            #expect(requests.count == Int(width) + 1)
            #expect(
                requests.enumerated().allSatisfy { i, r in
                    r.containerPort == containerStart + UInt16(i)
                        && r.hostPorts == (hostStart + UInt16(i))...(hostStart + UInt16(i))
                }, "\(spec)")
        }
    }

    // MARK: addresses and subnets

    @Test func anyAddressTextIsParsedExactlyOrRejected() async {
        await propertyCheck(count: Self.inputs, input: strings(of: "0123456789..a- ", length: 0...18)) { text in
            if let parsed = IPv4Address(text) { #expect(parsed.description == text, "\(text) read as \(parsed)") }
        }
    }

    @Test func addressesRoundTrip() async {
        await propertyCheck(count: Self.inputs, input: address) { ip in
            #expect(IPv4Address(ip.description) == ip)
        }
    }

    @Test func anySubnetTextIsParsedExactlyOrRejectedByName() async {
        await propertyCheck(count: Self.inputs, input: strings(of: "0123456789.../ab", length: 0...22)) { text in
            do throws(ModelError) {
                let network = try IPv4Network.parse(text)
                #expect(network.description == text, "\(text) read as \(network)")
            } catch {
                guard case .invalidCIDR(let value, let rule) = error else {
                    Issue.record("\(text): \(error) is not an invalid subnet")
                    return
                }
                #expect(value == text && !rule.isEmpty)
            }
        }
    }

    @Test func subnetsRoundTripAndHostBitsAreRefused() async {
        await propertyCheck(count: Self.inputs, input: address, Gen<Int>.value(in: 0...32)) { ip, length in
            let network = IPv4Network(containing: ip, prefixLength: length)
            let parsed = try IPv4Network.parse(network.description)
            #expect(parsed == network)
            #expect(network.contains(ip))
            if network.address != ip {
                #expect(throws: ModelError.invalidCIDR("\(ip)/\(length)", "host bits are set, it should be \(network)"))
                {
                    try IPv4Network.parse("\(ip)/\(length)")
                }
            }
        }
    }

    // MARK: names

    @Test func namesFollowDockersRule() async {
        await propertyCheck(count: Self.inputs, input: strings(of: "aZ09_.-/ é:", length: 0...70)) { name in
            let matches = name.range(of: "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", options: .regularExpression) != nil
            do throws(ModelError) {
                try validateName(name, what: "container")
                #expect(matches && name.count <= 64, "\(name) was accepted")
            } catch {
                guard case .invalidName(let value, let rule) = error else {
                    Issue.record("\(name): \(error) is not an invalid name")
                    return
                }
                #expect(value == name && !rule.isEmpty)
                #expect(!matches || name.count > 64, "\(name) was refused: \(rule)")
            }
        }
    }

    // MARK: API bodies

    /// What the API decodes: a valid body with bytes flipped, cut or dropped decodes to a
    /// request or fails with a DecodingError (the API answers 400 with its text).
    @Test func mangledRequestBodiesFailCleanly() async throws {
        let valid = Array(
            try JSONEncoder().encode(
                ContainerRequest(
                    name: "web", network: "front", ip: "10.0.0.5",
                    ports: ["8080:80", "53/udp"], command: ["sleep", "1"])))
        let edits = zip(Gen<Int>.value(in: 0..<valid.count), Gen<UInt8>.value(in: 0...255), Gen<Int>.value(in: 0...2))
            .array(of: 1...4)
        await propertyCheck(count: Self.inputs, input: edits) { edits in
            var body = valid
            for (position, byte, kind) in edits where !body.isEmpty {
                let i = position % body.count
                switch kind {
                case 0: body[i] = byte
                case 1: body.removeSubrange(i...)
                default: body.remove(at: i)
                }
            }
            do {
                _ = try JSONDecoder().decode(ContainerRequest.self, from: Data(body))
            } catch is DecodingError {
            } catch {
                Issue.record("\(String(decoding: body, as: UTF8.self)): \(error) is not a DecodingError")
            }
        }
    }
}
