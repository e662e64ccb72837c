import BPF
import CBPF
import Glibc
import Model

// Crafted frames for BPF_PROG_TEST_RUN: Ethernet + IPv4 (with optional options and
// fragment fields) + TCP/UDP, and ARP, with correct IPv4 and L4 checksums; Ethernet + IPv6
// (with extension headers and fragments) + TCP/UDP/ICMPv6 and neighbour discovery; and a
// parser that reads an IPv4 frame back and recomputes its checksums from the bytes.

/// "a.b.c.d" -> 4 octets.
func ip(_ dotted: String) -> [UInt8] {
    let octets = dotted.split(separator: ".").map { UInt8($0)! }
    precondition(octets.count == 4, "bad IPv4 address \(dotted)")
    return octets
}

/// "fd00::1" -> 16 octets.
func ip6(_ text: String) -> [UInt8] {
    guard let address = IPv6Address(text) else { preconditionFailure("bad IPv6 address \(text)") }
    return address.bytes
}

/// 4 octets -> the __u32 the programs compare (network byte order = the octets in memory order).
func be32(_ octets: [UInt8]) -> UInt32 {
    UInt32(octets[0]) | UInt32(octets[1]) << 8 | UInt32(octets[2]) << 16 | UInt32(octets[3]) << 24
}

/// A host-order port -> the __u16 the programs compare (network byte order).
func be16(_ port: UInt16) -> UInt16 { port.bigEndian }

/// The raw bytes of a C struct, to compare map keys and values exactly.
func rawBytes<T>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

enum Checksum {
    /// One's complement sum of 16-bit big-endian words (an odd last byte is padded with 0), not folded.
    static func sum<C: Collection>(_ bytes: C, into initial: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var sum = initial
        var iterator = bytes.makeIterator()
        while let high = iterator.next() {
            let low = iterator.next() ?? 0
            sum &+= UInt32(high) << 8 | UInt32(low)
            sum = (sum & 0xffff) &+ (sum >> 16)  // keep it folded enough to never overflow
        }
        return sum
    }

    static func fold(_ sum: UInt32) -> UInt16 {
        var s = sum
        while s > 0xffff { s = (s & 0xffff) + (s >> 16) }
        return UInt16(s)
    }

    /// The Internet checksum (RFC 1071) of `bytes` whose checksum field is zero.
    static func internet<C: Collection>(_ bytes: C, into initial: UInt32 = 0) -> UInt16 where C.Element == UInt8 {
        ~fold(sum(bytes, into: initial))
    }

    /// The pseudo-header's sum for TCP/UDP (and ICMPv6): IPv4's, or IPv6's (RFC 8200 §8.1)
    /// for 16-octet addresses.
    static func pseudoHeader(src: [UInt8], dst: [UInt8], proto: UInt8, length: Int) -> UInt32 {
        if src.count == 16 {
            return sum(src + dst + [0, 0, UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 0, proto])
        }
        return sum(src + dst + [0, proto, UInt8(length >> 8), UInt8(length & 0xff)])
    }

    /// Stores the checksum of a TCP, UDP or ICMPv6 packet (whose checksum field is zero) at
    /// `offset`, pseudo-header included; UDP sends a result of 0 as 0xffff (0 means none).
    static func store(in packet: inout [UInt8], at offset: Int, src: [UInt8], dst: [UInt8], proto: UInt8) {
        var check = internet(packet, into: pseudoHeader(src: src, dst: dst, proto: proto, length: packet.count))
        if check == 0 && proto == 17 { check = 0xffff }
        packet[offset] = UInt8(check >> 8)
        packet[offset + 1] = UInt8(check & 0xff)
    }
}

enum Frame {
    static let ethTypeIPv4: UInt16 = 0x0800
    static let ethTypeARP: UInt16 = 0x0806
    static let ethTypeIPv6: UInt16 = 0x86dd

