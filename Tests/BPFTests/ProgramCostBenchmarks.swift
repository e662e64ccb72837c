import BPF
import CBPF
import Foundation
import Glibc
import XCTest

/// `make bench`: what each tc program costs per packet, measured by the kernel with
/// BPF_PROG_TEST_RUN on realistic frames and map contents (10,000 published ports,
/// 10,000 established published flows, a few endpoints), in DataplaneFixture's private
/// namespace. Skipped unless BRIDGEPORT_BENCH_OUT names the markdown file to write:
///
///     BRIDGEPORT_BENCH_OUT=results.md swift test --filter ProgramCostBenchmarks
///
/// BRIDGEPORT_BENCH_RUNS overrides the number of packets per scenario (default 1,000,000).
/// With BRIDGEPORT_BENCH_HELPER_CALLS=1 the same scenarios run the objects of `make bpf-counted`
/// (built here), which count every helper call, and the file gets each scenario's helper calls
/// per packet over its timed runs (HelperCalls) instead of its times.
///
/// A program that rewrites the packet cannot be timed with one test run of repeat=N: the
/// kernel reruns it on the same skb, which the first run already rewrote, so the later
/// runs take another path. Those scenarios are N separate test runs of one packet each
/// (syscall overhead is outside the kernel's measurement; the clock reads around the
/// program are inside it, so they are upper bounds). The others are one run of repeat=N.
/// Each scenario first checks verdict and output, and every timed run's verdict is
/// checked too, so a drop or pass-through path cannot be timed by mistake.
final class ProgramCostBenchmarks: XCTestCase {
    typealias T = NATAndPolicyTests

    static let publishedPort: UInt16 = 5000
    static let containerPort: UInt16 = 80

    struct Row {
        let program: String
        let scenario: String
        let nanoseconds: Double
        let runs: Int
        let separateRuns: Bool
        /// The path's target in ns per packet, where one is set (make bench's target rows).
        var target: Double? = nil
        /// Its helper calls, in the helper-call mode.
        var calls: HelperCalls? = nil
    }

    /// Runs a scenario's timed runs, `packets` runs of programs in all, and in the helper-call
    /// mode (`counts`: the counted objects' bp_helper_calls) counts their helper calls.
    struct Meter {
        let counts: BPFMap?

        func run<R>(packets: Int, _ body: () throws -> R) throws -> (R, HelperCalls?) {
            guard let counts else { return (try body(), nil) }
            return try HelperCalls.counting(counts, packets: packets, body)
        }
    }

    enum Check: Error, CustomStringConvertible {
        case failed(String)
        var description: String {
            if case .failed(let s) = self { return s }
            return ""
        }
    }

