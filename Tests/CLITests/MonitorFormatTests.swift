import API
import Model
import Testing

@testable import bridgeport

/// `bridgeport monitor`'s text lines: as `docker events` writes its own.
@Suite struct MonitorFormatTests {
    @Test func aDropLine() {
        var event = MonitorEvent(type: "drop", time: "2026-11-30T17:01:02.000000005Z")
        (event.container, event.network, event.interface) = ("web", "front", "veth1")
        (event.reason, event.direction, event.proto, event.length) = ("isolation", "egress", "tcp", 60)
        (event.source, event.sourcePort, event.destination, event.destinationPort) = ("10.0.0.2", 4000, "fd00::2", 80)
        #expect(
            Monitor.text(event)
                == "2026-11-30T17:01:02.000000005Z drop isolation web (network=front, interface=veth1, direction=egress, "
                + "proto=tcp, source=10.0.0.2:4000, destination=[fd00::2]:80, length=60)")
    }

    @Test func aDropOfTheHostAndARefusedCall() {
        var event = MonitorEvent(type: "drop", time: "t")
        (event.interface, event.reason, event.direction, event.proto) = ("eth0", "direct_access", "ingress", "arp")
        #expect(Monitor.text(event) == "t drop direct_access host (interface=eth0, direction=ingress, proto=arp)")
        var refused = MonitorEvent(type: "drop", time: "t")
        (refused.container, refused.reason, refused.refusedCall) = ("web", "not_allowed", true)
        (refused.destination, refused.destinationPort) = ("198.51.100.1", 8080)
        #expect(Monitor.text(refused) == "t drop not_allowed web (destination=198.51.100.1:8080, call=refused)")
    }

    @Test func aFlowLine() {
        var event = MonitorEvent(type: "flow", time: "t")
        (event.container, event.change, event.kind, event.proto, event.state) =
            ("web", "closed", "published", "tcp", "close")
        event.original = FlowView.Tuple(
            source: .v4(IPv4Address(1, 2, 3, 4)), sourcePort: 5, destination: .v4(IPv4Address(5, 6, 7, 8)),
            destinationPort: 80)
        (event.packets, event.bytes) = (10, 1234)
        #expect(
            Monitor.text(event)
                == "t flow closed web (kind=published, proto=tcp, original=1.2.3.4:5->5.6.7.8:80, state=close, "
                + "packets=10, bytes=1234)")
    }
}