    static let tcpSYN: UInt8 = 0x02
    static let tcpSYNACK: UInt8 = 0x12
    static let tcpACK: UInt8 = 0x10

    /// IPv4 flags/fragment field values (host order).
    static let dontFragment: UInt16 = 0x4000
    static let moreFragments: UInt16 = 0x2000

    static let defaultSourceMAC: [UInt8] = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x01]
    static let defaultDestinationMAC: [UInt8] = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x02]

    static func ethernet(
        dst: [UInt8] = defaultDestinationMAC, src: [UInt8] = defaultSourceMAC,
        type: UInt16, payload: [UInt8]
    ) -> [UInt8] {
        precondition(dst.count == 6 && src.count == 6)
        return dst + src + [UInt8(type >> 8), UInt8(type & 0xff)] + payload
    }

    /// An IPv4 header (20 bytes + options, padded to 4 bytes with EOL) with a valid checksum, followed by `payload`.
    /// `fragment` is the whole flags + fragment offset field (host order).
    static func ipv4(
        src: [UInt8], dst: [UInt8], proto: UInt8, payload: [UInt8], options: [UInt8] = [],
        fragment: UInt16 = dontFragment, id: UInt16 = 0x1234, ttl: UInt8 = 64
    ) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(0) }  // EOL padding
        precondition(opts.count <= 40, "IPv4 options are at most 40 bytes")
        let headerLength = 20 + opts.count
        let total = headerLength + payload.count
        var header: [UInt8] =
            [
                0x40 | UInt8(headerLength / 4), 0,
                UInt8(total >> 8), UInt8(total & 0xff),
                UInt8(id >> 8), UInt8(id & 0xff),
                UInt8(fragment >> 8), UInt8(fragment & 0xff),
                ttl, proto, 0, 0,
            ] + src + dst + opts
        let check = Checksum.internet(header)
        header[10] = UInt8(check >> 8)
        header[11] = UInt8(check & 0xff)
        return header + payload
    }

    /// The frame as a router passes it on: TTL one less, header checksum updated.
    static func afterHop(_ frame: [UInt8]) -> [UInt8] {
        guard frame.count >= 34, frame[12] == 0x08, frame[13] == 0x00 else { return frame }
        var out = frame
        let headerLength = Int(out[14] & 0x0f) * 4
        out[22] -= 1
        out[24] = 0
        out[25] = 0
        let check = Checksum.internet(out[14..<(14 + headerLength)])
        out[24] = UInt8(check >> 8)
        out[25] = UInt8(check & 0xff)
        return out
    }

    /// A TCP segment (20-byte header) with a valid checksum for src -> dst.
    static func tcpSegment(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, flags: UInt8 = tcpSYN,
        seq: UInt32 = 0x0102_0304, ack: UInt32 = 0, payload: [UInt8] = []
    ) -> [UInt8] {
        var segment: [UInt8] =
            [
                UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff),
                UInt8(seq >> 24), UInt8(seq >> 16 & 0xff), UInt8(seq >> 8 & 0xff), UInt8(seq & 0xff),
                UInt8(ack >> 24), UInt8(ack >> 16 & 0xff), UInt8(ack >> 8 & 0xff), UInt8(ack & 0xff),
                0x50, flags, 0xfa, 0xf0,  // data offset 5, flags, window 64240
                0, 0, 0, 0,  // checksum, urgent pointer
            ] + payload
        Checksum.store(in: &segment, at: 16, src: src, dst: dst, proto: 6)
        return segment
    }

    /// A UDP datagram for src -> dst: with a valid checksum (0 sent as 0xffff), or with checksum 0 (none).
    static func udpDatagram(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, payload: [UInt8],
        checksum: Bool = true
    ) -> [UInt8] {
        let length = 8 + payload.count
        var datagram: [UInt8] =
            [
                UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff),
                UInt8(length >> 8), UInt8(length & 0xff), 0, 0,
            ] + payload
        if checksum { Checksum.store(in: &datagram, at: 6, src: src, dst: dst, proto: 17) }
        return datagram
    }

    static func tcp(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, flags: UInt8 = tcpSYN,
        payload: [UInt8] = [], options: [UInt8] = [], fragment: UInt16 = dontFragment,
        srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8] = defaultDestinationMAC
    ) -> [UInt8] {
        let segment = tcpSegment(src: src, dst: dst, sport: sport, dport: dport, flags: flags, payload: payload)
        return ethernet(
            dst: dstMAC, src: srcMAC, type: ethTypeIPv4,
            payload: ipv4(src: src, dst: dst, proto: 6, payload: segment, options: options, fragment: fragment))
    }

    static func udp(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16,
        payload: [UInt8] = Array("bridgeport udp".utf8), checksum: Bool = true,
        options: [UInt8] = [], fragment: UInt16 = dontFragment,
        srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8] = defaultDestinationMAC
    ) -> [UInt8] {
        let datagram = udpDatagram(src: src, dst: dst, sport: sport, dport: dport, payload: payload, checksum: checksum)
        return ethernet(
            dst: dstMAC, src: srcMAC, type: ethTypeIPv4,
            payload: ipv4(src: src, dst: dst, proto: 17, payload: datagram, options: options, fragment: fragment))
    }

    /// An IPv4 packet of any protocol with an opaque payload (e.g. ICMP, or a later fragment).
    static func ipPacket(
        src: [UInt8], dst: [UInt8], proto: UInt8, payload: [UInt8], fragment: UInt16 = dontFragment,
        srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8] = defaultDestinationMAC
    ) -> [UInt8] {
        ethernet(
            dst: dstMAC, src: srcMAC, type: ethTypeIPv4,
            payload: ipv4(src: src, dst: dst, proto: proto, payload: payload, fragment: fragment))
    }

    /// An ICMP echo request (type 8) or reply (type 0) message with a valid checksum.
    static func icmpEchoMessage(type: UInt8, id: UInt16, seq: UInt16, payload: [UInt8]) -> [UInt8] {
        var message: [UInt8] =
            [type, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)] + payload
        let check = Checksum.internet(message)
        message[2] = UInt8(check >> 8)
        message[3] = UInt8(check & 0xff)
        return message
    }

    static func icmpEcho(
        src: [UInt8], dst: [UInt8], type: UInt8 = 8, id: UInt16, seq: UInt16 = 1,
        payload: [UInt8] = Array("bridgeport ping".utf8),
        srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8] = defaultDestinationMAC
    ) -> [UInt8] {
        ipPacket(
            src: src, dst: dst, proto: 1, payload: icmpEchoMessage(type: type, id: id, seq: seq, payload: payload),
            srcMAC: srcMAC, dstMAC: dstMAC)
    }

    /// An ICMP error message (type, code, the 4 bytes after the checksum: the next hop's MTU for
    /// frag-needed) quoting the first `quote` bytes of `packet` (an IPv4 packet), with a valid checksum.
    static func icmpErrorMessage(
        type: UInt8, code: UInt8, rest: UInt32 = 0, quoting packet: [UInt8], quote: Int = 28
    ) -> [UInt8] {
        var message: [UInt8] =
            [
                type, code, 0, 0, UInt8(rest >> 24), UInt8(rest >> 16 & 0xff), UInt8(rest >> 8 & 0xff),
                UInt8(rest & 0xff),
            ]
            + packet.prefix(quote)
        let check = Checksum.internet(message)
        message[2] = UInt8(check >> 8)
        message[3] = UInt8(check & 0xff)
        return message
    }

    /// An ICMP error from `src` to `dst` about `packet` (see icmpErrorMessage), without DF as Linux sends them.
    static func icmpError(
        src: [UInt8], dst: [UInt8], type: UInt8, code: UInt8, rest: UInt32 = 0, quoting packet: [UInt8],
        quote: Int = 28, srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8] = defaultDestinationMAC
    ) -> [UInt8] {
        ipPacket(
            src: src, dst: dst, proto: 1,
            payload: icmpErrorMessage(type: type, code: code, rest: rest, quoting: packet, quote: quote),
            fragment: 0, srcMAC: srcMAC, dstMAC: dstMAC)
    }

    /// ARP over Ethernet for IPv4 (28-byte body). op 1 = request, 2 = reply.
    static func arp(
        op: UInt16 = 1, senderMAC: [UInt8], senderIP: [UInt8], targetMAC: [UInt8] = [0, 0, 0, 0, 0, 0],
        targetIP: [UInt8], srcMAC: [UInt8]? = nil, dstMAC: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    ) -> [UInt8] {
        let body: [UInt8] =
            [0, 1, 0x08, 0x00, 6, 4, UInt8(op >> 8), UInt8(op & 0xff)]
            + senderMAC + senderIP + targetMAC + targetIP
        return ethernet(dst: dstMAC, src: srcMAC ?? senderMAC, type: ethTypeARP, payload: body)
    }
}