    static func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw Check.failed(message()) }
    }

    func testProgramCostPerPacket() throws {
        guard let outPath = getenv("BRIDGEPORT_BENCH_OUT").map({ String(cString: $0) }), !outPath.isEmpty else {
            throw XCTSkip("benchmark: set BRIDGEPORT_BENCH_OUT=<file.md> to run it (make bench)")
        }
        try Sandbox.requireRoot()
        let counting = getenv("BRIDGEPORT_BENCH_HELPER_CALLS").map { String(cString: $0) } == "1"
        let objects: DataplaneFixture.Objects = counting ? .counted : .normal
        try DataplaneFixture.buildObjects(objects)
        let runs = getenv("BRIDGEPORT_BENCH_RUNS").flatMap { Int(String(cString: $0)) } ?? 1_000_000
        let warmup = min(10_000, runs / 10)

        let f = try DataplaneFixture.make(for: self, objects: objects)
        try Self.populate(f)
        let meter = Meter(counts: counting ? try HelperCalls.map(pinRoot: f.pinRoot) : nil)

        var rows: [Row] = []
        let mac = T.containerMAC
        let gwMAC = T.gatewayMAC
        let up = (prog: f.uplink, ifindex: f.uplinkIfindex, ingress: f.uplinkIfindex)
        let epIn = (prog: f.endpoint, ifindex: f.endpointIfindex, ingress: f.endpointIfindex)
        let epOut = (prog: f.endpointEgress, ifindex: f.endpointIfindex, ingress: UInt32(0))
        let request = Array(
            "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n".utf8)
        let response = Array(
            ("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n\r\n"
                + String(repeating: "x", count: 1024)).utf8)

        // 1. bp_up_ingress: a SYN to a published port, a new flow every run. The frames differ
        //    in client address and port (patched between runs, outside the kernel's timing);
        //    each run's flow is deleted after it (also untimed), which both proves the
        //    run inserted it and keeps the map at its realistic size.
        let synTemplate = Frame.tcp(
            src: Self.newClient(0).ip, dst: T.hostIP, sport: Self.newClient(0).port, dport: Self.publishedPort)
        for i in [1, 65_535, 999_999] {  // the patching gives what the frame builder gives
            var patched = synTemplate
            Self.setSource(&patched, Self.newClient(i))
            try Self.check(
                patched
                    == Frame.tcp(
                        src: Self.newClient(i).ip, dst: T.hostIP, sport: Self.newClient(i).port,
                        dport: Self.publishedPort),
                "SYN patching for flow \(i) differs from Frame.tcp")
        }
        do {
            let probe = Self.newClient(warmup + runs)  // a flow the timed loop does not use
            var syn = synTemplate
            Self.setSource(&syn, probe)
            let result = try Sandbox.inNetns(f.ns) {
                try up.prog.run(syn, ifindex: up.ifindex, ingressIfindex: up.ingress)
            }
            try Self.expectRewritten(
                result, to: Frame.tcp(src: probe.ip, dst: T.container, sport: probe.port, dport: Self.containerPort),
                "scenario 1 (SYN to a published port)")
            try Self.check(try Self.deleteFlow(f.maps.flows.map, probe), "scenario 1: the SYN left no flow")
        }
        let flowCount = try f.flowEntries().count
        let flows = f.maps.flows.map
        let ((synNs, synWrong, synMissing), synCalls) = try meter.run(packets: warmup + runs) {
            try Sandbox.inNetns(f.ns) {
                var missing = 0
                let (ns, wrong) = try Self.separateRuns(
                    up.prog, ifindex: up.ifindex, ingressIfindex: up.ingress, template: synTemplate,
                    runs: runs, warmup: warmup, verdict: T.redirect,
                    prepare: { i, frame in Self.setSource(&frame, Self.newClient(i)) },
                    after: { i in if !(try Self.deleteFlow(flows, Self.newClient(i))) { missing += 1 } })
                return (ns, wrong, missing)
            }
        }
        try Self.check(
            synWrong == 0, "scenario 1: \(synWrong) of \(warmup + runs) runs had another verdict than TC_ACT_REDIRECT")
        try Self.check(synMissing == 0, "scenario 1: \(synMissing) runs created no flow")
        try Self.check(try f.flowEntries().count == flowCount, "scenario 1: bp_flows grew")
        rows.append(
            Row(
                program: BP_PROG_UPLINK_INGRESS,
                scenario: "TCP SYN to a published port: new flow (DNAT, both flow entries, redirect)",
                nanoseconds: synNs, runs: runs, separateRuns: true, target: 500, calls: synCalls))

        // 2. bp_up_ingress: the ACK (with a request) of an established published flow.
        let flowSyn = Frame.tcp(src: T.client, dst: T.hostIP, sport: T.clientPort, dport: Self.publishedPort)
        try Self.expectRewritten(
            try f.up(flowSyn),
            to: Frame.tcp(src: T.client, dst: T.container, sport: T.clientPort, dport: Self.containerPort),
            "the SYN of the established flow")
        let ack = Frame.tcp(
            src: T.client, dst: T.hostIP, sport: T.clientPort, dport: Self.publishedPort, flags: Frame.tcpACK,
            payload: request)
        try Self.expectRewritten(
            try f.up(ack),
            to: Frame.tcp(
                src: T.client, dst: T.container, sport: T.clientPort, dport: Self.containerPort,
                flags: Frame.tcpACK, payload: request),
            "scenario 2 (ACK of an established flow)")
        let established = try f.flowEntries().count
        rows.append(
            try Self.timedRedirects(
                up, ack, scenario: "TCP ACK of an established published flow (DNAT, redirect)", target: 250,
                runs: runs, warmup: warmup, meter: meter, in: f))
        try Self.check(try f.flowEntries().count == established, "scenario 2: an established flow added flow entries")

        // 3. bp_up_ingress: for the host itself, not a published port (ssh): the tax on other traffic.
        let ssh = Frame.tcp(
            src: T.client, dst: T.hostIP, sport: 50022, dport: 22, flags: Frame.tcpACK,
            payload: Array(repeating: 0x5a, count: 64))
        let (hostNs, hostCalls) = try meter.run(packets: runs + 1) {
            try Self.repeated(up, ssh, runs: runs, verdict: T.next, in: f, "scenario 3 (host traffic, not published)")
        }
        rows.append(
            Row(
                program: BP_PROG_UPLINK_INGRESS,
                scenario: "TCP to the host, not a published port (the tax on other traffic)",
                nanoseconds: hostNs, runs: runs, separateRuns: false, target: 50, calls: hostCalls))

        // 4. bp_ep_ingress: the container's reply of the published flow: reverse NAT, redirect.
        let reply = Frame.tcp(
            src: T.container, dst: T.client, sport: Self.containerPort, dport: T.clientPort, flags: Frame.tcpACK,
            payload: response, srcMAC: mac, dstMAC: gwMAC)
        try Self.expectRewritten(
            try f.ep(reply),
            to: Frame.tcp(
                src: T.hostIP, dst: T.client, sport: Self.publishedPort, dport: T.clientPort,
                flags: Frame.tcpACK, payload: response),
            "scenario 4 (reply of a published flow)")
        rows.append(
            try Self.timedRedirects(
                epIn, reply, scenario: "container's reply of a published flow (policy, reverse NAT, redirect)",
                target: 250, runs: runs, warmup: warmup, meter: meter, in: f))

        // 5. bp_ep_ingress: container to container on the same network: policy and counters, no NAT.
        let icc = Frame.tcp(
            src: T.container, dst: T.neighbour, sport: 41000, dport: 5432, flags: Frame.tcpACK,
            payload: Array(repeating: 0x51, count: 128), srcMAC: mac, dstMAC: [0x02, 0x42, 0x0a, 0x28, 0x00, 0x03])
        let (iccNs, iccCalls) = try meter.run(packets: runs + 1) {
            try Self.repeated(epIn, icc, runs: runs, verdict: T.next, in: f, "scenario 5 (container to container)")
        }
        rows.append(
            Row(
                program: BP_PROG_ENDPOINT_INGRESS,
                scenario: "container to container, same network (policy and counters, no NAT)",
                nanoseconds: iccNs, runs: runs, separateRuns: false, target: 80, calls: iccCalls))

        // 6. bp_ep_egress: what the container receives is counted.
        let delivered = Frame.tcp(
            src: T.client, dst: T.container, sport: T.clientPort, dport: Self.containerPort, flags: Frame.tcpACK,
            payload: request, srcMAC: gwMAC, dstMAC: mac)
        let before = try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx.packets ?? 0
        let (rxNs, rxCalls) = try meter.run(packets: runs + 1) {
            try Self.repeated(epOut, delivered, runs: runs, verdict: T.next, in: f, "scenario 6 (container receives)")
        }
        let counted = (try f.maps.endpointStats(ifindex: f.endpointIfindex)?.rx.packets ?? 0) - before
        try Self.check(counted == UInt64(runs + 1), "scenario 6: \(counted) packets counted, \(runs + 1) expected")
        rows.append(
            Row(
                program: BP_PROG_ENDPOINT_EGRESS, scenario: "what the container receives (counters)",
                nanoseconds: rxNs, runs: runs, separateRuns: false, calls: rxCalls))

        // 7. bp_ep_ingress: a packet of an established NAT66 flow (IPv6 masquerade), the next
        //    hop's neighbour known as for IPv4. Left out with objects without NAT66 (an earlier
        //    version's, given by BRIDGEPORT_TEST_BPF_DIR for comparison).
        try f.setEndpoint(
            flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE, BP_EP_F_MASQUERADE6],
            ip6: IPv6Tests.container, gatewayMAC: T.gatewayMAC, ownSubnet: DataplaneFixture.ownSubnet)
        try f.inNS("ip", "-6", "neigh", "replace", "2001:db8:1::fe", "lladdr", "02:00:00:00:00:fe", "dev", "bpt-up")
        let syn6 = Frame.tcp6(
            src: IPv6Tests.container, dst: IPv6Tests.internet, sport: 41000, dport: 443, srcMAC: mac, dstMAC: gwMAC)
        if try f.ep(syn6).verdict == T.redirect {
            let ack6 = Frame.tcp6(
                src: IPv6Tests.container, dst: IPv6Tests.internet, sport: 41000, dport: 443, flags: Frame.tcpACK,
                payload: request, srcMAC: mac, dstMAC: gwMAC)
            rows.append(
                try Self.timedRedirects(
                    epIn, ack6, scenario: "IPv6 packet of a NAT66-masqueraded flow (policy, SNAT, redirect)",
                    target: nil, runs: runs, warmup: warmup, meter: meter, in: f))

            // 7b. bp_up_ingress (tail-calling bp_up_nat66) and bp_ep_ingress (bp_ep_nat66):
            //     scenarios 2 and 4 over IPv6, the packets of bench/paths.sh's bridgeport6 path.
            try f.publish6(
                host: IPv6Tests.hostIP, Self.publishedPort, proto: T.tcp, to: IPv6Tests.container, Self.containerPort)
            try f.inNS(
                "ip", "-6", "neigh", "replace", "fd00:40::2", "lladdr", "02:42:0a:28:00:02", "nud", "permanent", "dev",
                "bpt-ep")
            let client6 = Publish6Tests.client
            let synIn6 = Frame.tcp6(src: client6, dst: IPv6Tests.hostIP, sport: 40000, dport: Self.publishedPort)
            try Self.expectRewritten6(
                try f.up(synIn6),
                to: Frame.tcp6(src: client6, dst: IPv6Tests.container, sport: 40000, dport: Self.containerPort),
                "the SYN of the established IPv6 flow")
            for (program, target, scenario, frame, expected) in [
                (
                    up, 250.0, "IPv6: TCP ACK of an established published flow (DNAT66, redirect)",
                    Frame.tcp6(
                        src: client6, dst: IPv6Tests.hostIP, sport: 40000, dport: Self.publishedPort,
                        flags: Frame.tcpACK, payload: request),
                    Frame.tcp6(
                        src: client6, dst: IPv6Tests.container, sport: 40000, dport: Self.containerPort,
                        flags: Frame.tcpACK, payload: request)
                ),
                (
                    epIn, 250.0, "IPv6: container's reply of a published flow (policy, reverse NAT66, redirect)",
                    Frame.tcp6(
                        src: IPv6Tests.container, dst: client6, sport: Self.containerPort, dport: 40000,
                        flags: Frame.tcpACK, payload: response, srcMAC: mac, dstMAC: gwMAC),
                    Frame.tcp6(
                        src: IPv6Tests.hostIP, dst: client6, sport: Self.publishedPort, dport: 40000,
                        flags: Frame.tcpACK, payload: response, srcMAC: mac, dstMAC: gwMAC)
                ),
            ] {
                try Self.expectRewritten6(
                    try Sandbox.inNetns(f.ns) {
                        try program.prog.run(frame, ifindex: program.ifindex, ingressIfindex: program.ingress)
                    }, to: expected, scenario)
                rows.append(
                    try Self.timedRedirects(
                        program, frame, scenario: scenario, target: target, runs: runs, warmup: warmup, meter: meter,
                        in: f))
            }
        }

        // 8. bp_ep_ingress: a dropped packet (a spoofed source), with nobody listening to drop
        //    events (one array lookup more than the counter), then with drops subscribed: under
        //    the rate limit (an event in the ring per packet; runs of 1,000, the ring drained
        //    between them, untimed), and over it (each event counted lost).
        try f.setEndpoint(flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE])
        let spoofed = Frame.tcp(
            src: ip("10.40.0.99"), dst: T.neighbour, sport: 41000, dport: 5432, flags: Frame.tcpACK,
            payload: Array(repeating: 0x51, count: 128), srcMAC: mac, dstMAC: [0x02, 0x42, 0x0a, 0x28, 0x00, 0x03])
        let monitor = f.maps.monitor
        defer { try? monitor.set(subscribed: [], rate: 0) }
        try monitor.set(subscribed: [], rate: 0)
        let (quietDropNs, quietDropCalls) = try meter.run(packets: runs + 1) {
            try Self.repeated(
                epIn, spoofed, runs: runs, verdict: T.shot, in: f, "scenario 8 (a drop, nobody listening)")
        }
        rows.append(
            Row(
                program: BP_PROG_ENDPOINT_INGRESS, scenario: "a dropped packet (spoofed source), no drop subscriber",
                nanoseconds: quietDropNs, runs: runs, separateRuns: false, calls: quietDropCalls))
        try monitor.set(subscribed: [.drop], rate: 0)
        let ring = try EventRing(map: f.maps.events)
        _ = try ring.poll(timeout: 0)
        let batch = 1_000
        var emitted = 0
        var totalNs = 0.0
        let batches = max(1, runs / batch)
        let (_, subscribedCalls) = try meter.run(packets: batches * (batch + 1)) {
            for _ in 0..<batches {
                totalNs += try Self.repeated(
                    epIn, spoofed, runs: batch, verdict: T.shot, in: f, "scenario 8 (a drop, subscribed)")
                emitted += try ring.poll(timeout: 0).count
            }
        }
        // Each `repeated` runs the frame once more before its timed run: both emit.
        try Self.check(
            emitted == batches * (batch + 1), "scenario 8: \(emitted) events for \(batches * (batch + 1)) drops")
        rows.append(
            Row(
                program: BP_PROG_ENDPOINT_INGRESS,
                scenario: "a dropped packet, drop events subscribed (an event in the ring each)",
                nanoseconds: totalNs / Double(batches), runs: batches * batch, separateRuns: false,
                calls: subscribedCalls))
        try monitor.set(subscribed: [.drop], rate: 1)
        let lostBefore = try monitor.lostCounts()[.drop] ?? 0
        let (limitedNs, limitedCalls) = try meter.run(packets: runs + 1) {
            try Self.repeated(
                epIn, spoofed, runs: runs, verdict: T.shot, in: f, "scenario 8 (a drop, over the rate limit)")
        }
        let lost = (try monitor.lostCounts()[.drop] ?? 0) - lostBefore
        _ = try ring.poll(timeout: 0)
        try Self.check(lost >= UInt64(runs - 2), "scenario 8: \(lost) events lost over the limit of 1/s")
        rows.append(
            Row(
                program: BP_PROG_ENDPOINT_INGRESS,
                scenario: "a dropped packet, drop events subscribed but over the rate limit (counted lost)",
                nanoseconds: limitedNs, runs: runs, separateRuns: false, calls: limitedCalls))
        if counting {
            let table = HelperCalls.render(rows.compactMap { row in row.calls.map { (row.program, row.scenario, $0) } })
            print(table)
            try table.write(toFile: outPath, atomically: true, encoding: .utf8)
            return
        }

        // The floor: a program that only returns TCX_NEXT, both ways. What the separate-run
        // method adds (the clock reads around each run) is the difference of the two.
        let floor = try Self.loadTrivialProgram()
        defer { close(floor) }
        let (floorRepeatedNs, floorSeparateNs, floorWrong) = try Sandbox.inNetns(f.ns) {
            let repeated = try Self.separateRuns(
                fd: floor, name: "floor", ifindex: up.ifindex, ingressIfindex: up.ingress, template: ssh,
                runs: 1, warmup: 0, verdict: T.next, repeat: Int32(runs))
            let separate = try Self.separateRuns(
                fd: floor, name: "floor", ifindex: up.ifindex, ingressIfindex: up.ingress, template: ssh,
                runs: runs, warmup: warmup, verdict: T.next)
            return (repeated.nanoseconds, separate.nanoseconds, repeated.wrongVerdicts + separate.wrongVerdicts)
        }
        try Self.check(floorWrong == 0, "floor: the trivial program gave another verdict than TCX_NEXT")
        // And scenario 3 as separate runs, which shows what else a fresh skb per run costs a real program.
        let (hostSeparateNs, hostWrong) = try Sandbox.inNetns(f.ns) {
            try Self.separateRuns(
                up.prog, ifindex: up.ifindex, ingressIfindex: up.ingress, template: ssh,
                runs: runs, warmup: warmup, verdict: T.next)
        }
        try Self.check(
            hostWrong == 0, "scenario 3 as separate runs: \(hostWrong) runs had another verdict than TCX_NEXT")
        let floorRows = [
            Row(
                program: "(floor)", scenario: "`return TCX_NEXT` only, one test run of repeat=N",
                nanoseconds: floorRepeatedNs,
                runs: runs, separateRuns: false),
            Row(
                program: "(floor)", scenario: "`return TCX_NEXT` only, separate test runs",
                nanoseconds: floorSeparateNs,
                runs: runs, separateRuns: true),
        ]

        let table = Self.render(
            rows, floor: floorRows, runs: runs, hostBothWays: (separate: hostSeparateNs, repeated: hostNs))
        print(table)
        try table.write(toFile: outPath, atomically: true, encoding: .utf8)
    }

    // MARK: map contents

    /// 10,000 published ports (half on the uplink's address, half on every address; TCP and
    /// UDP) to containers behind a few endpoints, plus the measured one (198.51.100.1:5000/tcp
    /// -> 10.40.0.2:80 behind bpt-ep); 10,000 established published flows; the endpoints
    /// themselves; and neighbour entries for the container and the default gateway, as a
    /// host that is passing traffic has them (so the FIB lookups succeed outright).
    static func populate(_ f: DataplaneFixture) throws {
        try f.setEndpoint(
            flags: [BP_EP_F_ENFORCE_SOURCE, BP_EP_F_ISOLATED, BP_EP_F_MASQUERADE], gatewayMAC: T.gatewayMAC,
            ownSubnet: DataplaneFixture.ownSubnet)
        var others: [(ifindex: UInt32, ip: [UInt8], network: UInt16)] = []
        for i in 0..<6 {
            let network: UInt16 = i < 4 ? 1 : 2
            let address: [UInt8] = [10, network == 1 ? 40 : 50, 0, UInt8(3 + i)]
            others.append((UInt32(1000 + i), address, network))
        }
        for o in others {
            try f.maps.setEndpoint(
                ifindex: o.ifindex,
                bp_endpoint(
                    ipv4: o.ip, mac: [0x02, 0x42] + o.ip, networkID: o.network,
                    flags: BP_EP_F_ENFORCE_SOURCE.rawValue | BP_EP_F_ISOLATED.rawValue
                        | BP_EP_F_MASQUERADE.rawValue, gatewayMAC: T.gatewayMAC, mtu: 1500))
        }
        for i in 0..<10_000 {
            let o = others[i % others.count]
            let proto = i % 4 == 3 ? T.udp : T.tcp
            let hostPort = UInt16(10_000 + i)
            let port = UInt16(8000 + i / others.count)
            let key = bp_port_key(
                host_ip: i % 2 == 0 ? be32(T.hostIP) : 0, host_port: be16(hostPort), proto: proto, pad: 0)
            var value = bp_port_target()
            value.ip = be32(o.ip)
            value.port = be16(port)
            value.ifindex = o.ifindex
            try f.maps.ports.update(key, value)
            try f.maps.targets.update(
                bp_target_key(ip: be32(o.ip), port: be16(port), proto: proto, pad: 0), bp_target())
        }
        try f.publish(host: T.hostIP, publishedPort, proto: T.tcp, to: T.container, containerPort)
        for i in 0..<10_000 {
            try f.seedPublishedFlow(
                client: [198, 18, UInt8(i >> 8), UInt8(i & 0xff)], clientPort: UInt16(20_000 + i % 40_000),
                host: T.hostIP, hostPort: publishedPort, container: T.container, containerPort: containerPort,
                proto: T.tcp)
        }
        try f.inNS(
            "ip", "neigh", "replace", "10.40.0.2", "lladdr", "02:42:0a:28:00:02", "nud", "permanent", "dev", "bpt-ep")
        try f.inNS(
            "ip", "neigh", "replace", "198.51.100.254", "lladdr", "02:00:5e:00:53:fe", "nud", "permanent", "dev",
            "bpt-up")
    }

    // MARK: the new flows of scenario 1

    /// Flow i's client: 100.64.k.1 with k = i / 50,000, port 10,000 + i % 50,000.
    static func newClient(_ i: Int) -> (ip: [UInt8], port: UInt16) {
        let k = i / 50_000
        return ([100, 64 + UInt8(k >> 8 & 0x3f), UInt8(k & 0xff), 1], UInt16(10_000 + i % 50_000))
    }

    /// Deletes both entries of the published flow of this client; false if either was missing.
    static func deleteFlow(_ flows: BPFMap, _ client: (ip: [UInt8], port: UInt16)) throws -> Bool {
        let inbound = try flows.delete(
            bp_flow_key(
                src: be32(client.ip), dst: be32(T.hostIP), sport: be16(client.port),
                dport: be16(publishedPort), proto: T.tcp))
        let reply = try flows.delete(
            bp_flow_key(
                src: be32(T.container), dst: be32(client.ip), sport: be16(containerPort),
                dport: be16(client.port), proto: T.tcp))
        return inbound && reply
    }

    /// Sets source address and port of an Ethernet/IPv4 (no options)/TCP frame, with fresh checksums.
    static func setSource(_ frame: inout [UInt8], _ client: (ip: [UInt8], port: UInt16)) {
        frame.replaceSubrange(26..<30, with: client.ip)
        frame[34] = UInt8(client.port >> 8)
        frame[35] = UInt8(client.port & 0xff)
        frame[24] = 0
        frame[25] = 0
        let ipSum = Checksum.internet(frame[14..<34])
        frame[24] = UInt8(ipSum >> 8)
        frame[25] = UInt8(ipSum & 0xff)
        frame[50] = 0
        frame[51] = 0
        let pseudo = Checksum.pseudoHeader(
            src: client.ip, dst: Array(frame[30..<34]), proto: 6, length: frame.count - 34)
        let tcpSum = Checksum.internet(frame[34...], into: pseudo)
        frame[50] = UInt8(tcpSum >> 8)
        frame[51] = UInt8(tcpSum & 0xff)
    }

    // MARK: measuring

    /// TC_ACT_REDIRECT, and the packet from the EtherType on is exactly `expected`'s (the MAC
    /// addresses are the FIB's business), with valid checksums.
    static func expectRewritten(_ result: TestRunResult, to expected: [UInt8], _ what: String) throws {
        try check(result.verdict == T.redirect, "\(what): verdict \(result.verdict), TC_ACT_REDIRECT (7) expected")
        let out = try ParsedIPv4(result.packet)
        try check(out.ipv4ChecksumValid && out.l4ChecksumValid, "\(what): bad checksum in \(out)")
        let wanted = (try? ParsedIPv4(expected)).map { "\($0)" } ?? "?"
        let forwarded = Frame.afterHop(expected)  // a translated packet has passed a hop: TTL - 1
        try check(
            Array(result.packet.dropFirst(12)) == Array(forwarded.dropFirst(12)),
            "\(what): got \(out), expected \(wanted)")
    }

    /// The same for an Ethernet/IPv6 frame without extension headers: the hop limit one less,
    /// the upper-layer checksum valid over the new pseudo-header.
    static func expectRewritten6(_ result: TestRunResult, to expected: [UInt8], _ what: String) throws {
        try check(result.verdict == T.redirect, "\(what): verdict \(result.verdict), TC_ACT_REDIRECT (7) expected")
        try check(Publish6Tests.checksumValid(result.packet), "\(what): bad checksum in \(result.packet.hex)")
        try check(
            Array(result.packet.dropFirst(12)) == Array(NAT66Tests.afterHop(expected).dropFirst(12)),
            "\(what): got \(result.packet.hex), expected \(NAT66Tests.afterHop(expected).hex)")
    }

    /// A scenario whose program rewrites and redirects `frame`: `runs` separate test runs after
    /// `warmup`, every one's verdict checked to be TC_ACT_REDIRECT; its row (`target`: its ns).
    static func timedRedirects(
        _ program: (prog: BPFProgram, ifindex: UInt32, ingress: UInt32), _ frame: [UInt8], scenario: String,
        target: Double?, runs: Int, warmup: Int, meter: Meter, in f: DataplaneFixture
    ) throws -> Row {
        let ((ns, wrong), calls) = try meter.run(packets: warmup + runs) {
            try Sandbox.inNetns(f.ns) {
                try separateRuns(
                    program.prog, ifindex: program.ifindex, ingressIfindex: program.ingress, template: frame,
                    runs: runs, warmup: warmup, verdict: T.redirect)
            }
        }
        try check(wrong == 0, "\(scenario): \(wrong) runs had another verdict than TC_ACT_REDIRECT")
        return Row(
            program: program.prog.name, scenario: scenario, nanoseconds: ns, runs: runs, separateRuns: true,
            target: target, calls: calls)
    }

    /// One test run of repeat=`runs` after a checked single run; the kernel's mean per run.
    static func repeated(
        _ target: (prog: BPFProgram, ifindex: UInt32, ingress: UInt32), _ frame: [UInt8], runs: Int,
        verdict: Int32, in f: DataplaneFixture, _ what: String
    ) throws -> Double {
        let (first, all) = try Sandbox.inNetns(f.ns) {
            (
                try target.prog.run(frame, ifindex: target.ifindex, ingressIfindex: target.ingress),
                try target.prog.run(
                    frame, ifindex: target.ifindex, ingressIfindex: target.ingress, repeat: UInt32(runs))
            )
        }
        for (result, how) in [(first, "one run"), (all, "\(runs) runs")] {
            try check(result.verdict == verdict, "\(what), \(how): verdict \(result.verdict), \(verdict) expected")
            try check(result.packet == frame, "\(what), \(how): the packet was changed")
        }
        return Double(all.duration)
    }

    /// BPF_PROG_TEST_RUN of repeat=1, `warmup + runs` times on `template` (changed by `prepare`
    /// before run i), on the calling thread (in the fixture's namespace). Returns the mean of the
    /// kernel-reported durations of the last `runs` runs and how many runs had another verdict.
    static func separateRuns(
        _ program: BPFProgram, ifindex: UInt32, ingressIfindex: UInt32, template: [UInt8],
        runs: Int, warmup: Int, verdict: Int32,
        prepare: ((Int, inout [UInt8]) -> Void)? = nil,
        after: ((Int) throws -> Void)? = nil
    ) throws -> (nanoseconds: Double, wrongVerdicts: Int) {
        try separateRuns(
            fd: program.fd, name: program.name, ifindex: ifindex, ingressIfindex: ingressIfindex, template: template,
            runs: runs, warmup: warmup, verdict: verdict, prepare: prepare, after: after)
    }

    /// The same for a program given by its fd; with `repeat` > 1 each test run is of that many repeats.
    static func separateRuns(
        fd: Int32, name: String, ifindex: UInt32, ingressIfindex: UInt32, template: [UInt8],
        runs: Int, warmup: Int, verdict: Int32, repeat count: Int32 = 1,
        prepare: ((Int, inout [UInt8]) -> Void)? = nil,
        after: ((Int) throws -> Void)? = nil
    ) throws -> (nanoseconds: Double, wrongVerdicts: Int) {
        var frame = template
        var ctx = __sk_buff()
        ctx.ifindex = ifindex
        ctx.ingress_ifindex = ingressIfindex
        var total: UInt64 = 0
        var wrong = 0
        for i in 0..<(warmup + runs) {
            prepare?(i, &frame)
            var opts = bpf_test_run_opts()
            let err: Int32 = frame.withUnsafeBytes { packet in
                withUnsafePointer(to: &ctx) { ctxPtr in
                    opts.sz = MemoryLayout<bpf_test_run_opts>.size
                    opts.data_in = packet.baseAddress
                    opts.data_size_in = UInt32(packet.count)
                    opts.ctx_in = UnsafeRawPointer(ctxPtr)
                    opts.ctx_size_in = UInt32(MemoryLayout<__sk_buff>.size)
                    opts.`repeat` = count
                    return bpf_prog_test_run_opts(fd, &opts) < 0 ? errno : 0
                }
            }
            if err != 0 { throw BPFError.testRunFailed(program: name, errno: err) }
            if Int32(bitPattern: opts.retval) != verdict { wrong += 1 }
            if i >= warmup { total += UInt64(opts.duration) }
            try after?(i)
        }
        return (Double(total) / Double(runs), wrong)
    }

    /// A tc program of two instructions, r0 = -1 (TCX_NEXT); exit. Returns its fd.
    static func loadTrivialProgram() throws -> Int32 {
        let code: [UInt8] = [
            0xb7, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,  // BPF_ALU64 | BPF_MOV | BPF_K: r0 = -1
            0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]  // BPF_JMP | BPF_EXIT
        let fd = code.withUnsafeBytes { insns in
            bpf_prog_load(
                BPF_PROG_TYPE_SCHED_CLS, "bp_floor", "GPL", insns.baseAddress!.assumingMemoryBound(to: bpf_insn.self),
                2, nil)
        }
        if fd < 0 { throw Check.failed("loading the trivial program: \(String(cString: strerror(-fd)))") }
        return fd
    }

    // MARK: the table

    static func render(
        _ rows: [Row], floor: [Row], runs: Int, hostBothWays: (separate: Double, repeated: Double)
    ) -> String {
        func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
        let kernel = read("/proc/sys/kernel/osrelease")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        let cpu =
            read("/proc/cpuinfo")?.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" }
            ?? "?"
        let jit =
            read("/proc/sys/net/core/bpf_jit_enable")?.trimmingCharacters(in: .whitespacesAndNewlines) == "0"
            ? "off" : "on"
        func count(_ n: Int) -> String {
            let digits = String(n)
            var out = ""
            for (i, c) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
                out.append(c)
            }
            return out
        }
        var lines = [
            "Kernel \(kernel), CPU \(cpu) (\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) online), BPF JIT \(jit); "
                + "BPF_PROG_TEST_RUN, kernel-measured ns per packet.",
            "",
            "| program | scenario | ns/packet | runs | target |",
            "|---|---|---:|---:|---|",
        ]
        func cells(_ row: Row, _ verdict: String) -> String {
            "| \(row.program) | \(row.scenario)\(row.separateRuns ? " ¹" : "") | \(String(format: "%.0f", row.nanoseconds)) "
                + "| \(count(row.runs)) | \(verdict) |"
        }
        for row in rows {
            let verdict = row.target.map { "≤ \(Int($0)) ns: " + (row.nanoseconds <= $0 ? "met" : "missed") } ?? "—"
            lines.append(cells(row, verdict))
        }
        for row in floor { lines.append(cells(row, "—")) }
        let overhead = floor.count == 2 ? max(0, floor[1].nanoseconds - floor[0].nanoseconds) : 0
        lines += [
            "",
            "¹ \(count(runs)) separate test runs of one packet each: the program rewrites the packet, and one run of "
                + "repeat=N would rerun it on the skb its first repeat rewrote. The other rows are one test run of "
                + "repeat=\(count(runs)). Syscall and skb setup are outside the kernel's measurement either way, but a separate "
                + "run also times the clock reads around the program, \(String(format: "%.0f", overhead)) ns here (the floor rows), "
                + "and the first touches of a fresh skb: the host-traffic row measures "
                + "\(String(format: "%.0f", hostBothWays.separate)) ns as separate runs against "
                + "\(String(format: "%.0f", hostBothWays.repeated)) ns repeated. So the ¹ rows are upper bounds by "
                + "\(String(format: "%.0f", overhead)) to \(String(format: "%.0f", max(overhead, hostBothWays.separate - hostBothWays.repeated))) ns.",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
