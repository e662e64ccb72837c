import CBPF
import Glibc
import XCTest

@testable import BPF

/// The slots of bp_ep_stats: never two endpoints in one, low (a scrape reads up to the
/// highest), a slot given back rests before it is given again, and an agent that starts over
/// pinned entries learns which slots they hold.
final class StatsSlotsTests: XCTestCase {
    func take(_ slots: StatsSlots, held: [UInt32] = []) throws -> UInt32 {
        try slots.take(map: BP_MAP_ENDPOINT_STATS) { held }
    }

    func testSlotsAreDistinctLowAndRestBeforeTheyAreGivenAgain() throws {
        let slots = StatsSlots(capacity: 8, rest: 2)
        let first = try (0..<4).map { _ in try take(slots) }
        XCTAssertEqual(first, [0, 1, 2, 3], "from the bottom up")
        slots.release(1)
        slots.release(2)
        XCTAssertEqual(try take(slots), 4, "two given back are resting still")
        slots.release(0)
        XCTAssertEqual(try take(slots), 1, "the oldest given back, once more than two rest")
        slots.release(1)
        slots.release(1)  // given back twice: rests once
        XCTAssertEqual(try (0..<3).map { _ in try take(slots) }, [2, 5, 6])
        XCTAssertEqual(try (0..<3).map { _ in try take(slots) }, [7, 0, 1], "up to the capacity, then the resting")
        XCTAssertThrowsError(try take(slots)) { error in
            guard case BPFError.mapOperation(let map, _, let err) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(map, BP_MAP_ENDPOINT_STATS)
            XCTAssertEqual(err, ENOSPC)
        }
    }

    func testManyGivenBackAreGivenAgainOldestFirst() throws {
        let slots = StatsSlots(capacity: 5000, rest: 0)
        let taken = try (0..<3000).map { _ in try take(slots) }
        taken.forEach { slots.release($0) }
        XCTAssertEqual(try (0..<3000).map { _ in try take(slots) }, taken, "in the order given back")
        XCTAssertEqual(try take(slots), 3000, "then the mark's")
    }

    func testASlotFlowsMayNameIsGivenAgainOnlyOnceTheyAreFlushed() throws {
        let slots = StatsSlots(capacity: 3, rest: 0)
        XCTAssertEqual(try (0..<3).map { _ in try take(slots) }, [0, 1, 2])
        slots.release(1, unsettled: true)
        XCTAssertThrowsError(try take(slots), "full: the slot given back waits for its flows' flush")
        slots.settle()
        XCTAssertEqual(try take(slots), 1)
    }

    func testSlotsBelowTheFirstAreNeverGiven() throws {
        let slots = StatsSlots(capacity: 4, first: 1, rest: 0)
        XCTAssertEqual(try take(slots, held: [0, 2]), 1, "slot 0 held by an entry of before is no one's")
        slots.release(0)
        XCTAssertEqual(try take(slots), 3, "slot 0 given back by nobody: not taken")
        XCTAssertThrowsError(try take(slots), "slot 0 is never given")
    }

    /// The writer's scrape knows the entries' slots without reading the entries
    /// (EndpointSlotIndex): learnt once, then kept as endpoints come, change and go, the same
    /// as a reader reads them from the map.
    func testTheWritersSlotIndexFollowsTheEntries() throws {
        try Sandbox.requireRoot()
        let f = try DataplaneFixture.make(for: self)
        let writer = try BridgeportMaps(pinRoot: f.pinRoot, writer: true)
        func entry(_ last: UInt8) -> bp_endpoint {
            bp_endpoint(ipv4: [10, 40, 0, last], mac: [2, 0x42, 10, 40, 0, last], networkID: 1, flags: 0)
        }
        try writer.setEndpoint(ifindex: 901, entry(11))
        XCTAssertEqual(try writer.allEndpointStats(), try f.maps.allEndpointStats(), "learnt from the map")
        try writer.setEndpoint(ifindex: 902, entry(12))
        try writer.setEndpoint(ifindex: 901, entry(13))  // written again: its slot kept
        try writer.setEndpoint(ifindex: 903, entry(14))
        try writer.removeEndpoint(ifindex: 901)
        let read = try f.maps.allEndpointStats()
        XCTAssertEqual(try writer.allEndpointStats(), read)
        // Slot by slot (every counter here is 0, so the sums alone would not tell them apart).
        let held = Dictionary(
            uniqueKeysWithValues: try f.maps.endpoints.entries().map { ($0.key, $0.value.stats_slot) })
        XCTAssertEqual(try writer.slotIndex?.slots { [:] }, held)
        // An entry changed behind the writer's back is seen after a sync of the slots.
        try f.maps.endpoints.delete(902)
        try writer.syncEndpointSlots()
        XCTAssertNil(try writer.allEndpointStats()[902])
        XCTAssertNotNil(read[902])
        XCTAssertNotNil(read[903])
        XCTAssertNil(read[901])
    }

    func testAnAgentThatStartsOverPinnedEntriesLearnsTheirSlots() throws {
        let slots = StatsSlots(capacity: 16, rest: 0)
        XCTAssertEqual(try take(slots, held: [0, 2, 5]), 1, "a free one below the highest held")
        XCTAssertEqual(try (0..<3).map { _ in try take(slots, held: []) }, [3, 4, 6], "learnt once")
    }
}