/// An IPv6 extension header, as Frame.ipv6 chains them. Lengths are the header's length
/// field: 8-byte units beyond the first 8 (authentication: 4-byte units, minus 2).
enum IPv6Extension {
    case hopByHop(length: UInt8 = 0)
    case routing(length: UInt8 = 0)
    case destinationOptions(length: UInt8 = 0)
    /// `offset` in 8-byte units; `more`: the M flag.
    case fragment(offset: UInt16 = 0, more: Bool = false, id: UInt32 = 0x0102_0304)
    case authentication(length: UInt8 = 1)

    /// Its protocol number (the next header value that announces it).
    var number: UInt8 {
        switch self {
        case .hopByHop: 0
        case .routing: 43
        case .destinationOptions: 60
        case .fragment: 44
        case .authentication: 51
        }
    }

    /// The header's bytes, followed by `next`.
    func bytes(next: UInt8) -> [UInt8] {
        switch self {
        case .hopByHop(let length), .destinationOptions(let length):
            // One PadN option fills it, as an empty options header is padded.
            let size = (Int(length) + 1) * 8
            return [next, length, 1, UInt8(size - 4)] + Array(repeating: 0, count: size - 4)
        case .routing(let length):
            // Routing type 253 (RFC 4727's experiment), no segments left.
            return [next, length, 253, 0] + Array(repeating: 0, count: (Int(length) + 1) * 8 - 4)
        case .fragment(let offset, let more, let id):
            let field = offset << 3 | (more ? 1 : 0)
            return [
                next, 0, UInt8(field >> 8), UInt8(field & 0xff),
                UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff),
            ]
        case .authentication(let length):
            return [next, length, 0, 0] + Array(repeating: 0x5a, count: (Int(length) + 2) * 4 - 4)
        }
    }
}

extension Frame {
    static let ipv6DefaultDestinationMAC: [UInt8] = [0x02, 0x42, 0x0a, 0x28, 0x00, 0x01]

    static let icmp6EchoRequest: UInt8 = 128
    static let icmp6EchoReply: UInt8 = 129
    static let icmp6MLDReport: UInt8 = 131
    static let icmp6MLD2Report: UInt8 = 143
    static let icmp6RouterSolicitation: UInt8 = 133
    static let icmp6RouterAdvertisement: UInt8 = 134
    static let icmp6NeighbourSolicitation: UInt8 = 135
    static let icmp6NeighbourAdvertisement: UInt8 = 136
    static let icmp6Redirect: UInt8 = 137

    /// An IPv6 header, the extension headers in order, then `payload` (the upper-layer
    /// packet of protocol `nextHeader`). `payloadLength` overrides the header's field.
    static func ipv6(
        src: [UInt8], dst: [UInt8], nextHeader: UInt8, payload: [UInt8], extensions: [IPv6Extension] = [],
        hopLimit: UInt8 = 64, payloadLength: Int? = nil
    ) -> [UInt8] {
        precondition(src.count == 16 && dst.count == 16)
        let numbers = extensions.map(\.number) + [nextHeader]
        let chain = extensions.enumerated().flatMap { $0.element.bytes(next: numbers[$0.offset + 1]) }
        let length = payloadLength ?? chain.count + payload.count
        return [0x60, 0, 0, 0, UInt8(length >> 8 & 0xff), UInt8(length & 0xff), numbers[0], hopLimit] + src + dst
            + chain + payload
    }

    static func ethernet6(
        src: [UInt8], dst: [UInt8], nextHeader: UInt8, payload: [UInt8], extensions: [IPv6Extension],
        hopLimit: UInt8 = 64, srcMAC: [UInt8], dstMAC: [UInt8]?
    ) -> [UInt8] {
        ethernet(
            dst: dstMAC ?? (dst[0] == 0xff ? multicastMAC(dst) : ipv6DefaultDestinationMAC), src: srcMAC,
            type: ethTypeIPv6,
            payload: ipv6(
                src: src, dst: dst, nextHeader: nextHeader, payload: payload, extensions: extensions,
                hopLimit: hopLimit))
    }

    static func tcp6(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, flags: UInt8 = tcpSYN, payload: [UInt8] = [],
        extensions: [IPv6Extension] = [], srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8]? = nil
    ) -> [UInt8] {
        ethernet6(
            src: src, dst: dst, nextHeader: 6,
            payload: tcpSegment(src: src, dst: dst, sport: sport, dport: dport, flags: flags, payload: payload),
            extensions: extensions, srcMAC: srcMAC, dstMAC: dstMAC)
    }

    static func udp6(
        src: [UInt8], dst: [UInt8], sport: UInt16, dport: UInt16, payload: [UInt8] = Array("bridgeport udp".utf8),
        extensions: [IPv6Extension] = [], srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8]? = nil
    ) -> [UInt8] {
        ethernet6(
            src: src, dst: dst, nextHeader: 17,
            payload: udpDatagram(src: src, dst: dst, sport: sport, dport: dport, payload: payload),
            extensions: extensions, srcMAC: srcMAC, dstMAC: dstMAC)
    }

    /// An ICMPv6 message (type, code, then `body`) with its checksum over the pseudo-header.
    static func icmp6Message(src: [UInt8], dst: [UInt8], type: UInt8, code: UInt8 = 0, body: [UInt8]) -> [UInt8] {
        var message = [type, code, 0, 0] + body
        Checksum.store(in: &message, at: 2, src: src, dst: dst, proto: 58)
        return message
    }

    static func icmp6(
        src: [UInt8], dst: [UInt8], type: UInt8, code: UInt8 = 0, body: [UInt8], extensions: [IPv6Extension] = [],
        hopLimit: UInt8 = 64, srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8]? = nil
    ) -> [UInt8] {
        ethernet6(
            src: src, dst: dst, nextHeader: 58,
            payload: icmp6Message(src: src, dst: dst, type: type, code: code, body: body), extensions: extensions,
            hopLimit: hopLimit, srcMAC: srcMAC, dstMAC: dstMAC)
    }

    static func icmp6Echo(
        src: [UInt8], dst: [UInt8], type: UInt8 = icmp6EchoRequest, id: UInt16, seq: UInt16 = 1,
        extensions: [IPv6Extension] = [], srcMAC: [UInt8] = defaultSourceMAC, dstMAC: [UInt8]? = nil
    ) -> [UInt8] {
        icmp6(
            src: src, dst: dst, type: type,
            body: [UInt8(id >> 8), UInt8(id & 0xff), UInt8(seq >> 8), UInt8(seq & 0xff)]
                + Array("bridgeport ping6".utf8), extensions: extensions, srcMAC: srcMAC, dstMAC: dstMAC)
    }

    /// ff02::1:ffXX:XXXX, the solicited-node multicast address of `address` (RFC 4291 §2.7.1).
    static func solicitedNode(_ address: [UInt8]) -> [UInt8] {
        [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff] + address.suffix(3)
    }

    /// 33:33 and the address's last 4 octets (RFC 2464 §7).
    static func multicastMAC(_ address: [UInt8]) -> [UInt8] { [0x33, 0x33] + address.suffix(4) }

    /// A link-layer address option of neighbour discovery: 1 source, 2 target.
    static func linkLayerOption(_ type: UInt8, _ mac: [UInt8]) -> [UInt8] { [type, 1] + mac }

    /// A neighbour solicitation for `target`, to its solicited-node address unless `dst` is given.
    static func neighbourSolicitation(
        src: [UInt8], target: [UInt8], dst: [UInt8]? = nil, options: [UInt8] = [],
        srcMAC: [UInt8] = defaultSourceMAC
    ) -> [UInt8] {
        icmp6(
            src: src, dst: dst ?? solicitedNode(target), type: icmp6NeighbourSolicitation,
            body: [0, 0, 0, 0] + target + options, hopLimit: 255, srcMAC: srcMAC)
    }

    /// A neighbour advertisement for `target` (flags: R 0x80, S 0x40, O 0x20), to all nodes unless `dst` is given.
    static func neighbourAdvertisement(
        src: [UInt8], target: [UInt8], dst: [UInt8] = ip6("ff02::1"), flags: UInt8 = 0x20, options: [UInt8] = [],
        srcMAC: [UInt8] = defaultSourceMAC
    ) -> [UInt8] {
        icmp6(
            src: src, dst: dst, type: icmp6NeighbourAdvertisement, body: [flags, 0, 0, 0] + target + options,
            hopLimit: 255, srcMAC: srcMAC)
    }
}

/// An Ethernet + IPv4 frame read back from bytes, with its checksums recomputed.
struct ParsedIPv4: CustomStringConvertible {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 14 + 20, bytes[12] == 0x08, bytes[13] == 0x00, bytes[14] >> 4 == 4 else {
            throw Sandbox.Failure("not an Ethernet/IPv4 frame: \(bytes.hex)")
        }
        self.bytes = bytes
        guard bytes.count >= l4Offset, bytes.count >= 14 + totalLength else {
            throw Sandbox.Failure("IPv4 frame shorter than its headers: \(bytes.hex)")
        }
    }

    var sourceMAC: [UInt8] { Array(bytes[6..<12]) }
    var destinationMAC: [UInt8] { Array(bytes[0..<6]) }
    var headerLength: Int { Int(bytes[14] & 0x0f) * 4 }
    var totalLength: Int { Int(u16(16)) }
    var l4Offset: Int { 14 + headerLength }
    var proto: UInt8 { bytes[14 + 9] }
    var source: [UInt8] { Array(bytes[26..<30]) }
    var destination: [UInt8] { Array(bytes[30..<34]) }
    var options: [UInt8] { Array(bytes[34..<l4Offset]) }
    var sourcePort: UInt16 { u16(l4Offset) }
    var destinationPort: UInt16 { u16(l4Offset + 2) }
    var l4: ArraySlice<UInt8> { bytes[l4Offset..<(14 + totalLength)] }
    var l4ChecksumOffset: Int { l4Offset + (proto == 6 ? 16 : proto == 17 ? 6 : 2) }
    /// ICMP echo identifier.
    var icmpID: UInt16 { u16(l4Offset + 4) }
    /// The TCP/UDP checksum field as stored.
    var l4Checksum: UInt16 { u16(l4ChecksumOffset) }

    /// The IPv4 header checksum verifies over the header bytes as they are.
    var ipv4ChecksumValid: Bool { Checksum.fold(Checksum.sum(bytes[14..<l4Offset])) == 0xffff }

    /// The TCP or UDP checksum verifies over pseudo-header + segment as they are
    /// (a UDP checksum of 0, "none", does not count as valid here).
    var l4ChecksumValid: Bool {
        if proto == 1 { return Checksum.fold(Checksum.sum(l4)) == 0xffff }  // ICMP: no pseudo-header
        guard proto == 6 || proto == 17 else { return true }  // GRE, ESP, SCTP...: no checksum over the addresses
        if proto == 17 && l4Checksum == 0 { return false }
        let pseudo = Checksum.pseudoHeader(src: source, dst: destination, proto: proto, length: l4.count)
        return Checksum.fold(Checksum.sum(l4, into: pseudo)) == 0xffff
    }

    private func u16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }

    var description: String {
        "\(source.dotted):\(sourcePort) -> \(destination.dotted):\(destinationPort) proto \(proto) ihl \(headerLength / 4)"
    }
}

extension Array where Element == UInt8 {
    var dotted: String { map(String.init).joined(separator: ".") }
    var hex: String {
        map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

/// What BPF_PROG_TEST_RUN gives back: the verdict and the packet as the program left it, and the
/// kernel's mean time per run in nanoseconds (measured in the kernel around the program runs).
struct TestRunResult {
    let verdict: Int32
    let packet: [UInt8]
    var duration: UInt32 = 0
}

extension BPFProgram {
    /// BPF_PROG_TEST_RUN with the output packet (BPFProgram.testRun gives the verdict only),
    /// __sk_buff.ifindex = `ifindex` and __sk_buff.ingress_ifindex = `ingressIfindex`
    /// (both devices of the calling thread's network namespace). With `repeat` > 1 the kernel runs
    /// the program that often on the same skb (rewritten by the runs before) and reports the mean duration.
    /// `checksumComplete`: the skb carries a CHECKSUM_COMPLETE sum, as from a NIC, and the
    /// kernel fails the run (EBADMSG) when the program leaves it wrong.
    func run(
        _ packet: [UInt8], ifindex: UInt32, ingressIfindex: UInt32 = 0, repeat count: UInt32 = 1,
        checksumComplete: Bool = true
    ) throws -> TestRunResult {
        var ctx = __sk_buff()
        ctx.ifindex = ifindex
        ctx.ingress_ifindex = ingressIfindex
        var out = [UInt8](repeating: 0, count: packet.count + 256)
        var opts = bpf_test_run_opts()
        let (ret, outSize): (Int32, UInt32) = packet.withUnsafeBytes { inBuf in
            out.withUnsafeMutableBytes { outBuf in
                withUnsafeMutablePointer(to: &ctx) { ctxPtr in
                    opts.sz = MemoryLayout<bpf_test_run_opts>.size
                    opts.data_in = inBuf.baseAddress
                    opts.data_size_in = UInt32(inBuf.count)
                    opts.data_out = outBuf.baseAddress
                    opts.data_size_out = UInt32(outBuf.count)
                    opts.ctx_in = UnsafeRawPointer(ctxPtr)
                    opts.ctx_size_in = UInt32(MemoryLayout<__sk_buff>.size)
                    opts.`repeat` = Int32(clamping: count)
                    opts.flags = checksumComplete ? UInt32(BPF_F_TEST_SKB_CHECKSUM_COMPLETE) : 0
                    let r = bpf_prog_test_run_opts(fd, &opts)
                    return (r < 0 ? -errno : 0, opts.data_size_out)
                }
            }
        }
        if ret < 0 { throw BPFError.testRunFailed(program: name, errno: -ret) }
        return TestRunResult(
            verdict: Int32(bitPattern: opts.retval), packet: Array(out.prefix(Int(outSize))), duration: opts.duration)
    }
}
